"""Measuring: label agreement, model evaluation on the held-out test split."""

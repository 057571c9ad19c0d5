"""Model building: the base encoder, fine-tuning and the classic baseline."""

"""cx-terms: clean, tag and roll up multilingual customer comments."""

__version__ = "0.1.0"

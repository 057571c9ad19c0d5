"""Text cleaning: normalisation, PII masking, language id, spaCy sentences and lemmas.

The public entry points are :func:`clean_text` and :func:`clean_batch` (see ``cleaner.py``).
"""

from pipeline.cleaning.cleaner import Cleaner, CleanResult, clean_batch, clean_text

__all__ = ["CleanResult", "Cleaner", "clean_batch", "clean_text"]

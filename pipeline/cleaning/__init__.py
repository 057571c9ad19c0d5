"""Text cleaning: normalisation, PII masking, language id, spaCy sentences and lemmas.

The entry point is :class:`Cleaner` (``cleaner.py``): ``Cleaner()(text)`` for one comment, ``.batch(texts)``
for many, with the params.yaml in use (or the sections a model bundle was trained with).
"""

from pipeline.cleaning.cleaner import Cleaner, CleanResult

__all__ = ["CleanResult", "Cleaner"]

"""spaCy components: lemmas without a tagger, for the blank pipelines (`nlp.py`).

spaCy ships no Bulgarian lemma tables (and `spacy-lookups-data` has none), so Bulgarian and English use
`simplemma` (spaCy's English lookup table turns "number" into "numb"). spaCy's own Russian lemmatizer needs
part-of-speech tags that a blank pipeline lacks: without them it keeps every ambiguous word as written
("звонка", "минут", "Коробку"), so Russian takes pymorphy3's most probable parse instead.
"""

from __future__ import annotations

import re
from functools import lru_cache

import simplemma
from spacy.language import Language
from spacy.tokens import Doc

# simplemma writes Bulgarian reflexive verbs with their particle: "казвам-(се)", "представям-(си)"
_REFLEXIVE = re.compile(r"-\((?:се|си)\)$")
# distinct Russian word forms whose lemma is remembered (a string each: a few MB)
PYMORPHY_CACHE = 100_000
# bump when any language's lemmas change: a baseline bundle records the version its TF-IDF was fitted on
# (version 1: spaCy's lookup tables, before these components; bundles from then carry no version)
LEMMAS_VERSION = 2


class SimplemmaLemmatizer:
    """simplemma's dictionary lemma of each lower-cased word (no context needed)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            lemma = simplemma.lemmatize(token.lower_, lang=self.lang) if token.is_alpha else token.text
            token.lemma_ = _REFLEXIVE.sub("", lemma)
        return doc


class PymorphyLemmatizer:
    """The normal form of pymorphy3's most probable parse of each lower-cased word."""

    def __init__(self) -> None:
        import pymorphy3

        parse = pymorphy3.MorphAnalyzer().parse
        self._lemma = lru_cache(maxsize=PYMORPHY_CACHE)(lambda word: parse(word)[0].normal_form)

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            token.lemma_ = self._lemma(token.lower_) if token.is_alpha else token.text
        return doc


@Language.factory("cx_simplemma_lemmatizer", default_config={"lang": "bg"})
def make_simplemma_lemmatizer(nlp: Language, name: str, lang: str) -> SimplemmaLemmatizer:
    return SimplemmaLemmatizer(lang)


@Language.factory("cx_pymorphy_lemmatizer")
def make_pymorphy_lemmatizer(nlp: Language, name: str) -> PymorphyLemmatizer:
    return PymorphyLemmatizer()

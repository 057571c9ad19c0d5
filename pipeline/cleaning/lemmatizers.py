"""spaCy components: lemmas without a tagger, for the blank pipelines (`nlp.py`).

spaCy ships no Bulgarian lemma tables (and `spacy-lookups-data` has none), so Bulgarian and English use
`simplemma` (spaCy's English lookup table turns "number" into "numb"). spaCy's own Russian lemmatizer needs
part-of-speech tags that a blank pipeline lacks: without them it keeps every ambiguous word as written
("звонка", "минут", "Коробку"), so Russian takes pymorphy3's most probable parse instead.
"""

from __future__ import annotations

from functools import lru_cache

import simplemma
from spacy.language import Language
from spacy.tokens import Doc


class SimplemmaLemmatizer:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            lemma = simplemma.lemmatize(token.lower_, lang=self.lang) if token.is_alpha else token.text
            token.lemma_ = lemma.removesuffix("-(се)")  # simplemma writes reflexive verbs "казвам-(се)"
        return doc


class PymorphyLemmatizer:
    def __init__(self) -> None:
        import pymorphy3

        self._parse = lru_cache(maxsize=200_000)(pymorphy3.MorphAnalyzer().parse)

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            token.lemma_ = self._parse(token.lower_)[0].normal_form if token.is_alpha else token.text
        return doc


@Language.factory("cx_simplemma_lemmatizer", default_config={"lang": "bg"})
def make_simplemma_lemmatizer(nlp: Language, name: str, lang: str) -> SimplemmaLemmatizer:
    return SimplemmaLemmatizer(lang)


@Language.factory("cx_pymorphy_lemmatizer")
def make_pymorphy_lemmatizer(nlp: Language, name: str) -> PymorphyLemmatizer:
    return PymorphyLemmatizer()

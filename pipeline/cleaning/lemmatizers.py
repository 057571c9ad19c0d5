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
# Bulgarian writes the definite article as a suffix: "изчакването", "операторката", "таксуването". simplemma
# knows the common nouns' articled forms; for a word it does not know, its suffix rules cut the wrong ending
# ("операторката" -> "операторкат"), so the article is taken off first: -ът/-ят, -(а|я)та, -(о|е)то, -ите.
_BG_ARTICLE = re.compile(r"(?<=\w{4})(?:[ъя]т|(?<=[ая])та|(?<=[ое])то|(?<=и)те)$")
# distinct Russian word forms whose lemma is remembered (a string each: a few MB)
PYMORPHY_CACHE = 100_000
# bump when any language's lemmas change: a baseline bundle records the version its TF-IDF was fitted on
# (version 1: spaCy's lookup tables, before these components; bundles from then carry no version)
# (version 3: the Bulgarian article is taken off words simplemma does not know)
LEMMAS_VERSION = 3


class SimplemmaLemmatizer:
    """simplemma's dictionary lemma of each lower-cased word (no context needed)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            token.lemma_ = self._lemma(token.lower_) if token.is_alpha else token.text
        return doc

    def _lemma(self, word: str) -> str:
        if self.lang == "bg" and not simplemma.is_known(word, lang="bg"):
            word = _BG_ARTICLE.sub("", word)
        return _REFLEXIVE.sub("", simplemma.lemmatize(word, lang=self.lang))


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

"""spaCy component: Bulgarian lemmas from `simplemma`.

spaCy ships no Bulgarian lemma tables (and `spacy-lookups-data` has none), so we wrap simplemma as a
registered factory. Russian and English use spaCy's own lemmatizer (pymorphy3 and lookup modes).
"""

from __future__ import annotations

import simplemma
from spacy.language import Language
from spacy.tokens import Doc


class SimplemmaLemmatizer:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            if token.is_alpha:
                token.lemma_ = simplemma.lemmatize(token.lower_, lang=self.lang)
            else:
                token.lemma_ = token.text
        return doc


@Language.factory("cx_simplemma_lemmatizer", default_config={"lang": "bg"})
def make_simplemma_lemmatizer(nlp: Language, name: str, lang: str) -> SimplemmaLemmatizer:
    return SimplemmaLemmatizer(lang)

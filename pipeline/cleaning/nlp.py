"""Per-language spaCy pipelines: blank tokenizer + sentencizer, and an optional lemmatizer.

Pretrained ru/bg pipelines are not installable offline, and we need only tokens, sentences and
lemmas, so blank pipelines are the right weight. Two pipelines per language are cached: with and
without lemmas, because lemmatisation (pymorphy3 especially) costs more than everything else.
"""

from __future__ import annotations

from functools import lru_cache

import spacy
from spacy.language import Language

from pipeline.cleaning import lemmatizers  # noqa: F401  (registers the lemmatizer factories)
from pipeline.cleaning.normalize import EMOJI
from pipeline.cleaning.pii import PLACEHOLDERS

# Text in a language we do not model is still split into sentences, with a neutral tokenizer.
FALLBACK_LANG = "xx"
# spaCy's defaults plus the ellipsis and the mixed marks customers end sentences with
SENTENCE_END = [".", "!", "?", "...", "..", "…", "?!", "!?", "!!!", "???", "!!", "??"]


def _keep_emoji_whole(nlp: Language) -> None:
    """A skin-tone or ZWJ emoji sequence is one token (the normaliser already put spaces around it)."""
    previous = nlp.tokenizer.token_match

    def token_match(text: str):
        return EMOJI.fullmatch(text) or (previous(text) if previous else None)

    nlp.tokenizer.token_match = token_match


def _add_lemmatizer(nlp: Language, lang: str) -> None:
    if lang == "ru":
        nlp.add_pipe("cx_pymorphy_lemmatizer")
    elif lang in {"bg", "en"}:
        nlp.add_pipe("cx_simplemma_lemmatizer", config={"lang": lang})


@lru_cache(maxsize=16)
def get_nlp(lang: str, lemmas: bool = False) -> Language:
    """A blank pipeline for `lang` (ru, bg, en; anything else gets the multi-language tokenizer)."""
    code = lang if lang in {"ru", "bg", "en"} else FALLBACK_LANG
    nlp = spacy.blank(code)
    for placeholder in PLACEHOLDERS.values():  # keep "<EMAIL>" one token, not "<", "EMAIL", ">"
        nlp.tokenizer.add_special_case(placeholder, [{"ORTH": placeholder}])
    _keep_emoji_whole(nlp)
    nlp.add_pipe("sentencizer", config={"punct_chars": SENTENCE_END})
    if lemmas:
        _add_lemmatizer(nlp, code)
    return nlp

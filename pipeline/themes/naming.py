"""Readable theme names: class-based TF-IDF (BERTopic's c-TF-IDF) over lemmas, per language.

Each theme of every cell is one class, so a word common to the whole cell ("operator" in every call-centre
theme) scores lower than the word that sets one theme apart ("callback"). Stop words go (spaCy's lists
per language); a key phrase is a lemma or two neighbouring content lemmas of one sentence. Customers name one
problem with many words ("rude", "snapped", "condescending"), so the word for it may be said only once in a
theme: the best c-TF-IDF candidates are then put in order of nearness to the theme's centre
(`themes.name_candidates`), as BERTopic's KeyBERT-inspired representation does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from itertools import pairwise

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

# negation particles name no theme; spaCy's lists lack some ("не" in Bulgarian, "ни" in Russian)
NEGATIONS = frozenset({"не", "ни", "not", "no"})

# spaCy's stop lists are made for general text and hold words that name a customer's problem: numbers and
# counts ("charged two times", "два пъти"), time ("hours", "tomorrow", "долго"), "call back", evaluative
# words ("лош", "хуже"). Each list was read through once, by hand, and its numerals, time words, nouns,
# content verbs and evaluative words kept here as content; pronouns, particles, conjunctions and
# prepositions ("another", "друг", "другой" among them) stay stop words.
# fmt: off
CONTENT_WORDS = {
    "en": frozenset({"call", "back", "again", "two", "three", "four", "five", "six", "eight", "nine",
        "ten", "eleven", "twelve", "fifteen", "twenty", "forty", "fifty", "sixty", "hundred", "first",
        "third", "last", "amount", "bottom", "empty", "front", "full", "top", "side", "part", "name",
        "move", "show", "serious"}),
    "ru": frozenset({"долго", "давно", "недавно", "рано", "ранее", "раньше", "позже", "скоро",
        "часто", "хорошо", "хуже", "дополнительно", "далеко", "близко", "низко", "назад", "снова", "опять",
        "сразу"}),
    "bg": frozenset({"два", "двама", "две", "три", "пъти", "веднъж", "хиляди", "първи", "първо", "първата",
        "втори", "трета", "последен", "последно", "време", "година", "години", "годишен", "ден", "дни",
        "месец", "часа", "днес", "утре", "скоро", "наскоро", "често", "ужасно", "лош", "добър", "добра",
        "добро", "добре", "евтин", "нов", "нова", "нови", "новина", "сериозно", "мокър", "мек", "кратък",
        "лесен", "лесно", "далеч", "глас", "екип", "живот", "смях", "юмрук", "съжалявам", "харесва",
        "харесали", "търси", "забавям", "летя", "летим", "летиш", "опитах", "опитвам", "опитва", "път",
        "обратно", "отново", "напоследък"}),
}
# fmt: on


def key_phrases(sentences: Iterable[list[str]]) -> list[str]:
    """Unigrams and bigrams of content lemmas, sentence by sentence (a phrase never spans two)."""
    phrases: list[str] = []
    for lemmas in sentences:
        phrases += lemmas
        phrases += [f"{a} {b}" for a, b in pairwise(lemmas)]
    return phrases


def top_phrases(
    classes: dict[Hashable, list[str]],
    top: int,
    rerank: Callable[[dict[Hashable, list[str]]], dict[Hashable, list[str]]] | None = None,
    candidates: int = 0,
) -> dict[Hashable, list[str]]:
    """Up to `top` key phrases per class. With `rerank` and `candidates` > 0, each class's best
    `candidates` phrases by c-TF-IDF (said once or more) are put in the order `rerank` gives them, all
    classes in one call (BERTopic's KeyBERT-inspired representation: nearest the theme's centre first), so a
    word one comment uses for what every comment means ("rude") can name the theme; else a phrase said once
    names nothing."""
    keys = [k for k, phrases in classes.items() if phrases]
    if not keys:
        return {k: [] for k in classes}
    vectorizer = CountVectorizer(analyzer=lambda phrases: phrases, lowercase=False)
    counts = vectorizer.fit_transform([classes[k] for k in keys]).toarray().astype(float)
    vocabulary = vectorizer.get_feature_names_out()
    tf = counts / counts.sum(axis=1, keepdims=True)
    idf = np.log1p(counts.sum() / len(keys) / counts.sum(axis=0))
    scores = tf * idf
    names: dict[Hashable, list[str]] = {k: [] for k in classes}
    pools: dict[Hashable, list[str]] = {}
    for row, key in enumerate(keys):
        ranked = [vocabulary[col] for col in np.argsort(-scores[row], kind="stable") if counts[row, col] > 0]
        if rerank is not None and candidates > 0:  # a pair of words said once is chance, not a phrase
            pool = [p for p in ranked if " " not in p or counts[row, vectorizer.vocabulary_[p]] >= 2]
            pools[key] = pool[:candidates]
            continue
        said_twice = [counts[row, vectorizer.vocabulary_[phrase]] >= 2 for phrase in ranked]
        cut = said_twice.index(False, 1) if False in said_twice[1:] else len(ranked)
        names[key] = _distinct(ranked[:cut], top)  # from the first phrase said once on (but the best)
    if pools:
        names |= {key: _distinct(ordered, top) for key, ordered in rerank(pools).items()}
    return names


def _distinct(phrases: list[str], top: int) -> list[str]:
    """The first `top` phrases, skipping one that holds or is held by a phrase already chosen."""
    chosen: list[str] = []
    for phrase in phrases:
        if any(phrase in c.split() or c in phrase.split() for c in chosen):
            continue
        chosen.append(phrase)
        if len(chosen) == top:
            break
    return chosen


def content_lemmas(texts: list[str], langs: list[str]) -> list[list[str]]:
    """Lower-case lemmas of the words of each text that are not stop words (spaCy's list for its language
    less `CONTENT_WORDS`, checked on the word, its norm - "wo" of "won't" is "will" - and its lemma) or
    negations; a language other than ru/bg/en is lemmatised as none."""
    from pipeline.cleaning.nlp import get_nlp

    out: list[list[str]] = [[] for _ in texts]
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        by_lang.setdefault(lang, []).append(i)
    for lang, rows in by_lang.items():
        if lang not in {"ru", "bg", "en"}:
            continue
        nlp = get_nlp(lang, lemmas=True)
        stop = (nlp.Defaults.stop_words - CONTENT_WORDS[lang]) | NEGATIONS
        for i, doc in zip(rows, nlp.pipe(texts[i] for i in rows), strict=True):
            out[i] = [
                t.lemma_.lower()
                for t in doc
                if t.is_alpha and len(t.text) > 1 and stop.isdisjoint((t.lower_, t.norm_, t.lemma_.lower()))
            ]
    return out

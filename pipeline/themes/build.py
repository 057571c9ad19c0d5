"""Themes per touchpoint x TERMS and x Force cell, from a scored table.

A comment joins the cell of each label it carries (negative and positive comments; neutral ones, mostly
questions, are left out). Inside a cell it is read through its sentences that carry the cell's label (all
its sentences when none does), so "fast delivery, but the box was crushed" joins `delivery x risk` by its
second sentence. Its vector is the mean of those sentences' vectors; the cell's comments are clustered
(`cluster`), each theme named by c-TF-IDF (`naming`), counted, given a negative share with a Wilson interval,
an NPS impact where NPS scores exist, its quotes nearest the centre and, by month, its trend.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.labels import parse_list
from pipeline.rollup.tables import DIMENSIONS, nps, nps_counts, wilson
from pipeline.themes.cluster import cluster
from pipeline.themes.naming import key_phrases, top_phrases
from pipeline.themes.vectors import center_by_language, language_means, normalise

POLAR = ("negative", "positive")
THEME_KEYS = ["dimension", "touchpoint", "label", "theme"]


@dataclass
class ThemeOptions:
    """The defaults are params.yaml's `themes` section (chosen on the check set's dev half), so a library
    caller gets the names `cx themes` gives."""

    ward_threshold: float = 2.0
    min_comments: int = 6  # a cell with fewer comments is one theme
    name_terms: int = 4
    # the best c-TF-IDF phrases, put in order of nearness to the theme's centre (0: c-TF-IDF order)
    name_candidates: int = 20
    quotes: int = 3
    min_n: int = 10  # below this many comments a theme is marked uncertain
    alpha: float = 0.05
    seed: int = 13
    by_month: bool = False


def sentence_table(scored: pd.DataFrame, text_col: str = "text") -> pd.DataFrame:
    """One row per sentence: its comment (row position), text, language and own labels; a comment scored
    without sentence labels is one sentence with the comment's labels."""
    rows = []
    for pos, (raw, text, lang, terms, forces) in enumerate(
        zip(
            scored.get("sentences", pd.Series([None] * len(scored))),
            scored[text_col],
            scored["lang"],
            scored["terms"],
            scored["forces"],
            strict=True,
        )
    ):
        parts = json.loads(raw) if isinstance(raw, str) and raw.startswith("[") else []
        if not parts:
            parts = [{"text": text, "terms": terms, "forces": forces}]
        rows += [
            {"comment": pos, "text": str(p["text"]), "lang": lang, "terms": p["terms"], "forces": p["forces"]}
            for p in parts
        ]
    return pd.DataFrame(rows, columns=["comment", "text", "lang", "terms", "forces"])


def memberships(prepared: pd.DataFrame, sentences: pd.DataFrame) -> pd.DataFrame:
    """(dimension, touchpoint, label, comment, its sentence rows in that cell) for every polar comment."""
    by_comment = sentences.groupby("comment").groups
    rows = []
    for dimension, (column, _, _) in DIMENSIONS.items():
        sentence_labels = sentences[column].map(lambda v: set(parse_list(v)))
        for pos in np.flatnonzero(prepared["sentiment"].isin(POLAR).to_numpy()):
            own = by_comment.get(pos, [])
            for label in parse_list(prepared[column].iat[pos]):
                chosen = [s for s in own if label in sentence_labels.at[s]] or list(own)
                rows.append((dimension, prepared["touchpoint"].iat[pos], label, pos, chosen))
    return pd.DataFrame(rows, columns=["dimension", "touchpoint", "label", "comment", "sentences"])


def find_themes(
    prepared: pd.DataFrame,
    sentences: pd.DataFrame,
    embed: Callable[[list[str]], np.ndarray],
    lemmatize: Callable[[list[str], list[str]], list[list[str]]],
    opts: ThemeOptions,
    score_kind: str | None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, pd.DataFrame]:
    """The theme tables (`themes`, `assignments`, and by month `theme_months`, `emerging`)."""
    members = memberships(prepared, sentences)
    used = sorted({s for chosen in members["sentences"] for s in chosen})
    progress(f"{len(members)} comment-cell pairs, {len(used)} sentences to embed")
    vectors = np.zeros((len(sentences), 0), dtype=np.float32)
    means: dict[str, np.ndarray] = {}
    if used:
        raw, langs = embed(sentences["text"].iloc[used].tolist()), sentences["lang"].iloc[used].to_numpy()
        means = language_means(raw, langs)
        vectors = np.zeros((len(sentences), raw.shape[1]), dtype=np.float32)
        vectors[used] = center_by_language(raw, langs, means)
    units = (
        normalise(np.stack([vectors[c].mean(axis=0) for c in members["sentences"]]))
        if len(members)
        else vectors
    )
    members["theme"] = 0
    for _, rows in members.groupby(["dimension", "touchpoint", "label"]).groups.items():
        rows = np.asarray(rows)
        if len(rows) >= opts.min_comments:
            members.loc[rows, "theme"] = cluster(units[rows], opts.ward_threshold)
    progress(
        f"{members.groupby(THEME_KEYS).ngroups} themes in {members.groupby(THEME_KEYS[:3]).ngroups} cells"
    )
    nearest = _nearest_phrases(members, vectors, sentences["lang"].to_numpy(), embed, means)
    names = _names(members, sentences, used, lemmatize, opts, nearest)
    themes = _theme_table(members, units, prepared, sentences, names, opts, score_kind)
    assignments = members.assign(id=prepared["id"].to_numpy()[members["comment"]])[["id", *THEME_KEYS]]
    tables = {"themes": themes, "assignments": assignments}
    if opts.by_month:
        tables |= _trends(members, prepared, themes, opts.alpha)
    return tables


def _names(members, sentences, used, lemmatize, opts, rerank) -> dict[tuple, dict[str, list[str]]]:
    """{theme key: {lang: key phrases}}: one c-TF-IDF per dimension and language over all its themes
    (`used`: the sentence rows the members read), its candidates ordered by `rerank`."""
    texts, langs = sentences["text"].iloc[used].tolist(), sentences["lang"].iloc[used].tolist()
    lemmas = dict(zip(used, lemmatize(texts, langs), strict=True))
    lang_of = sentences["lang"].to_numpy()
    names: dict[tuple, dict[str, list[str]]] = {}
    for _, cells in members.groupby("dimension"):
        for lang in sorted(set(langs)):
            classes = {
                key: key_phrases(
                    lemmas[s] for chosen in rows["sentences"] for s in chosen if lang_of[s] == lang
                )
                for key, rows in cells.groupby(THEME_KEYS)
            }
            ranked = top_phrases(
                classes, opts.name_terms, lambda pools, lang=lang: rerank(pools, lang), opts.name_candidates
            )
            for key, phrases in ranked.items():
                if phrases:
                    names.setdefault(key, {})[lang] = phrases
    return names


def _nearest_phrases(members, vectors, lang_of, embed, means):
    """rerank({theme key: phrases}, lang): each theme's phrases nearest first to its centre in that language
    (the mean of its sentences' vectors); every distinct phrase is embedded once, as sentences are, with the
    language mean removed."""
    centres = {}
    for key, rows in members.groupby(THEME_KEYS):
        chosen = [s for sentences in rows["sentences"] for s in sentences]
        for lang in {lang_of[s] for s in chosen}:
            in_lang = [s for s in chosen if lang_of[s] == lang]
            centres[key, lang] = normalise(vectors[in_lang].mean(axis=0)[None])[0]

    def rerank(pools: dict[tuple, list[str]], lang: str) -> dict[tuple, list[str]]:
        distinct = sorted({p for phrases in pools.values() for p in phrases})
        if not distinct:
            return pools
        found = center_by_language(embed(distinct), np.full(len(distinct), lang), means)
        row = {phrase: i for i, phrase in enumerate(distinct)}
        out = {}
        for key, phrases in pools.items():
            near = found[[row[p] for p in phrases]] @ centres[key, lang]
            out[key] = [phrases[i] for i in np.argsort(-near, kind="stable")]
        return out

    return rerank


def display_name(phrases: list[list[str]], total: int) -> str:
    """`total` key phrases shared out over the languages in turn (most-spoken first), grouped by language:
    "hold music · phone line / изчакване / ожидание" - every reader of a ru/bg/en team finds theirs."""
    quota = [0] * len(phrases)
    for i in range(min(total, sum(map(len, phrases)))):
        while quota[i % len(quota)] >= len(phrases[i % len(quota)]):
            i += 1
        quota[i % len(quota)] += 1
    return " / ".join(" · ".join(p[:q]) for p, q in zip(phrases, quota, strict=True) if q)


def _nps_of(scores: np.ndarray) -> float:
    return nps(*nps_counts(scores))[0]


def _theme_table(members, units, prepared, sentences, names, opts, score_kind) -> pd.DataFrame:
    sentiment = prepared["sentiment"].to_numpy()
    scores = prepared["score"].to_numpy(dtype=float)
    overall = _nps_of(scores) if score_kind == "nps" else float("nan")
    cell_n = members.groupby(THEME_KEYS[:3])["comment"].nunique()
    rows = []
    for key, group in members.groupby(THEME_KEYS):
        comments = group["comment"].to_numpy()
        negative = int((sentiment[comments] == "negative").sum())
        low, high = wilson(negative, len(comments))
        impact = float("nan")
        if score_kind == "nps":
            rest = np.ones(len(prepared), dtype=bool)
            rest[comments] = False
            impact = overall - _nps_of(scores[rest])
        centre = normalise(units[group.index].mean(axis=0, keepdims=True))[0]
        nearest = group.index[np.argsort(-(units[group.index] @ centre), kind="stable")[: opts.quotes]]
        quotes = [
            {
                "id": str(prepared["id"].iat[members.at[i, "comment"]]),
                "text": " ".join(sentences["text"].iat[s] for s in members.at[i, "sentences"]),
                "sentiment": str(sentiment[members.at[i, "comment"]]),
            }
            for i in nearest
        ]
        by_lang = names.get(key, {})
        spoken = sentences["lang"].iloc[[s for c in group["sentences"] for s in c]].value_counts()
        name = display_name([by_lang[lang] for lang in spoken.index if lang in by_lang], opts.name_terms)
        rows.append(
            {
                **dict(zip(THEME_KEYS, key, strict=True)),
                "name": name or "(no key phrase)",
                "names": json.dumps(by_lang, ensure_ascii=False),
                "n": len(comments),
                "cell_n": int(cell_n[key[:3]]),
                "share": len(comments) / int(cell_n[key[:3]]),
                "negative_share": negative / len(comments),
                "negative_low": low,
                "negative_high": high,
                "nps": _nps_of(scores[comments]) if score_kind == "nps" else float("nan"),
                "nps_impact": impact,
                "uncertain": len(comments) < opts.min_n,
                "quotes": json.dumps(quotes, ensure_ascii=False),
            }
        )
    return pd.DataFrame(rows)


def _trends(members, prepared, themes, alpha) -> dict[str, pd.DataFrame]:
    """Each theme's share of the month's comments, month by month, and the themes whose share in the last
    month rose against the month before beyond chance (one-sided two-proportion z-test, Benjamini-Hochberg
    across all themes)."""
    from scipy.stats import false_discovery_control, norm

    month = prepared["month"].to_numpy()
    totals = pd.Series(month).value_counts()
    counts = (
        members.assign(month=month[members["comment"]])
        .groupby([*THEME_KEYS, "month"])["comment"]
        .nunique()
        .rename("n")
        .reset_index()
    )
    counts["month_total"] = counts["month"].map(totals).astype(int)
    counts["share"] = counts["n"] / counts["month_total"]
    known = sorted(m for m in totals.index if m != "unknown")
    emerging = pd.DataFrame(
        columns=[
            *THEME_KEYS,
            "name",
            "month",
            "previous",
            "n",
            "share",
            "previous_n",
            "previous_share",
            "p",
            "q",
            "emerging",
        ]
    )
    if len(known) >= 2:
        last, previous = known[-1], known[-2]
        n1, n0 = int(totals[last]), int(totals[previous])
        wide = counts.pivot_table(index=THEME_KEYS, columns="month", values="n", fill_value=0)
        x1 = wide.get(last, pd.Series(0, index=wide.index)).to_numpy(dtype=float)
        x0 = wide.get(previous, pd.Series(0, index=wide.index)).to_numpy(dtype=float)
        pooled = (x1 + x0) / (n1 + n0)
        se = np.sqrt(np.maximum(pooled * (1 - pooled) * (1 / n1 + 1 / n0), 1e-12))
        p = norm.sf((x1 / n1 - x0 / n0) / se)
        q = false_discovery_control(p) if len(p) else p
        named = themes.set_index(THEME_KEYS)["name"]
        emerging = wide.index.to_frame(index=False).assign(
            name=[named.get(k, "") for k in wide.index],
            month=last,
            previous=previous,
            n=x1.astype(int),
            share=x1 / n1,
            previous_n=x0.astype(int),
            previous_share=x0 / n0,
            p=p,
            q=q,
        )
        emerging["emerging"] = (emerging["q"] <= alpha) & (emerging["share"] > emerging["previous_share"])
        emerging = emerging.sort_values(["emerging", "q"], ascending=[False, True], kind="stable")
    return {"theme_months": counts, "emerging": emerging.reset_index(drop=True)}

"""The public sets as training and test rows: sentiment from each set's own labels, distant TERMS/Forces
where the set's annotations map onto them (`data/real/distant.yaml`), and a frozen partition per set.

Every row of a set falls in one of train/dev/test: near-duplicate groups (retweets, copied ads) stay
together; a group holding one of our labelled rows follows that row's split; the rest is placed by a
stable hash of the group, so the partition never drifts and the held-out part is never trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline.dataset.corpus.split import near_duplicate_groups
from pipeline.dataset.realtext.labels import record_id
from pipeline.dataset.realtext.sources import SOURCES, Source, grouping_text, read_source
from pipeline.labels import SENTIMENTS
from pipeline.settings import Real

ASPECTS = ("service", "price", "food", "interior")


def own_sentiment(frame: pd.DataFrame, source: Source) -> pd.Series:
    """The set's label as ours; None where it has no single polarity (mixed restaurant reviews)."""
    if source.name == "semeval_absa_en":

        def polarity(opinions: str) -> str | None:
            values = {o.rsplit(":", 1)[-1] for o in opinions.split(";") if o.strip()}
            if not values:
                return "neutral"
            return values.pop() if len(values) == 1 and values <= set(SENTIMENTS) else None

        return frame["opinions"].map(polarity)
    column = "whole" if source.name == "sentirueval_restaurants_ru" else "sentiment"
    return frame[column].where(frame[column].isin(SENTIMENTS), None)


def load_distant_rules(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def _rule_keys(row, spec: dict[str, Any]) -> list[str]:
    """The rule keys that apply to one row of a set, in the row's own order."""
    table = spec["rules"]
    if spec["column"] == "aspects":
        return [a for a in ASPECTS if a in table and getattr(row, a, "absence") not in ("", "absence")]
    if spec["column"] == "opinions":
        keys = []
        for opinion in str(row.opinions).split(";"):
            category = opinion.rsplit(":", 1)[0]
            key = next((k for k in table if k in category), None) if category else None
            if key:
                keys.append(key)
        return keys
    value = getattr(row, spec["column"])
    return [value] if value in table else []


def distant_labels(frame: pd.DataFrame, source: Source, rules: dict[str, Any]) -> pd.DataFrame:
    """Columns terms/forces: lists from the set's annotations, None where no rule applies; plus `rules`,
    the keys that fired."""
    spec = rules.get(source.name)
    terms: list[list[str] | None] = [None] * len(frame)
    forces: list[list[str] | None] = [None] * len(frame)
    fired: list[list[str]] = [[] for _ in range(len(frame))]
    if spec:
        for i, row in enumerate(frame.itertuples(index=False)):
            fired[i] = _rule_keys(row, spec)
            hits = [spec["rules"][k] for k in fired[i]]
            terms_hits = [h for h in hits if h.get("terms")]
            if terms_hits:
                terms[i] = list(dict.fromkeys(t for h in terms_hits for t in h["terms"]))[:3]
            if hits and all(h.get("forces") for h in hits):
                forces[i] = list(dict.fromkeys(f for h in hits for f in h["forces"]))[:2]
    return pd.DataFrame({"terms": terms, "forces": forces, "rules": fired}, index=frame.index)


def distant_precision(cfg: Real, labelled: pd.DataFrame) -> pd.DataFrame:
    """Per rule: how often its first TERMS / Force label is among our hand labels of the same rows
    (`labelled`: rid, terms, forces), and how often it is our primary label."""
    rules = load_distant_rules(cfg.distant_rules)
    hand = labelled.set_index("rid")
    rows = []
    for name, spec in rules.items():
        frame = read_source(SOURCES[name], cfg.external_dir)
        if frame is None:
            continue
        frame["rid"] = [record_id(name, i) for i in frame["id"]]
        frame = frame[frame["rid"].isin(hand.index)]
        fired = distant_labels(frame, SOURCES[name], rules)["rules"]
        for key, rule in spec["rules"].items():
            hit = [rid for rid, keys in zip(frame["rid"], fired, strict=True) if key in keys]
            for head in ("terms", "forces"):
                if not rule.get(head) or not hit:
                    continue
                label = rule[head][0]
                ours = hand.loc[hit, head]
                rows.append(
                    {
                        "source": name,
                        "rule": key,
                        "head": head,
                        "label": label,
                        "n": len(hit),
                        "precision": float(ours.map(lambda ls, lb=label: lb in ls).mean()),
                        "primary_match": float(
                            ours.map(lambda ls, lb=label: len(ls) > 0 and ls[0] == lb).mean()
                        ),
                    }
                )
    return pd.DataFrame(rows, columns=["source", "rule", "head", "label", "n", "precision", "primary_match"])


def usable_rules(cfg: Real, precision: pd.DataFrame) -> dict[str, Any]:
    """The distant rules with each head kept only where its measured precision reaches the minimum."""
    rules = load_distant_rules(cfg.distant_rules)
    good = {
        (r.source, r.rule, r.head)
        for r in precision.itertuples(index=False)
        if r.precision >= cfg.distant_min_precision
    }
    for name, spec in rules.items():
        spec["rules"] = {
            key: {head: v for head, v in rule.items() if (name, key, head) in good}
            for key, rule in spec["rules"].items()
        }
    return rules


def _stable_unit(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def partition(
    frame: pd.DataFrame, labelled_split: dict[str, str], fractions: dict[str, float], threshold: float
) -> pd.Series:
    """train/dev/test per row of one set (see module doc)."""
    groups = near_duplicate_groups([grouping_text(t) for t in frame["text"]], threshold)
    rids = frame["rid"].tolist()
    by_group: dict[int, str] = {}
    for rid, group in zip(rids, groups, strict=True):
        if rid in labelled_split:
            by_group.setdefault(group, labelled_split[rid])
    first_id: dict[int, str] = {}
    for rid, group in zip(rids, groups, strict=True):
        first_id[group] = min(first_id.get(group, rid), rid)
    cut_test = fractions["test"]
    cut_dev = cut_test + fractions["dev"]

    def place(group: int) -> str:
        if group in by_group:
            return by_group[group]
        u = _stable_unit(first_id[group])
        return "test" if u < cut_test else "dev" if u < cut_dev else "train"

    return pd.Series([place(g) for g in groups], index=frame.index)


@lru_cache(maxsize=16)
def _partitioned(external_dir: str, name: str, splits_key: tuple, fractions_key: tuple, threshold: float):
    source = SOURCES[name]
    frame = read_source(source, external_dir)
    if frame is None:
        return None
    frame = frame[frame["text"].str.strip() != ""].reset_index(drop=True)
    frame["rid"] = [record_id(name, i) for i in frame["id"]]
    frame["split"] = partition(frame, dict(splits_key), dict(fractions_key), threshold)
    frame["sentiment"] = own_sentiment(frame, source)
    return frame


def public_rows(
    cfg: Real,
    labelled_split: dict[str, str],
    split: str,
    rows_per_set: int,
    seed: int,
    hand_labels: pd.DataFrame | None,
    log: Callable[[str], None] = print,
    blocks: int = 1,
) -> pd.DataFrame:
    """Up to `rows_per_set` x `blocks` rows of `split` from every set, minus our own labelled rows (those
    come with full labels elsewhere): id, source, lang, text, sentiment, terms, forces (None = unlabelled
    head), block. Training shows block e in epoch e only, so each epoch costs `rows_per_set` rows per set
    while the run as a whole sees `blocks` times as many different real comments.
    Distant TERMS/Forces are added when `hand_labels` (our labels, to measure the rules on) are given."""
    rules = usable_rules(cfg, distant_precision(cfg, hand_labels)) if hand_labels is not None else {}
    parts = []
    for name in SOURCES:
        frame = _partitioned(
            str(cfg.external_dir),
            name,
            tuple(sorted(labelled_split.items())),
            tuple(sorted(cfg.public_fractions.items())),
            float(cfg.near_duplicate_cosine),
        )
        if frame is None:
            log(f"skipping public set {name}: {Path(cfg.external_dir) / SOURCES[name].file} not found")
            continue
        rows = frame[(frame["split"] == split) & ~frame["rid"].isin(labelled_split)]
        rows = rows[rows["sentiment"].notna()]
        rows = rows.sample(n=min(rows_per_set * blocks, len(rows)), random_state=seed)
        labels = distant_labels(rows, SOURCES[name], rules)
        parts.append(
            pd.DataFrame(
                {
                    "id": rows["rid"],
                    "source": name,
                    "lang": SOURCES[name].lang,
                    "text": rows["text"],
                    "sentiment": rows["sentiment"],
                    "terms": labels["terms"],
                    "forces": labels["forces"],
                    "block": [i % blocks for i in range(len(rows))],
                }
            )
        )
    columns = ["id", "source", "lang", "text", "sentiment", "terms", "forces", "block"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

"""Our own labels on real public comments: ids + labels in `data/real/`, texts resolved in place.

`data/real/labels/*.jsonl` holds the first pass over the whole annotation sample, `data/real/second_pass/`
the blind second pass over a stratified 16% (the real-text test split). Each record is
`{source, id, sentiment, terms, forces, annotator}`; the text is looked up in the source file at run
time, so the repository never holds a public text. Records whose source file is missing are skipped
with a message naming the file and where to get it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.dataset.realtext.sources import SOURCES, read_source
from pipeline.labels import FORCES, SENTIMENTS, TERMS, primary


class RealLabel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str
    id: str
    sentiment: str
    terms: list[str]
    forces: list[str]
    annotator: str = ""

    def problems(self) -> list[str]:
        out = []
        if self.source not in SOURCES:
            out.append(f"unknown source {self.source!r}")
        if self.sentiment not in SENTIMENTS:
            out.append(f"sentiment {self.sentiment!r} not in {SENTIMENTS}")
        for head, allowed, most in (("terms", TERMS, 3), ("forces", FORCES, 2)):
            values = getattr(self, head)
            if not set(values) <= set(allowed) or len(values) > most or len(set(values)) != len(values):
                out.append(f"{head} {values!r}: at most {most} distinct of {allowed}")
        return out


def record_id(source: str, ident: str) -> str:
    return f"{source}:{ident}"


def read_labels(folder: str | Path) -> pd.DataFrame:
    """All label records of a JSONL file or a folder of them (none when the folder does not exist); a bad
    record raises with `file:line` and the reason."""
    rows, problems = [], []
    folder = Path(folder)
    files = [folder] if folder.is_file() else sorted(folder.glob("*.jsonl"))
    for path in files:
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                raw["id"] = str(raw.get("id"))
                label = RealLabel.model_validate(raw)
            except (json.JSONDecodeError, ValidationError) as exc:
                problems.append(f"{path}:{line_no}: {exc}")
                continue
            problems += [f"{path}:{line_no} [{label.id}]: {p}" for p in label.problems()]
            rows.append(label.model_dump())
    if problems:
        raise ValueError(f"{len(problems)} bad label record(s):\n" + "\n".join(problems[:20]))
    frame = pd.DataFrame(rows, columns=list(RealLabel.model_fields))
    frame["rid"] = [record_id(s, i) for s, i in zip(frame["source"], frame["id"], strict=True)]
    duplicated = frame["rid"].duplicated()
    if duplicated.any():
        raise ValueError(f"{folder}: labelled twice: {', '.join(frame.loc[duplicated, 'rid'].head(5))}")
    return frame


def attach_texts(
    labels: pd.DataFrame, external_dir: str | Path, log: Callable[[str], None] = print
) -> pd.DataFrame:
    """Labels joined with their texts and the source's language, industry and channel."""
    parts = []
    for name, group in labels.groupby("source"):
        source = SOURCES[name]
        texts = read_source(source, external_dir)
        if texts is None:
            log(
                f"skipping {len(group)} labelled {name} rows: {Path(external_dir) / source.file} not found "
                f"(source: {source.origin}; see data/real/README.md)"
            )
            continue
        merged = group.merge(texts[["id", "text"]].drop_duplicates("id"), on="id", how="left")
        lost = merged["text"].isna() | (merged["text"].str.strip() == "")
        if lost.any():
            log(f"{name}: {int(lost.sum())} labelled ids not in {source.file} (another version of the file?)")
        merged = merged[~lost]
        merged["lang"], merged["industry"], merged["channel"] = source.lang, source.industry, source.channel
        parts.append(merged)
    columns = [*labels.columns, "text", "lang", "industry", "channel"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def consensus(first: pd.DataFrame, second: pd.DataFrame, adjudicated: pd.DataFrame | None) -> pd.DataFrame:
    """The two-pass consensus per head for the rows both passes labelled (rid + sentiment/terms/forces).

    A head agrees when the passes give the same sentiment, or the same primary TERMS / Force (the first
    pass's full list is kept then). Where they disagree the adjudicator's label is used; without one the
    head is None for that row (left out of the test score rather than guessed).
    """
    both = first.merge(second, on="rid", suffixes=("", "_2"))
    adjudged = adjudicated.set_index("rid") if adjudicated is not None and len(adjudicated) else None
    rows = []
    for row in both.itertuples(index=False):
        fallback = adjudged.loc[row.rid] if adjudged is not None and row.rid in adjudged.index else None
        out = {"rid": row.rid}
        out["sentiment"] = (
            row.sentiment
            if row.sentiment == row.sentiment_2
            else (fallback["sentiment"] if fallback is not None else None)
        )
        for head in ("terms", "forces"):
            mine, theirs = getattr(row, head), getattr(row, f"{head}_2")
            agreed = primary(mine) == primary(theirs)
            out[head] = list(mine) if agreed else (list(fallback[head]) if fallback is not None else None)
        rows.append(out)
    return pd.DataFrame(rows, columns=["rid", "sentiment", "terms", "forces"])


def read_adjudicated(path: str | Path) -> pd.DataFrame | None:
    return read_labels(path) if Path(path).is_file() else None

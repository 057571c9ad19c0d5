"""The corpus data contract: a pydantic schema per record plus the cross-row checks.

`validate_corpus` reports every bad row with where it is (file and line) and why: unknown label or
vocabulary value, empty text, a language the detector confidently disagrees with, duplicate id,
duplicate text. Training code only ever sees rows that passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from pipeline.cleaning.cleaner import Cleaner
from pipeline.labels import FORCES, LANGS, SENTIMENTS, TERMS, parse_list
from pipeline.settings import Data
from pipeline.tables import FORMATS, iter_table

LIST_FIELDS = ("terms", "forces")
COLUMNS = ("id", "lang", "industry", "touchpoint", "channel", "text", "sentiment", "terms", "forces")


class CommentRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str
    lang: Literal[LANGS]  # type: ignore[valid-type]
    industry: str
    touchpoint: str
    channel: str
    text: str
    sentiment: Literal[SENTIMENTS]  # type: ignore[valid-type]
    terms: list[Literal[TERMS]]  # type: ignore[valid-type]
    forces: list[Literal[FORCES]]  # type: ignore[valid-type]

    @field_validator("id", "text")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("industry", "touchpoint", "channel")
    @classmethod
    def _in_vocabulary(cls, value: str, info: ValidationInfo) -> str:
        allowed = (info.context or {}).get(info.field_name)
        if allowed is not None and value not in allowed:
            raise ValueError(f"unknown {info.field_name} {value!r}; allowed: {', '.join(allowed)}")
        return value

    @field_validator("terms", "forces")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a label is listed twice")
        return value


@dataclass(frozen=True)
class Problem:
    source: str
    line: int
    id: str | None
    reason: str

    def __str__(self) -> str:
        ident = f" [{self.id}]" if self.id else ""
        return f"{self.source}:{self.line}{ident}: {self.reason}"


def corpus_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FORMATS)
        if not files:
            raise FileNotFoundError(f"{path}: no {', '.join(sorted(FORMATS))} files inside")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return [path]


def iter_raw(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, record or None, parse error) for each record; JSONL line numbers are exact."""
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield line_no, json.loads(line), None
                except json.JSONDecodeError as exc:
                    yield line_no, None, f"invalid JSON ({exc.msg} at column {exc.colno})"
        return
    offset = 2 if path.suffix.lower() in {".csv", ".tsv", ".xlsx"} else 1  # the header is line (row) 1
    row = 0
    for chunk in iter_table(path):
        for rec in chunk.to_dict(orient="records"):
            yield row + offset, rec, None
            row += 1


def _duplicate_key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def validate_corpus(
    path: str | Path, data_cfg: Data, cleaner: Cleaner | None = None
) -> tuple[pd.DataFrame, list[Problem]]:
    """Valid records as a frame (with `source` and `line`) and the list of problems found."""
    rows = ((f.as_posix(), *row) for f in corpus_files(path) for row in iter_raw(f))
    return validate_records(rows, data_cfg, cleaner)


RawRow = tuple[str, int, "dict[str, Any] | None", "str | None"]  # where, line, record, parse error


def validate_records(
    rows: Iterable[RawRow], data_cfg: Data, cleaner: Cleaner | None = None
) -> tuple[pd.DataFrame, list[Problem]]:
    """The contract over records from anywhere (corpus files, an annotation export), in order: later
    records are checked for duplicate ids and texts against earlier ones."""
    context = {k: getattr(data_cfg, k) for k in ("industries", "touchpoints", "channels")}
    context = {
        "industry": context["industries"],
        "touchpoint": context["touchpoints"],
        "channel": context["channels"],
    }
    good: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    seen_texts: dict[str, str] = {}
    for where, line, raw, parse_error in rows:
        if parse_error:
            problems.append(Problem(where, line, None, parse_error))
            continue
        rid = str(raw.get("id") or "") or None
        try:
            for field in LIST_FIELDS:
                raw[field] = parse_list(raw.get(field))
            rec = CommentRecord.model_validate(raw, context=context).model_dump()
        except (ValidationError, json.JSONDecodeError) as exc:
            problems.extend(Problem(where, line, rid, msg) for msg in _messages(exc))
            continue
        row_problems = []
        if rec["id"] in seen_ids:
            row_problems.append(f"duplicate id (first at {seen_ids[rec['id']]})")
        key = _duplicate_key(rec["text"])
        if key in seen_texts:
            row_problems.append(f"duplicate text (same as {seen_texts[key]})")
        if cleaner is not None:  # detect on the text as the pipeline sees it (normalised, PII masked)
            guess = cleaner.prepare(rec["text"])
            if (
                guess.lang != rec["lang"]
                and guess.lang in LANGS
                and guess.lang_confidence >= data_cfg.lang_mismatch_min_confidence
            ):
                row_problems.append(
                    f"language mismatch: lang={rec['lang']} but the text reads as {guess.lang} "
                    f"(confidence {guess.lang_confidence:.2f})"
                )
        seen_ids.setdefault(rec["id"], f"{where}:{line}")
        seen_texts.setdefault(key, rec["id"])
        if row_problems:
            problems.extend(Problem(where, line, rec["id"], p) for p in row_problems)
            continue
        good.append({**rec, "source": where, "line": line})
    frame = pd.DataFrame(good, columns=[*COLUMNS, "source", "line"])
    return frame, problems


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        out = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            value = err.get("input")
            shown = (
                f" (got {value!r})" if isinstance(value, str | int | float) and len(str(value)) < 60 else ""
            )
            out.append(f"{loc}: {err['msg']}{shown}")
        return out
    return [f"list field is not valid JSON: {exc}"]


def load_corpus(path: str | Path, data_cfg: Data) -> pd.DataFrame:
    """The validated corpus; raises if any row is bad (training must not silently drop data)."""
    frame, problems = validate_corpus(path, data_cfg)
    if problems:
        shown = "\n".join(str(p) for p in problems[:20])
        raise ValueError(f"{len(problems)} problem(s) in {path}; run `cx data validate {path}`:\n{shown}")
    return frame

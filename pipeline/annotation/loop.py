"""`cx label export` and `cx label import`: the two ends of an annotation round.

Export reads a pool (a `cx score` output, whose probabilities are reused when the same model made them,
or raw comments, which the model scores), picks `n` comments by a strategy
(`pipeline.annotation.select`), and writes Label Studio tasks with the model's labels as pre-annotations
(plus the labelling configuration), or a sheet. The texts are the cleaned, PII-masked ones: annotators
never see a phone number the pipeline would hide. Only ru/bg/en comments are offered: the corpus
contract accepts no other language.

Import reads the export back, checks every record against the corpus contract together with the existing
corpus (so a duplicate id or text is caught), keeps who labelled what, and writes a new chunk; it never
overwrites a file and writes nothing while any row has a problem.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.annotation import select
from pipeline.annotation.labelstudio import CONTEXT_FIELDS, Annotation, labeling_config, read_export, task
from pipeline.dataset.corpus.contract import Problem, corpus_files, iter_raw, validate_records
from pipeline.decode import PROB_DECIMALS, decode
from pipeline.inference import Tagger
from pipeline.labels import HEADS, LANGS, join_labels, parse_list, prob_columns
from pipeline.preflight import sniff_delimiter
from pipeline.settings import Data
from pipeline.tables import TableError, iter_table, table_format

FORMATS = ("labelstudio", "csv")
LABEL_COLUMNS = ("sentiment", "terms", "forces", "annotator")  # what annotators fill in a sheet
SHEET_COLUMNS = (
    *CONTEXT_FIELDS,
    "text",
    "model_sentiment",
    "model_terms",
    "model_forces",
    "model_score",
    *LABEL_COLUMNS,
)


@dataclass
class ExportOptions:
    seed: int  # the project seed (params.yaml): the same pool and options pick the same comments
    n: int = 300
    strategy: str = "uncertain"
    head: str = "all"  # which head's uncertainty drives `uncertain` (all = their mean)
    fmt: str = "labelstudio"
    text_col: str = "text"
    id_col: str = "id"
    predictions: bool = True  # False: no pre-annotations (a blind sample for measuring agreement)
    sep: str | None = None
    encoding: str | None = None
    defaults: dict[str, str] = field(default_factory=dict)  # industry/touchpoint/channel when absent


@dataclass
class ExportReport:
    pool: int = 0
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> rows not offered
    picked: int = 0
    by_lang: dict[str, int] = field(default_factory=dict)
    reused_scores: bool = False
    outputs: list[str] = field(default_factory=list)


def _stored_probabilities(frame: pd.DataFrame, model_version: str) -> dict[str, np.ndarray] | None:
    """The probabilities of a `cx score` output, when the model scoring now made them (another model's
    probabilities against this model's thresholds would pick the wrong comments); else None."""
    columns = {head: prob_columns(head) for head in HEADS}
    if not all(c in frame.columns for cols in columns.values() for c in cols):
        return None
    if "model_version" not in frame.columns or set(frame["model_version"]) != {model_version}:
        return None
    return {head: frame[cols].astype(float).to_numpy() for head, cols in columns.items()}


def _pool(
    input_path: Path, opts: ExportOptions, tagger: Tagger, lemmas: bool
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The comments that can be offered: cleaned (PII-masked) ru/bg/en text and a unique id, in input
    order; and how many rows were left out, by reason."""
    sep = opts.sep or (sniff_delimiter(input_path) if table_format(input_path) == "csv" else None)
    chunks = list(iter_table(input_path, sep=sep, raw_columns={opts.text_col}, encoding=opts.encoding))
    frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
    if opts.text_col not in frame.columns:
        raise TableError(
            f"{input_path}: no column '{opts.text_col}' in {list(frame.columns)}; pass --text-col"
        )
    cleaned = tagger.cleaner.batch(frame[opts.text_col].tolist(), lemmas=lemmas)
    ids = (
        frame[opts.id_col].map(lambda v: None if v is None or v != v or str(v) == "" else str(v))
        if opts.id_col in frame.columns
        else pd.Series([None] * len(frame))
    )
    ids = [v if v is not None else f"row-{i + 1}" for i, v in enumerate(ids)]
    left_out = {"no usable text": 0, "not ru/bg/en": 0, "repeated id": 0}
    keep, seen = [], set()
    for i, result in enumerate(cleaned):
        if not result.ok:
            left_out["no usable text"] += 1
        elif result.lang not in LANGS:
            left_out["not ru/bg/en"] += 1
        elif ids[i] in seen:
            left_out["repeated id"] += 1
        else:
            seen.add(ids[i])
            keep.append(i)
    pool = frame.iloc[keep].reset_index(drop=True)
    pool["id"] = [ids[i] for i in keep]
    pool["text"] = [cleaned[i].text for i in keep]
    pool["lemmas"] = [" ".join(cleaned[i].lemmas or []) for i in keep]
    pool["lang"] = [cleaned[i].lang for i in keep]
    return pool, {k: v for k, v in left_out.items() if v}


def choose(
    pool: pd.DataFrame,
    probs: dict[str, np.ndarray],
    thresholds: dict[str, list[float]],
    opts: ExportOptions,
    baseline: Tagger | None = None,
) -> np.ndarray:
    """Row indices of the pool to label, by `opts.strategy`."""
    langs = pool["lang"].to_numpy()
    if opts.strategy == "uncertain":
        return select.pick_top(select.uncertainty(probs, thresholds, opts.head), langs, opts.n)
    if opts.strategy == "disagree":
        if baseline is None:
            raise ValueError("the disagree strategy needs the baseline model (cx train --model baseline)")
        other = baseline.probabilities(pool["text"].tolist(), pool["lemmas"].tolist())
        scores = select.disagreement(probs, thresholds, other, baseline.thresholds)
        return select.pick_top(scores, langs, opts.n)
    if opts.strategy == "diverse":
        return select.pick_diverse(pool["text"].tolist(), langs, opts.n, opts.seed)
    if opts.strategy == "random":
        return select.pick_random(langs, opts.n, opts.seed)
    raise ValueError(f"unknown strategy {opts.strategy!r}; use one of {', '.join(select.STRATEGIES)}")


def _context(row: pd.Series, defaults: dict[str, str]) -> dict[str, str]:
    return {
        f: str(row[f]) if f in row and row[f] is not None and row[f] == row[f] else defaults.get(f, "")
        for f in CONTEXT_FIELDS
    }


def export_tasks(
    input_path: str | Path,
    out: str | Path,
    tagger: Tagger,
    model_version: str,
    opts: ExportOptions,
    baseline: Tagger | None = None,
    log: Callable[[str], None] = print,
) -> ExportReport:
    """Pick `opts.n` comments of the pool and write them for annotators (see the module doc)."""
    input_path, out = Path(input_path), Path(out)
    if opts.fmt not in FORMATS:
        raise ValueError(f"unknown format {opts.fmt!r}; use one of {', '.join(FORMATS)}")
    lemmas = tagger.meta.needs_lemmas or (baseline is not None and baseline.meta.needs_lemmas)
    pool, left_out = _pool(input_path, opts, tagger, lemmas)
    if pool.empty:
        raise TableError(f"{input_path}: no ru/bg/en comment with usable text to pick from ({left_out})")
    probs = _stored_probabilities(pool, model_version)
    report = ExportReport(
        pool=len(pool) + sum(left_out.values()), left_out=left_out, reused_scores=probs is not None
    )
    if probs is None:
        log(f"scoring {len(pool)} comments with {model_version} ...")
        fresh = tagger.probabilities(pool["text"].tolist(), pool["lemmas"].tolist())
        # at the precision `cx score` stores, so that a scored file and a fresh scoring pick the same rows
        probs = {head: p.round(PROB_DECIMALS) for head, p in fresh.items()}
    chosen = choose(pool, probs, tagger.thresholds, opts, baseline)
    picked = pool.iloc[chosen].reset_index(drop=True)
    mine = {h: p[chosen] for h, p in probs.items()}
    labels = decode(mine, tagger.thresholds)
    confidence = 1.0 - select.uncertainty(mine, tagger.thresholds)
    items = [
        (
            _context(row, opts.defaults),
            row["text"],
            {
                "sentiment": labels.at[i, "sentiment"],
                "terms": parse_list(labels.at[i, "terms"]),
                "forces": parse_list(labels.at[i, "forces"]),
                "score": round(float(confidence[i]), 4),
            },
        )
        for i, row in picked.iterrows()
    ]
    report.picked = len(items)
    report.by_lang = picked["lang"].value_counts().sort_index().to_dict()
    out.parent.mkdir(parents=True, exist_ok=True)
    if opts.fmt == "labelstudio":
        tasks = [task(c, t, p if opts.predictions else None, model_version) for c, t, p in items]
        out.write_text(
            json.dumps(tasks, ensure_ascii=False, indent=1, allow_nan=False) + "\n", encoding="utf-8"
        )
        config = out.with_name(out.stem + ".config.xml")
        config.write_text(labeling_config(), encoding="utf-8")
        report.outputs = [str(out), str(config)]
    else:
        rows = [
            {**c, "text": t}
            | (
                {
                    "model_sentiment": p["sentiment"],
                    "model_terms": join_labels(p["terms"]),
                    "model_forces": join_labels(p["forces"]),
                    "model_score": p["score"],
                }
                if opts.predictions
                else {}
            )
            for c, t, p in items
        ]
        # with a BOM, so that Excel opens the Cyrillic as UTF-8
        pd.DataFrame(rows, columns=list(SHEET_COLUMNS)).to_csv(out, index=False, encoding="utf-8-sig")
        report.outputs = [str(out)]
    return report


# --------------------------------------------------------------------------- import
@dataclass
class ImportReport:
    imported: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    annotators: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    out: str = ""


def _sheet_annotations(path: Path) -> tuple[list[Annotation], dict[str, int]]:
    """The filled-in rows of a sheet written by `cx label export --format csv` (lists `;`-joined, in
    salience order); rows with no sentiment are not labelled yet. A sheet saved by a spreadsheet program
    may come back `;`-separated: the delimiter is sniffed."""
    out, skipped = [], {"unlabelled_tasks": 0}
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh, delimiter=sniff_delimiter(path))
            missing = [c for c in ("id", "text", *LABEL_COLUMNS[:3]) if c not in (reader.fieldnames or [])]
            if missing:
                raise TableError(
                    f"{path}: missing column(s) {missing}; is this a sheet from `cx label export`?"
                )
            line = reader.line_num + 1
            for row in reader:
                if not (row.get("sentiment") or "").strip():
                    skipped["unlabelled_tasks"] += 1
                else:
                    out.append(
                        Annotation(
                            line=line,
                            task_id=line,
                            data={k: row.get(k, "") for k in (*CONTEXT_FIELDS, "text")},
                            sentiment=row["sentiment"].strip(),
                            terms=parse_list(row.get("terms") or ""),
                            forces=parse_list(row.get("forces") or ""),
                            annotator=(row.get("annotator") or "").strip() or "unknown",
                            problems=[],
                        )
                    )
                line = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise TableError(f'{path}: not UTF-8; save the sheet as "CSV UTF-8" and import it again') from exc
    return out, skipped


def read_annotations(path: str | Path) -> tuple[list[Annotation], dict[str, int]]:
    """A Label Studio JSON export or a filled-in sheet."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        return read_export(path)
    if path.suffix.lower() == ".csv":
        return _sheet_annotations(path)
    raise TableError(f"{path}: expected a Label Studio JSON export (.json) or a filled-in sheet (.csv)")


def _one_per_task(annotations: list[Annotation]) -> tuple[list[Annotation], list[tuple[Annotation, str]]]:
    """Several annotators on one task must agree for it to be imported; otherwise the task is a problem.
    Grouped by the task itself: two tasks that share a comment id reach the contract as a duplicate id."""
    by_task: dict[Any, list[Annotation]] = {}
    for ann in annotations:
        by_task.setdefault((ann.line, ann.task_id), []).append(ann)
    merged, conflicts = [], []
    for group in by_task.values():
        first = group[0]
        if any(
            (a.sentiment, a.terms, a.forces) != (first.sentiment, first.terms, first.forces) for a in group
        ):
            who = ", ".join(a.annotator for a in group)
            message = (
                f"the {len(group)} annotations disagree ({who}): settle them in Label Studio and export again"
            )
            conflicts.append((first, message))
            continue
        first.annotator = ";".join(dict.fromkeys(a.annotator for a in group))
        first.problems = list(dict.fromkeys(p for a in group for p in a.problems))
        merged.append(first)
    return merged, conflicts


def to_record(ann: Annotation, defaults: dict[str, str], label_source: str) -> dict[str, Any]:
    """A corpus record (the contract's fields) plus who labelled it and from which export."""
    record: dict[str, Any] = {f: str(ann.data.get(f) or defaults.get(f) or "") for f in CONTEXT_FIELDS}
    return record | {
        "text": str(ann.data.get("text") or ""),
        "sentiment": ann.sentiment,
        "terms": ann.terms,
        "forces": ann.forces,
        "annotator": ann.annotator,
        "label_source": label_source,
    }


def _existing_rows(corpus: Path) -> list[tuple[str, int, dict[str, Any] | None, str | None]]:
    if not corpus.exists() or (corpus.is_dir() and not any(corpus.iterdir())):
        return []
    return [(f.as_posix(), *row) for f in corpus_files(corpus) for row in iter_raw(f)]


def import_labels(
    export: str | Path,
    out: str | Path,
    data_cfg: Data,
    defaults: dict[str, str] | None = None,
) -> ImportReport:
    """Validate an annotation export against the contract (with the existing corpus) and write it as a new
    corpus chunk; with any problem nothing is written and the problems are returned (`file:line`)."""
    export, out = Path(export), Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; an import never overwrites a chunk: choose a new --out name")
    annotations, skipped = read_annotations(export)
    if not annotations:
        raise TableError(f"{export}: no finished annotation to import ({skipped})")
    merged, conflicts = _one_per_task(annotations)
    report = ImportReport(skipped=skipped, out=str(out))
    where = export.as_posix()
    report.problems += [Problem(where, a.line, a.data.get("id"), msg) for a, msg in conflicts]
    report.problems += [Problem(where, a.line, a.data.get("id"), p) for a in merged for p in a.problems]
    records = [to_record(a, defaults or {}, f"labelstudio:{export.name}") for a in merged]
    new_rows = [(where, a.line, dict(r), None) for a, r in zip(merged, records, strict=True)]
    _, problems = validate_records([*_existing_rows(Path(data_cfg.labelled)), *new_rows], data_cfg)
    report.problems += [p for p in problems if p.source == where]
    if report.problems:
        report.problems.sort(key=lambda p: p.line)
        return report
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out)
    report.imported = len(records)
    for record in records:
        for name in record["annotator"].split(";"):
            report.annotators[name] = report.annotators.get(name, 0) + 1
    return report

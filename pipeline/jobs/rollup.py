"""`cx rollup` as an MLflow run: the scored input's checksum, the headline figures and the tables."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from pipeline.labels import current_column_names
from pipeline.rollup.tables import RollupOptions, rollup, write_rollup
from pipeline.settings import Tracking
from pipeline.tables import FORMATS, TableError, check_readable, file_sha256, quarantine_path, read_table
from pipeline.tracking import configure, tracked_run


def scored_files(inputs: list[Path]) -> list[Path]:
    """The tables to roll up: each file given, and every scored table in a folder given (sorted by name, so
    nightly files named by date come in date order; quarantine files are left out)."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(
                f for f in item.iterdir() if f.suffix.lower() in FORMATS and ".quarantine." not in f.name
            )
            if not found:
                raise TableError(f"{item}: no scored tables ({', '.join(sorted(FORMATS))}) in this folder")
            files += found
        else:
            check_readable(item)
            files.append(item)
    return files


def read_scored(files: list[Path], id_col: str = "id") -> tuple[pd.DataFrame, int, int]:
    """All scored rows of `files` with each id once (the last file's row wins: a comment re-scored by a
    later run), the quarantined row count, and how many repeated rows were dropped."""
    frames = [current_column_names(read_table(f)) for f in files]
    frames = [f for f in frames if len(f.columns)]
    if not frames or not sum(len(f) for f in frames):
        raise TableError(f"{', '.join(map(str, files))}: no scored rows to roll up (run `cx score` first)")
    scored = pd.concat(frames, ignore_index=True)
    dropped = 0
    if id_col in scored.columns and len(files) > 1:
        keep = ~scored.duplicated(subset=[id_col], keep="last") | scored[id_col].isna()
        dropped, scored = int((~keep).sum()), scored[keep].reset_index(drop=True)
    quarantined = 0
    for f in files:
        q = quarantine_path(f)
        quarantined += len(read_table(q)) if q.is_file() and q.stat().st_size else 0
    return scored, quarantined, dropped


def run_rollup(
    tracking: Tracking,
    inputs: list[Path],
    out_dir: Path,
    opts: RollupOptions,
    text_col: str = "text",
    id_col: str = "id",
) -> dict[str, Any]:
    files = scored_files(inputs)
    scored, quarantined, dropped = read_scored(files, id_col)
    result = rollup(scored, opts, text_col)
    result["summary"]["duplicates_dropped"] = dropped
    configure(tracking)
    name = files[0].name if len(files) == 1 else f"{len(files)}-files"
    digest = inputs_sha256(files)
    with tracked_run(f"rollup-{name}", "rollup"):
        mlflow.log_params(
            {
                "input": ",".join(map(str, files))[:5000],
                "input_sha256": digest,
                "by": ",".join(result["summary"]["by"]),
                "touchpoint_col": opts.touchpoint_col,
                "date_col": opts.date_col,
                "score_col": opts.score_col,
                "model_version": result["summary"]["model_version"],
            }
        )
        extra = {
            "input": str(files[0]) if len(files) == 1 else [str(f) for f in files],
            "rows": len(scored) + quarantined,
            "scored_rows": len(scored),
            "quarantined": quarantined,
            "input_sha256": digest,
        }
        written = write_rollup(result, out_dir, extra)
        overall = result["summary"]["overall"]
        mlflow.log_metrics(
            {
                "comments": overall["comments"],
                "negative_share": overall["negative_share"],
                **({"nps": overall["nps"]} if overall["nps"] is not None else {}),
            }
        )
        for path in written:
            mlflow.log_artifact(str(path), artifact_path="rollup")
    return result


def inputs_sha256(files: list[Path]) -> str:
    """One digest for one or many input files (a single file keeps its own file digest)."""
    if len(files) == 1:
        return file_sha256(files[0])
    return hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()

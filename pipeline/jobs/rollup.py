"""`cx rollup` as an MLflow run: the scored input's checksum, the headline figures and the tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from pipeline.jobs.inputs import is_part_folder, table_files, tables_sha256
from pipeline.labels import HEADS, LEGACY_COLUMNS, current_column_names, prob_columns
from pipeline.paths import quarantine_path
from pipeline.rollup.tables import RollupOptions, rollup, write_rollup
from pipeline.settings import Tracking
from pipeline.tables import FORMATS, TableError, check_readable, iter_table
from pipeline.tracking import configure, tracked_run


def scored_files(inputs: list[Path]) -> list[Path]:
    """The tables to roll up: each file given, each Parquet folder of part files (`cx score --engine spark`
    output), and every such table in a folder given (sorted by name, so nightly files named by date come in
    date order; quarantine files are left out)."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir() and not is_part_folder(item):
            found = sorted(
                f for f in item.iterdir() if f.suffix.lower() in FORMATS and ".quarantine." not in f.name
            )
            if not found:
                raise TableError(f"{item}: no scored tables ({', '.join(sorted(FORMATS))}) in this folder")
            files += found
        else:
            if not is_part_folder(item):
                check_readable(item)
            files.append(item)
    return files


def _read(table: Path) -> pd.DataFrame:
    """Every column as text except the probabilities, which keep a typed format's floats."""
    probabilities = [c for head in HEADS for c in prob_columns(head)] + [
        old for old in LEGACY_COLUMNS if old.startswith("p_")
    ]
    frames = [chunk for f in table_files(table) for chunk in iter_table(f, raw_columns=probabilities)]
    frames = [f for f in frames if len(f.columns)]
    return current_column_names(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()


def read_scored(files: list[Path], id_col: str = "id") -> tuple[pd.DataFrame, int, int]:
    """All scored rows of `files` with each id once (the last file's row wins: a comment re-scored by a
    later run), the quarantined row count, and how many repeated rows were dropped."""
    frames = [_read(f) for f in files]
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
        if is_part_folder(q) or (q.is_file() and q.stat().st_size):
            quarantined += len(_read(q))
    return scored, quarantined, dropped


def run_rollup(
    tracking: Tracking,
    inputs: list[str | Path],
    out_dir: Path,
    opts: RollupOptions,
    text_col: str = "text",
    id_col: str = "id",
    master: str | None = None,
) -> dict[str, Any]:
    """Roll `inputs` up into `out_dir`: in this process, or with a Spark `master` (`local[4]`, `yarn`,
    `spark://...`) by the Spark engine (`pipeline.spark.rollup`), which reads any URI Spark reads."""
    if master is None:
        files = scored_files([Path(i) for i in inputs])
        scored, quarantined, dropped = read_scored(files, id_col)
        result, n_scored = rollup(scored, opts, text_col), len(scored)
        digest = tables_sha256(files)
    else:
        from pipeline.spark.io import spark_session
        from pipeline.spark.rollup import rollup_on_spark

        uris = [str(i) for i in inputs]  # as given: Path would fold s3a:// into s3a:/
        spark = spark_session(master, f"cx rollup {Path(uris[0]).name}")
        result, n_scored, quarantined, dropped = rollup_on_spark(spark, uris, opts, text_col, id_col)
        files, digest = [Path(u) for u in uris], tables_sha256(uris)  # "" for remote URIs
    result["summary"]["duplicates_dropped"] = dropped
    configure(tracking)
    name = files[0].name if len(files) == 1 else f"{len(files)}-files"
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
            "rows": n_scored + quarantined,
            "scored_rows": n_scored,
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

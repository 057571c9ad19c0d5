"""`cx score` as an MLflow run: the model version, the input's checksum, the counts and quarantine reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow

from pipeline.batch import ScoreOptions, ScoreReport, score_file
from pipeline.inference import Tagger, preferred_backend
from pipeline.jobs.inputs import tables_sha256
from pipeline.preflight import check_input, check_output
from pipeline.registry import resolve_model
from pipeline.settings import Tracking
from pipeline.tracking import configure, tracked_run


def run_scoring(
    tracking: Tracking,
    input_path: str | Path,
    out: Path,
    model_ref: str,
    opts: ScoreOptions,
    progress: bool = True,
    track: bool = True,
    master: str | None = None,
) -> ScoreReport:
    """Score `input_path` into `out` (+ quarantine and data-quality report); an MLflow run unless `track`
    is off (ad-hoc scoring of a file, where no store should be touched). With a Spark `master`
    (`local[4]`, `yarn`, `spark://...`) the Spark engine scores it (`pipeline.spark.score`): a file, a
    folder of part files or any URI Spark reads, passed on as given."""
    name = Path(input_path).name
    if master is None:
        input_path = Path(input_path)
        check_input(input_path, opts.encoding)  # seconds, before the model loads
        check_output(out)
    elif master.startswith("local") and not out.is_dir():  # Spark (over)writes a folder of Parquet parts
        check_output(out, extensions=(".parquet",))  # on a cluster, paths are on the cluster's file system
    bundle, version = resolve_model(model_ref, tracking, preferred_backend(opts.backend, opts.precision))

    def score() -> ScoreReport:
        if master is None:
            tagger = Tagger(
                bundle, backend=opts.backend, batch_tokens=opts.batch_tokens, precision=opts.precision
            )
            return score_file(
                Path(input_path),
                out,
                tagger,
                version,
                opts,
                progress=progress,
            )
        from pipeline.spark.io import spark_session
        from pipeline.spark.score import score_on_spark

        spark = spark_session(master, f"cx score {name}", opts.chunk_size)
        return score_on_spark(spark, str(input_path), out, bundle, version, opts)

    if not track:
        report = score()
        write_quality(out, report)
        return report
    configure(tracking)
    with tracked_run(f"score-{name}", "score", model_version=version):
        mlflow.log_params(
            {
                "input": str(input_path),
                "input_sha256": tables_sha256([input_path]),
                "output": str(out),
                "model": model_ref,
                "model_version": version,
                "chunk_size": opts.chunk_size,
                "sentences": opts.sentences,
                "state": str(opts.state) if opts.state else "",
                "text_col": opts.text_col,
                "id_col": opts.id_col,
                "touchpoint_col": opts.touchpoint_col,
                "date_col": opts.date_col,
                "score_col": opts.score_col,
                "sep": opts.sep or "",
                "encoding": opts.encoding or "utf-8",
                "engine": f"spark {master}" if master else "local",
                "backend": opts.backend,
                "precision": opts.precision,
                "batch_tokens": opts.batch_tokens,
            }
        )
        report = score()
        mlflow.log_param("arithmetic", report.arithmetic)
        mlflow.log_metrics(
            {
                "rows": report.rows,
                "scored": report.scored,
                "quarantined": report.quarantined,
                "skipped_known": report.skipped_known,
                "rows_per_s": report.rows_per_s,
                "seconds": report.seconds,
                "resumed_chunks": report.resumed_chunks,
                "duplicate_ids": report.duplicate_ids,
            }
        )
        mlflow.log_dict(write_quality(out, report), "data_quality.json")
    return report


def write_quality(out: Path, report: ScoreReport) -> dict[str, Any]:
    quality = data_quality(report)
    quality_path(out).write_text(json.dumps(quality, indent=2, ensure_ascii=False), encoding="utf-8")
    return quality


def quality_path(out: Path) -> Path:
    """`scored.parquet` -> `scored.quality.json`: the run's data-quality report lives beside its output."""
    return out.with_name(f"{out.stem}.quality.json")


def data_quality(report: ScoreReport) -> dict[str, Any]:
    """What an operator checks after a nightly run: how many rows went where and why."""
    considered = report.rows - report.skipped_known
    return {
        "input_rows": report.rows,
        "already_processed": report.skipped_known,
        "scored": report.scored,
        "quarantined": report.quarantined,
        "quarantine_share": round(report.quarantined / considered, 4) if considered else 0.0,
        "quarantine_reasons": dict(sorted(report.reasons.items())),
        "duplicate_ids": report.duplicate_ids,
        "truncated_texts": report.truncated,
        "delimiter": report.delimiter,
        "undecodable_examples": report.encoding_examples,
        "resumed_chunks": report.resumed_chunks,
        "output": report.output,
        "quarantine": report.quarantine,
        "model_version": report.model_version,
    }

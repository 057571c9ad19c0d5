"""`cx score` as an MLflow run: the model version, the input's checksum, the counts and quarantine reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow

from pipeline.batch import ScoreOptions, ScoreReport, score_file
from pipeline.inference import Tagger
from pipeline.registry import resolve_model
from pipeline.tables import file_sha256
from pipeline.tracking import configure, git_commit


def run_scoring(
    params: dict[str, Any],
    input_path: Path,
    out: Path,
    model_ref: str,
    opts: ScoreOptions,
    progress: bool = True,
) -> ScoreReport:
    bundle, version = resolve_model(model_ref, params)
    tagger = Tagger(bundle)
    configure(params)
    with mlflow.start_run(run_name=f"score-{input_path.name}"):
        mlflow.set_tags({"stage": "score", "git_commit": git_commit(), "model_version": version})
        mlflow.log_params(
            {
                "input": str(input_path),
                "input_sha256": file_sha256(input_path),
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
            }
        )
        report = score_file(input_path, out, tagger, version, opts, progress=progress)
        mlflow.log_metrics(
            {
                "rows": report.rows,
                "scored": report.scored,
                "quarantined": report.quarantined,
                "skipped_known": report.skipped_known,
                "rows_per_s": report.rows_per_s,
                "seconds": report.seconds,
                "resumed_chunks": report.resumed_chunks,
            }
        )
        mlflow.log_dict({"reasons": report.reasons}, "quarantine_reasons.json")
    return report

"""The batch jobs as MLflow runs: `cx score`, `cx rollup`, `cx report` record inputs, outputs and counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow

from pipeline.batch import ScoreOptions, ScoreReport, score_file
from pipeline.inference import Tagger
from pipeline.registry import resolve_model
from pipeline.rollup import RollupOptions, rollup, write_rollup
from pipeline.tables import file_sha256, quarantine_path, read_table
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


def run_rollup(
    params: dict[str, Any], scored_path: Path, out_dir: Path, opts: RollupOptions, text_col: str = "text"
) -> dict[str, Any]:
    scored = read_table(scored_path)
    result = rollup(scored, opts, text_col)
    quarantine = quarantine_path(scored_path)
    quarantined = len(read_table(quarantine)) if quarantine.is_file() and quarantine.stat().st_size else 0
    configure(params)
    with mlflow.start_run(run_name=f"rollup-{scored_path.name}") as run:
        mlflow.set_tags({"stage": "rollup", "git_commit": git_commit()})
        mlflow.log_params(
            {
                "input": str(scored_path),
                "input_sha256": file_sha256(scored_path),
                "by": ",".join(result["summary"]["by"]),
                "touchpoint_col": opts.touchpoint_col,
                "date_col": opts.date_col,
                "score_col": opts.score_col,
                "model_version": result["summary"]["model_version"],
            }
        )
        extra = {
            "input": str(scored_path),
            "rows": len(scored) + quarantined,
            "scored_rows": len(scored),
            "quarantined": quarantined,
            "run_id": run.info.run_id,
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


def run_report(params: dict[str, Any], rollup_dir: Path, out: Path) -> Path:
    from pipeline.report import build_report

    configure(params)
    with mlflow.start_run(run_name=f"report-{rollup_dir.name}"):
        mlflow.set_tags({"stage": "report", "git_commit": git_commit()})
        mlflow.log_params({"rollup_dir": str(rollup_dir), "output": str(out)})
        path = build_report(rollup_dir, out)
        mlflow.log_artifact(str(path))
    return path

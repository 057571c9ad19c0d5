"""`cx report` as an MLflow run: the report file as an artifact."""

from __future__ import annotations

from pathlib import Path

import mlflow

from pipeline.rollup.report import build_report
from pipeline.settings import Tracking
from pipeline.tracking import configure, tracked_run


def run_report(tracking: Tracking, rollup_dir: Path, out: Path, themes_dir: Path | None = None) -> Path:
    configure(tracking)
    with tracked_run(f"report-{rollup_dir.name}", "report"):
        mlflow.log_params(
            {"rollup_dir": str(rollup_dir), "themes_dir": str(themes_dir or ""), "output": str(out)}
        )
        path = build_report(rollup_dir, out, themes_dir=themes_dir)
        mlflow.log_artifact(str(path))
    return path

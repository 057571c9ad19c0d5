"""`cx report` as an MLflow run: the report file as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow

from pipeline.rollup.report import build_report
from pipeline.tracking import configure, tracked_run


def run_report(params: dict[str, Any], rollup_dir: Path, out: Path) -> Path:
    configure(params)
    with tracked_run(f"report-{rollup_dir.name}", "report"):
        mlflow.log_params({"rollup_dir": str(rollup_dir), "output": str(out)})
        path = build_report(rollup_dir, out)
        mlflow.log_artifact(str(path))
    return path

"""`cx report` as an MLflow run: the report file as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow

from pipeline.report import build_report
from pipeline.tracking import configure, git_commit


def run_report(params: dict[str, Any], rollup_dir: Path, out: Path) -> Path:
    configure(params)
    with mlflow.start_run(run_name=f"report-{rollup_dir.name}"):
        mlflow.set_tags({"stage": "report", "git_commit": git_commit()})
        mlflow.log_params({"rollup_dir": str(rollup_dir), "output": str(out)})
        path = build_report(rollup_dir, out)
        mlflow.log_artifact(str(path))
    return path

"""MLflow set-up shared by every run (training, evaluation, scoring).

Local default: `sqlite:///mlflow.db` with artifacts in `mlartifacts/` (params `tracking`), or whatever
`$MLFLOW_TRACKING_URI` says. Relative paths start at the folder of the params.yaml in use, so a command run
from any directory finds the project's store. The experiment is created with an explicit artifact
location; otherwise MLflow would scatter `./mlruns` folders wherever a command happens to run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow
from mlflow.tracking import MlflowClient

from pipeline.config import params_path


def configure(params: dict[str, Any]) -> str:
    """Point MLflow at the configured store and return the experiment id."""
    cfg = params["tracking"]
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or anchored_uri(cfg["uri"]))
    if mlflow.get_experiment_by_name(cfg["experiment"]) is None:
        location = (project_dir() / cfg["artifacts"]).resolve().as_uri()
        mlflow.create_experiment(cfg["experiment"], artifact_location=location)
    return mlflow.set_experiment(cfg["experiment"]).experiment_id


def project_dir() -> Path:
    """The folder of the params.yaml in use: relative store paths start there, not in the current
    directory, so `cx score` run from anywhere finds the project's registry."""
    return params_path().parent.resolve()


def anchored_uri(uri: str) -> str:
    """`sqlite:///mlflow.db` (relative) -> `sqlite:////abs/project/mlflow.db`; other URIs unchanged."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return prefix + str(project_dir() / uri[len(prefix) :])
    return uri


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def client() -> MlflowClient:
    return MlflowClient()

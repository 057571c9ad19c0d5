"""MLflow set-up shared by every run (training, evaluation, scoring).

Local default: `sqlite:///mlflow.db` with artifacts in `mlartifacts/` (params `tracking`), or whatever
`$MLFLOW_TRACKING_URI` says. Relative paths start at the folder of the params.yaml in use, so a command run
from any directory finds the project's store. The experiment is created with an explicit artifact
location; otherwise MLflow would scatter `./mlruns` folders wherever a command happens to run.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from pipeline.config import params_path

OWNER_HOST, OWNER_PID = "cx.host", "cx.pid"  # run tags: which process on which machine owns the run


def configure(params: dict[str, Any]) -> str:
    """Point MLflow at the configured store and return the experiment id."""
    cfg = params["tracking"]
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or anchored_uri(cfg["uri"]))
    if mlflow.get_experiment_by_name(cfg["experiment"]) is None:
        location = (project_dir() / cfg["artifacts"]).resolve().as_uri()
        mlflow.create_experiment(cfg["experiment"], artifact_location=location)
    experiment_id = mlflow.set_experiment(cfg["experiment"]).experiment_id
    close_orphaned_runs(experiment_id)
    return experiment_id


@contextmanager
def tracked_run(name: str, stage: str, **tags: str) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run tagged with its stage, the code version and the process that owns it.

    A run whose process is killed with SIGKILL cannot end itself; the host and pid tags let the next
    command see that its owner is gone and end it as KILLED (`close_orphaned_runs`)."""
    with mlflow.start_run(run_name=name) as run:
        mlflow.set_tags(
            {
                "stage": stage,
                "git_commit": git_commit(),
                OWNER_HOST: socket.gethostname(),
                OWNER_PID: str(os.getpid()),
                **tags,
            }
        )
        yield run


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def close_orphaned_runs(experiment_id: str) -> list[str]:
    """End as KILLED every RUNNING run of this experiment that was started on this host by a process
    that no longer exists (killed with SIGKILL, or the machine lost power); returns their ids.
    Runs from other hosts are left alone: their owners cannot be checked from here."""
    host = socket.gethostname()
    orphaned = []
    for run in client().search_runs(
        [experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.`{OWNER_HOST}` = '{host}'"
    ):
        pid = run.data.tags.get(OWNER_PID, "")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            client().set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            orphaned.append(run.info.run_id)
    return orphaned


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

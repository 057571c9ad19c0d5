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

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from pipeline.config import params_path
from pipeline.settings import Tracking

# run tags: which process owns a run. A pid means something only on the same host, since the same boot
# and in the same pid namespace (containers share a host name but not their pids)
OWNER_HOST, OWNER_BOOT, OWNER_PID_NS, OWNER_PID = "cx.host", "cx.boot", "cx.pid_ns", "cx.pid"


def tracking_uri(cfg: Tracking) -> str:
    """The store every command uses: `$MLFLOW_TRACKING_URI`, else `tracking.uri` anchored at the project."""
    return os.environ.get("MLFLOW_TRACKING_URI") or anchored_uri(cfg.uri)


def configure(cfg: Tracking) -> str:
    """Point MLflow at the configured store and return the experiment id."""
    mlflow.set_tracking_uri(tracking_uri(cfg))
    if mlflow.get_experiment_by_name(cfg.experiment) is None:
        location = (project_dir() / cfg.artifacts).resolve().as_uri()
        mlflow.create_experiment(cfg.experiment, artifact_location=location)
    experiment_id = mlflow.set_experiment(cfg.experiment).experiment_id
    close_orphaned_runs(experiment_id)
    return experiment_id


@contextmanager
def tracked_run(name: str, stage: str, **tags: str) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run tagged with its stage, the code version and the process that owns it.

    A run whose process is killed with SIGKILL cannot end itself; the host and pid tags let the next
    command see that its owner is gone and end it as KILLED (`close_orphaned_runs`)."""
    with mlflow.start_run(run_name=name) as run:
        mlflow.set_tags({"stage": stage, "git_commit": git_commit(), **owner(), **tags})
        yield run


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def owner() -> dict[str, str]:
    """This process as run tags (boot id and pid namespace are empty where /proc does not have them)."""
    try:
        pid_ns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pid_ns = ""
    return {
        OWNER_HOST: socket.gethostname(),
        OWNER_BOOT: _read("/proc/sys/kernel/random/boot_id"),
        OWNER_PID_NS: pid_ns,
        OWNER_PID: str(os.getpid()),
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_orphaned(tags: dict[str, str], me: dict[str, str]) -> bool:
    """Whether the process that owns a RUNNING run is certainly gone: its machine rebooted since, or it
    ran in this pid namespace and no process has its pid. Anything else (another namespace, no tags)
    cannot be checked from here and is left alone."""
    if tags.get(OWNER_HOST) != me[OWNER_HOST] or not tags.get(OWNER_PID, "").isdigit():
        return False
    if me[OWNER_BOOT] and tags.get(OWNER_BOOT) and tags[OWNER_BOOT] != me[OWNER_BOOT]:
        return True
    if tags.get(OWNER_PID_NS, "") != me[OWNER_PID_NS]:
        return False
    pid = int(tags[OWNER_PID])
    return pid != os.getpid() and not _alive(pid)


def close_orphaned_runs(experiment_id: str) -> list[str]:
    """End as KILLED every RUNNING run of this experiment whose process is gone (killed with SIGKILL,
    or the machine lost power; see `is_orphaned`); returns their ids."""
    me = owner()
    orphaned = []
    for run in client().search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{OWNER_HOST}` = '{me[OWNER_HOST]}'",
    ):
        if is_orphaned(run.data.tags, me):
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

"""`cx status`: what the main job has produced so far (also the end of `make run`)."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli._util import app, console
from pipeline.config import load_params
from pipeline.paths import quarantine_path
from pipeline.settings import Params

SQLITE = "sqlite:///"


def _size(path: Path) -> str:
    if not path.exists():
        return ""
    total = (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )
    return f"{total / 1e6:.1f} MB"


def main_job_outputs(params: Params) -> list[tuple[str, Path | None, str]]:
    """(name, path, detail) for each artefact of the main job, in pipeline order (no path: not a file)."""
    from pipeline.tracking import tracking_uri  # here, not at the top: `cx --help` stays free of mlflow ...
    from training.base_model import read_manifest  # ... and of torch

    base = Path(params.base_model.dir)
    manifest = read_manifest(base) or {}
    base_detail = f"source={manifest.get('source', '?')} {_size(base)}" if manifest else ""
    clean = Path(params.sample.clean_out)
    report = Path(params.evaluation.out_dir) / "evaluation.md"
    store = tracking_uri(params.tracking)
    return [
        ("base model", base, base_detail),
        ("cleaned sample", clean, _size(clean)),
        ("cleaning quarantine", quarantine_path(clean), _size(quarantine_path(clean))),
        (
            "baseline model",
            Path(params.baseline.out_dir),
            _bundle_detail(Path(params.baseline.out_dir)),
        ),
        (
            "transformer model",
            Path(params.train.out_dir),
            _bundle_detail(Path(params.train.out_dir)),
        ),
        ("evaluation report", report, ""),
        ("scored sample", Path(params.score.sample_out), _size(Path(params.score.sample_out))),
        ("scoring quarantine", quarantine_path(Path(params.score.sample_out)), ""),
        ("int8 export", Path(params.export.out_dir), _size(Path(params.export.out_dir))),
        ("touchpoint rollup", Path(params.rollup.out_dir), ""),
        ("themes", Path(params.themes.out_dir), ""),
        ("journey report", Path(params.report.out), "open in a browser (works offline)"),
        _store_row(store),
    ]


def _store_row(uri: str) -> tuple[str, Path | None, str]:
    """A local sqlite store is a file to check; a tracking server (no path) is named by its URI."""
    if uri.startswith(SQLITE):
        return ("MLflow store", Path(uri.removeprefix(SQLITE)), f"mlflow ui --backend-store-uri {uri}")
    return ("MLflow store", None, f"tracking server {uri}")


def _bundle_detail(path: Path) -> str:
    from pipeline.bundle import BundleMeta

    if not path.exists():
        return ""
    info = BundleMeta.load(path).info
    version = info.get("registered_version")
    return f"models:/{info.get('registered_name')}/{version}" if version else ""


@app.command("status", epilog="Example: cx status")
def status_cmd() -> None:
    """Show where the main job's outputs are and whether each one exists."""
    for name, path, detail in main_job_outputs(load_params()):
        if path is None:
            console.print(f"{'[cyan]remote[/]':>18}  {name:<22} {detail}")
            continue
        mark = "[green]ok[/]" if path.exists() else "[yellow]missing[/]"
        console.print(f"{mark:>18}  {name:<22} {path.resolve()}  {detail}")

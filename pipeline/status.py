"""What the main job has produced so far, for `cx status` and the end of `make run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.tables import quarantine_path


def _size(path: Path) -> str:
    if not path.exists():
        return ""
    total = (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )
    return f"{total / 1e6:.1f} MB"


def main_job_outputs(params: dict[str, Any]) -> list[tuple[str, Path, str]]:
    """(name, path, detail) for each artefact of the main job, in pipeline order."""
    from training.base_model import read_manifest

    base = Path(params["base_model"]["dir"])
    manifest = read_manifest(base) or {}
    base_detail = f"source={manifest.get('source', '?')} {_size(base)}" if manifest else ""
    clean = Path(params["sample"]["clean_out"])
    report = Path(params["evaluation"]["out_dir"]) / "evaluation.md"
    return [
        ("base model", base, base_detail),
        ("cleaned sample", clean, _size(clean)),
        ("cleaning quarantine", quarantine_path(clean), _size(quarantine_path(clean))),
        (
            "baseline model",
            Path(params["baseline"]["out_dir"]),
            _bundle_detail(Path(params["baseline"]["out_dir"])),
        ),
        (
            "transformer model",
            Path(params["train"]["out_dir"]),
            _bundle_detail(Path(params["train"]["out_dir"])),
        ),
        ("evaluation report", report, ""),
        ("scored sample", Path(params["score"]["sample_out"]), _size(Path(params["score"]["sample_out"]))),
        ("scoring quarantine", quarantine_path(Path(params["score"]["sample_out"])), ""),
        ("touchpoint rollup", Path(params["rollup"]["out_dir"]), ""),
        ("journey report", Path(params["report"]["out"]), "open in a browser (works offline)"),
        ("MLflow store", Path("mlflow.db"), "mlflow ui --backend-store-uri sqlite:///mlflow.db"),
    ]


def _bundle_detail(path: Path) -> str:
    from pipeline.inference import BundleMeta

    if not path.exists():
        return ""
    info = BundleMeta.load(path).info
    version = info.get("registered_version")
    return f"models:/{info.get('registered_name')}/{version}" if version else ""

"""`cx export` as an MLflow run: the exported bundle is logged as a pyfunc model beside the registered
version it came from, and that version is tagged with its location, so `cx score --model
models:/cx-terms@champion` (backend auto) scores the exported graph wherever the registry is reachable."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import mlflow

from pipeline.bundle import EXPORT_FILE, BundleMeta
from pipeline.export import export_bundle
from pipeline.inference import Tagger
from pipeline.pyfunc import log_bundle
from pipeline.registry import EXPORT_TAG
from pipeline.settings import Params
from pipeline.tracking import client, configure, tracked_run


def run_export(
    params: Params, bundle: Path, out: Path, track: bool = True, log: Callable[[str], None] = print
) -> Path:
    """Export `bundle` into `out`; tracked unless `track` is off. The registry tag is set only where the
    source bundle's registered version lives in the configured store."""
    path = export_bundle(bundle, out, params.export)
    if not track:
        return path
    record = json.loads((path / EXPORT_FILE).read_text(encoding="utf-8"))
    info = BundleMeta.load(path).info
    name, version = info.get("registered_name"), info.get("registered_version")
    configure(params.tracking)
    with tracked_run(f"export-{path.name}", "export", model_version=f"{name}/{version}" if version else ""):
        mlflow.log_params(
            {"source": str(bundle), "out": str(path), "opset": record["opset"]}
            | {f"export_{k}": v for k, v in record["export"].items()}
        )
        mlflow.log_metric("onnx_size_mb", record["size_bytes"] / 1e6)
        mlflow.log_dict(record, EXPORT_FILE)
        model_info = log_bundle(Tagger(path), None, params.base_model.verify_sentences[:3])
        if version and _registered(name, version):
            client().set_model_version_tag(name, version, EXPORT_TAG, model_info.model_uri)
            log(f"tagged {name}/{version}: {EXPORT_TAG}")
        else:
            log(f"{bundle} is not a registered version in this store: the export is logged, not tagged")
    return path


def _registered(name: str, version: str) -> bool:
    try:
        client().get_model_version(name, version)
    except mlflow.exceptions.MlflowException:
        return False
    return True

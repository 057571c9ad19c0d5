"""Resolve `--model` (a registry URI such as `models:/cx-terms@champion`, or a bundle folder) to a local
bundle and a human-readable version label written into every scored row."""

from __future__ import annotations

from pathlib import Path

from pipeline.bundle import META_FILE, BundleError, BundleMeta
from pipeline.pyfunc import BUNDLE_ARTIFACT
from pipeline.settings import Tracking

EXPORT_TAG = "onnx_model_uri"  # on a registered version: where `cx export` logged its exported bundle


class ModelNotFound(RuntimeError):
    """The requested model could not be found or loaded; the message says what to do."""


def resolve_model(ref: str, tracking: Tracking, backend: str = "auto") -> tuple[Path, str]:
    """(bundle folder, version label); a bundle this version cannot read is ModelNotFound with the reason.
    A registered version with an export (`cx export` tags it) resolves to the exported bundle unless
    `backend` is torch: the version label stays the same, the weights are the same model's."""
    path = Path(ref)
    if (path / META_FILE).is_file():
        info = _readable(path).info
        version = info.get("registered_version")
        label = f"{info.get('registered_name')}/{version}" if version else f"local:{path.name}"
        return path, label
    if not ref.startswith("models:/"):
        raise ModelNotFound(f"{ref}: neither a cx-terms bundle folder nor a models:/ registry URI")
    import mlflow

    from pipeline.tracking import client, configure

    configure(tracking)
    name, _, rest = ref[len("models:/") :].partition("@")
    try:
        if rest:
            found = client().get_model_version_by_alias(name, rest)
        else:
            name, _, number = ref[len("models:/") :].partition("/")
            found = client().get_model_version(name, number)
        version = found.version
        uri = found.tags.get(EXPORT_TAG) if backend != "torch" else None
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri or f"models:/{name}/{version}"))
    except Exception as exc:
        raise ModelNotFound(
            f"cannot load {ref} from {mlflow.get_tracking_uri()} ({type(exc).__name__}: {exc}). "
            "Train and evaluate a model first (`cx train`, `cx evaluate` sets @champion), "
            "or pass --model models/cx-terms"
        ) from exc
    bundle = bundle_in(local)
    _readable(bundle)
    return bundle, f"{name}/{version}"


def _readable(bundle: Path) -> BundleMeta:
    try:
        return BundleMeta.load(bundle)
    except BundleError as exc:
        raise ModelNotFound(str(exc)) from exc


def bundle_in(model_dir: Path) -> Path:
    """Where the pyfunc model keeps our bundle (MLmodel records the artifact's stored path)."""
    import yaml

    spec = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
    return model_dir / spec["flavors"]["python_function"]["artifacts"][BUNDLE_ARTIFACT]["path"]

"""The MLflow pyfunc flavour of a cx-terms bundle: `predict(DataFrame with a text column)`.

Loaded with `mlflow.pyfunc.load_model("models:/cx-terms@champion")` in any process; the bundle
(weights, calibration, cleaning config) travels as an artifact, the `pipeline` package as code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

BUNDLE_ARTIFACT = "bundle"
PIP_REQUIREMENTS = [
    "torch==2.13.0",
    "transformers>=5.24,<6",
    "tokenizers>=0.23",
    "scikit-learn>=1.9",
    "spacy>=3.8.18,<3.9",
    "spacy-lookups-data>=1.0.5",
    "pymorphy3>=2.0",
    "pymorphy3-dicts-ru>=2.4",
    "simplemma>=1.1",
    "lingua-language-detector>=2.1",
    "phonenumbers>=8.13",
    "pandas>=2.2,<3",
    "pyyaml>=6",
    "safetensors>=0.4",
]
ONNX_REQUIREMENT = "onnxruntime==1.32.0"


class CxTermsModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from pipeline.inference import Tagger

        self.tagger = Tagger(context.artifacts[BUNDLE_ARTIFACT])

    def predict(
        self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if "text" not in model_input.columns:
            raise ValueError(f"input needs a 'text' column; got {list(model_input.columns)}")
        return typed_output(self.tagger.tag(model_input["text"].tolist()))


def typed_output(frame: pd.DataFrame) -> pd.DataFrame:
    """Probabilities as floats (NaN where a row could not be tagged), everything else as text ("" where
    empty): a schema that Spark and other consumers can declare."""
    out = frame.copy()
    probs = [c for c in out.columns if c.startswith("p_") or c == "sentiment_prob"]
    out[probs] = out[probs].astype("float64")
    rest = [c for c in out.columns if c not in probs]
    out[rest] = out[rest].astype(object).where(out[rest].notna(), "").astype(str)
    return out


def requirements(bundle_dir: Path) -> list[str]:
    """An exported bundle (`cx export`) runs on onnxruntime and needs no torch."""
    from pipeline.bundle import ONNX_FILE

    if not (Path(bundle_dir) / ONNX_FILE).is_file():
        return PIP_REQUIREMENTS
    return [ONNX_REQUIREMENT, *(r for r in PIP_REQUIREMENTS if not r.startswith("torch"))]


def log_bundle(tagger, registered_name: str | None, example_texts: list[str]) -> ModelInfo:
    """Log the tagger's bundle as a pyfunc model in the active run and register it under `registered_name`
    (None: logged only)."""
    example = pd.DataFrame({"text": example_texts})
    output = typed_output(tagger.tag(example_texts))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=CxTermsModel(),
        artifacts={BUNDLE_ARTIFACT: str(tagger.bundle_dir)},
        code_paths=[str(Path(__file__).parent)],
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=requirements(tagger.bundle_dir),
        registered_model_name=registered_name,
    )
    return info

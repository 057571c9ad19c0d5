"""Rollup options for tests: those of the params in use (tests/data/params.yaml, via CX_PARAMS), changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.config import load_params
from pipeline.rollup.tables import RollupOptions


def options(**changes: Any) -> RollupOptions:
    """The rollup options of the params in use, with `changes` (fewer bootstrap draws, a smaller `min_n`)."""
    return replace(RollupOptions.from_params(load_params()), **changes)

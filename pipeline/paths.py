"""Where a job puts its side files, derived from its output path.

Apart from the tables module because `params.yaml`'s schema checks these names whenever params load, and
loading params must not import pandas (`cx status`, `cx --help` and the Spark driver load them first).
"""

from __future__ import annotations

from pathlib import Path


def quarantine_path(out: str | Path) -> Path:
    """`scored.parquet` -> `scored.quarantine.parquet`: rejected rows live beside the output, same format."""
    out = Path(out)
    return out.with_name(f"{out.stem}.quarantine{out.suffix}")

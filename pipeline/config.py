"""Load `params.yaml`, the single source of knobs shared by the CLI and DVC.

Lookup order: an explicit path, `$CX_PARAMS`, `./params.yaml`, then the repository root beside this
package. Stage commands run from the repo root (DVC's rule), so the second branch is the common one;
the last makes `import pipeline` work from any directory in a development checkout.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

from pipeline.settings import Params, parse_params

REPO_ROOT = Path(__file__).resolve().parents[1]


def params_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    candidates = [
        explicit,
        os.environ.get("CX_PARAMS"),
        Path.cwd() / "params.yaml",
        REPO_ROOT / "params.yaml",
    ]
    for cand in candidates:
        if cand and Path(cand).is_file():
            return Path(cand)
    raise FileNotFoundError(
        "params.yaml not found: run from the cx-terms repository root or set CX_PARAMS=/path/to/params.yaml"
    )


@lru_cache(maxsize=8)
def _load(path: str) -> Params:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return parse_params(raw, path)  # a typo or a bad value stops here, naming the key (pipeline.settings)


def load_params(explicit: str | os.PathLike[str] | None = None) -> Params:
    """The typed params, parsed once per file (frozen, so a cached copy cannot be changed under a caller)."""
    return _load(str(params_path(explicit)))

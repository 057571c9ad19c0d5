"""The label scheme (../shared/LABELS.md): three heads, their labels, in a fixed order.

The order is part of the model contract: output columns `p_terms_time`, ... follow it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SENTIMENTS = ("negative", "neutral", "positive")
TERMS = ("time", "emotion", "risk", "money", "situation")
FORCES = ("fairness", "control", "certainty", "status", "belonging", "enjoyment")
LANGS = ("ru", "bg", "en")

HEADS = {"sentiment": SENTIMENTS, "terms": TERMS, "forces": FORCES}
NO_LABEL = "none"  # the "primary" of an empty TERMS/Force list, for stratification and tables
LIST_SEP = ";"  # a TERMS / Forces list in one text cell (CSV, the scored file): "time;money"
# output column prefix of each head's per-label probabilities (`p_terms_time`, `p_forces_fairness`, ...)
PROB_PREFIX = {"terms": "p_terms_", "forces": "p_forces_", "sentiment": "p_sentiment_"}


# the Forces columns as files scored before the head had one name everywhere called them
LEGACY_COLUMNS = {"force_primary": "forces_primary"} | {f"p_force_{f}": f"p_forces_{f}" for f in FORCES}


def current_column_names(frame: pd.DataFrame) -> pd.DataFrame:
    """Read an older scored file under today's column names, so that last month's files still roll up
    with their Force quotes instead of silently losing them."""
    return frame.rename(columns={old: new for old, new in LEGACY_COLUMNS.items() if new not in frame})


def prob_columns(head: str) -> list[str]:
    """The `cx score` columns holding one head's probabilities, in the scheme's label order."""
    return [PROB_PREFIX[head] + label for label in HEADS[head]]


def join_labels(labels: Iterable[str]) -> str:
    """A label list as one text cell: "time;money" ("" for none)."""
    return LIST_SEP.join(labels)


def parse_list(value: Any) -> list:
    """A label list as it arrives: a list (JSONL, Parquet), a JSON string or a `join_labels` cell (CSV)."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            return json.loads(value)
        return [v.strip() for v in value.split(LIST_SEP) if v.strip()]
    return list(value)


def primary(labels: list[str]) -> str:
    """The first-listed (most salient) label of a TERMS/Force list, NO_LABEL for an empty one."""
    return labels[0] if len(labels) else NO_LABEL

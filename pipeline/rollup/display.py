"""How numbers, touchpoints and labels are shown in the report, in its charts and on its page alike."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from pipeline.rollup.tables import ALL

# Local fonts only: a web font would be a network request, and the page must render offline.
FONT_STACK = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif'
BAD_RED = "#c0392b"  # complaints, in the page's accents and in the charts

# Journey order for rows: where the customer meets the brand first comes first. Unknown touchpoints follow.
JOURNEY_ORDER = (
    "advertising",
    "website",
    "mobile_app",
    "store_branch",
    "ordering",
    "payment_billing",
    "delivery",
    "installation_onboarding",
    "product_use",
    "call_center",
    "chat_support",
    "returns_refunds",
    "warranty_repair",
    "cancellation",
    "loyalty_program",
)


def is_missing(value: Any) -> bool:
    """True for None and NaN, which both mean "not measured" in the rollup files."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_pct(value: Any, digits: int = 0) -> str:
    """0.314 -> "31%"; "n/a" when the share could not be measured."""
    return "n/a" if is_missing(value) else f"{float(value):.{digits}%}"


def fmt_signed(value: Any, digits: int = 1) -> str:
    """NPS and impacts read as gains or losses, so they always carry a sign."""
    return "n/a" if is_missing(value) else f"{float(value):+.{digits}f}"


def fmt_int(value: Any) -> str:
    """Counts with thousands separators; "n/a" when absent."""
    return "n/a" if is_missing(value) else f"{int(value):,}"


def fmt_ci(lo: Any, hi: Any, fmt: Any) -> str:
    """A bracketed 95% interval, or nothing when either end is missing (e.g. no scored comments)."""
    if is_missing(lo) or is_missing(hi):
        return ""
    return f" [{fmt(lo)} – {fmt(hi)}]"


def journey_order(touchpoints: Iterable[str]) -> list[str]:
    """Touchpoints in journey order, unknown ones after (alphabetically), the "all" total last."""
    present = {str(t) for t in touchpoints}
    known = [t for t in JOURNEY_ORDER if t in present]
    unknown = sorted(present - set(JOURNEY_ORDER) - {ALL})
    return known + unknown + ([ALL] if ALL in present else [])


def label_order(labels: Iterable[str], scheme: Sequence[str]) -> list[str]:
    """Labels in the model's scheme order (the order readers know from the codebook), extras after."""
    present = {str(label) for label in labels}
    return [label for label in scheme if label in present] + sorted(present - set(scheme))


def display_touchpoint(touchpoint: str) -> str:
    """Row names for charts and tables: the "all" total reads as such."""
    return "ALL touchpoints" if touchpoint == ALL else touchpoint

"""`cx evaluate`: score bundles on the held-out test split, report, and gate the champion alias.

The report puts the baseline beside the transformer, per head, per language and per label. The gate
moves the registry alias (`champion`) to the candidate version only when it is not worse than the
current champion on the gate metric, computed on the same test split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.metrics import score
from pipeline.inference import BundleMeta, Tagger
from pipeline.labels import HEADS
from training.targets import encode_targets


def evaluate_bundle(tagger: Tagger, frame: pd.DataFrame) -> dict[str, Any]:
    """Metrics on an already-cleaned labelled frame (columns text, lemmas, lang + labels)."""
    probs = tagger.probabilities(frame["text"].tolist(), frame["lemmas"].tolist())
    targets, masks = encode_targets(frame)
    return score(probs, tagger.meta.thresholds, targets, masks, frame["lang"].to_numpy())


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "",
        f"### {title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def markdown_report(results: dict[str, dict[str, Any]], title: str = "Test split") -> str:
    """Models side by side: macro-F1 per head overall and per language, then F1 per label."""
    names = list(results)

    def cells(get) -> list[str]:
        return [f"{get(results[n]):.3f}" for n in names]

    per_head = [[head, *cells(lambda r, h=head: r["overall"][h]["macro_f1"])] for head in HEADS]
    per_head.append(["**mean**", *(f"**{c}**" for c in cells(lambda r: r["macro_f1_mean"]))])
    langs = sorted(next(iter(results.values())).get("by_lang", {}))
    per_lang = [
        [lang, head, *cells(lambda r, lang=lang, h=head: r["by_lang"][lang][h]["macro_f1"])]
        for lang in langs
        for head in HEADS
    ]
    per_label = [
        [
            head,
            label,
            str(results[names[0]]["overall"][head]["per_label"][label]["support"]),
            *cells(lambda r, h=head, lb=label: r["overall"][h]["per_label"][lb]["f1"]),
        ]
        for head, labels in HEADS.items()
        for label in labels
    ]
    lines = [
        f"## {title}",
        *_table("Macro-F1 per head", ["head", *names], per_head),
        *_table("Macro-F1 per language", ["lang", "head", *names], per_lang),
        *_table("F1 per label", ["head", "label", "support", *names], per_label),
    ]
    return "\n".join(lines) + "\n"


def write_reports(
    results: dict[str, dict[str, Any]], out_dir: Path, external: dict[str, dict[str, Any]] | None = None
) -> tuple[Path, Path]:
    from evaluation.external import external_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "evaluation.md", out_dir / "evaluation.json"
    md.write_text(markdown_report(results) + external_markdown(external or {}), encoding="utf-8")
    js.write_text(
        json.dumps({"test": results, "external_sentiment": external or {}}, indent=2), encoding="utf-8"
    )
    return md, js


@dataclass
class GateDecision:
    promoted: bool
    candidate_version: str
    candidate_value: float
    champion_version: str | None
    champion_value: float | None
    reason: str


def promotion_gate(client, name: str, version: str, value: float, metric: str, alias: str) -> GateDecision:
    """Tag the candidate with its test metric; move `alias` to it unless the champion is strictly better."""
    client.set_model_version_tag(name, version, metric, f"{value:.6f}")
    try:
        champion = client.get_model_version_by_alias(name, alias)
    except Exception:  # no alias yet: the first evaluated model becomes champion
        champion = None
    if champion is None:
        client.set_registered_model_alias(name, alias, version)
        return GateDecision(True, version, value, None, None, f"no {alias} yet")
    if str(champion.version) == str(version):
        return GateDecision(True, version, value, version, value, f"already {alias}")
    tag = champion.tags.get(metric)
    champion_value = float(tag) if tag is not None else float("-inf")
    if value >= champion_value:
        client.set_registered_model_alias(name, alias, version)
        return GateDecision(
            True,
            version,
            value,
            str(champion.version),
            champion_value,
            f"{metric} {value:.4f} >= champion v{champion.version} {champion_value:.4f}",
        )
    return GateDecision(
        False,
        version,
        value,
        str(champion.version),
        champion_value,
        f"{metric} {value:.4f} < champion v{champion.version} {champion_value:.4f}: alias unchanged",
    )


def registered_version(bundle_dir: Path) -> str | None:
    return BundleMeta.load(bundle_dir).info.get("registered_version")

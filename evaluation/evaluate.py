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

from pipeline.bundle import BundleMeta
from pipeline.dataset.targets import encode_targets
from pipeline.inference import Tagger
from pipeline.labels import HEADS
from pipeline.metrics import reliability_bins, score
from pipeline.settings import Targets


def evaluate_bundle(tagger: Tagger, frame: pd.DataFrame) -> dict[str, Any]:
    """Metrics on an already-cleaned labelled frame (columns text, lemmas, lang + labels)."""
    probs = tagger.probabilities(frame["text"].tolist(), frame["lemmas"].tolist())
    targets, masks = encode_targets(frame)
    result = score(probs, tagger.thresholds, targets, masks, frame["lang"].to_numpy())
    return result | {"reliability": reliability_bins(probs, targets, masks)}


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


def real_text_markdown(results: dict[str, dict[str, Any]], targets: Targets) -> str:
    """The lead table: primary TERMS / Force accuracy against the two-pass consensus, per language and
    source, and macro-F1 per head, models side by side."""
    names = list(results)
    first = results[names[0]]
    groups = [g for g in first["primary"] if g == "all" or g.startswith("lang:")]
    groups += [g for g in first["primary"] if g.startswith("source:")]
    rows = []
    for group in groups:
        cells = []
        for name in names:
            p = results[name]["primary"][group]
            cells += [f"{p['terms']['accuracy']:.3f}", f"{p['forces']['accuracy']:.3f}"]
        rows.append([group.split(":", 1)[-1], str(first["primary"][group]["terms"]["n"]), *cells])
    header = ["group", "n"] + [f"{n} {h}" for n in names for h in ("primary TERMS", "primary Force")]
    lines = [
        "## Real customer text: test split (two-pass consensus)",
        "",
        f"Targets: primary TERMS accuracy ≥ {targets.primary_terms:.2f}, primary Force ≥ "
        f"{targets.primary_forces:.2f}, per language.",
        *_table("Primary label accuracy", header, rows),
    ]
    body = markdown_report(results, title="Real customer text: macro-F1").split("\n", 1)[1]
    return "\n".join(lines) + "\n" + body


def errors_markdown(errors: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    lines = ["", "## Error analysis: the most frequent wrong primary labels on real text", ""]
    for lang, heads in errors.items():
        for head, items in heads.items():
            for item in items:
                shown = " / ".join(f"“{t}”" for t in item["examples"])
                lines.append(
                    f"- {lang} {head}: {item['gold']} → {item['predicted']} ×{item['count']}: {shown}"
                )
    return "\n".join(lines) + "\n"


def public_markdown(results: dict[str, dict[str, Any]], margin: float) -> str:
    if not results:
        return ""
    models = list(next(iter(results.values())))
    lines = [
        "",
        "## Sentiment on the held-out part of each public set (the set's own labels)",
        "",
        f"Target: the transformer ≥ the TF-IDF baseline trained on the same rows + {margin:.2f}.",
        "",
        "| set | n | " + " | ".join(f"{m} macro-F1 | {m} acc." for m in models) + " |",
        "|---|---|" + "---|---|" * len(models),
    ]
    for name, per_model in results.items():
        n = next(iter(per_model.values()))["n"]
        cells = " | ".join(f"{per_model[m]['macro_f1']:.3f} | {per_model[m]['accuracy']:.3f}" for m in models)
        lines.append(f"| {name} | {n} | {cells} |")
    return "\n".join(lines) + "\n"


def write_reports(report: dict[str, Any], markdown: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "evaluation.md", out_dir / "evaluation.json"
    md.write_text(markdown, encoding="utf-8")
    js.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return md, js


@dataclass
class GateDecision:
    promoted: bool
    candidate_version: str
    candidate_value: float
    champion_version: str | None
    champion_value: float | None
    reason: str


def promotion_gate(
    client, name: str, version: str, value: float, metric: str, alias: str, test_set: str | None = None
) -> GateDecision:
    """Tag the candidate with its test metric (and the fingerprint of the test set it was measured on);
    move `alias` to it unless the champion is strictly better. Scores on different test sets (new labels,
    a public set missing on this machine) are not comparable: then the alias stays where it is."""
    client.set_model_version_tag(name, version, metric, f"{value:.6f}")
    if test_set is not None:
        client.set_model_version_tag(name, version, f"{metric}_test_set", test_set)
    # looked up, not caught: a registry that cannot answer (server down, locked store) must stop the gate,
    # never read as "no champion yet" and hand the alias to whatever was just trained
    champion_version = client.get_registered_model(name).aliases.get(alias)
    if champion_version is None:  # the first evaluated model becomes champion
        client.set_registered_model_alias(name, alias, version)
        return GateDecision(True, version, value, None, None, f"no {alias} yet")
    champion = client.get_model_version(name, champion_version)
    if str(champion.version) == str(version):
        return GateDecision(True, version, value, version, value, f"already {alias}")
    tag = champion.tags.get(metric)
    champion_value = float(tag) if tag is not None else float("-inf")

    def against_champion(promoted: bool, reason: str) -> GateDecision:
        if promoted:
            client.set_registered_model_alias(name, alias, version)
        return GateDecision(promoted, version, value, str(champion.version), champion_value, reason)

    champion_set = champion.tags.get(f"{metric}_test_set")
    if test_set is not None and champion_set is not None and champion_set != test_set:
        return against_champion(
            False,
            f"champion v{champion.version} was measured on another test set ({champion_set[:12]} vs "
            f"{test_set[:12]}): alias unchanged; run `cx evaluate` on it first or move the alias by hand",
        )
    if value >= champion_value:
        return against_champion(
            True, f"{metric} {value:.4f} >= champion v{champion.version} {champion_value:.4f}"
        )
    return against_champion(
        False, f"{metric} {value:.4f} < champion v{champion.version} {champion_value:.4f}: alias unchanged"
    )


def registered_version(bundle_dir: Path) -> str | None:
    return BundleMeta.load(bundle_dir).info.get("registered_version")

"""Behavioural tests of a model, in the style of CheckList (Ribeiro et al., ACL 2020).

Hand-written suites per language (`evaluation/behaviour/<lang>.yaml`, never trained on) test four
capabilities:
- **mft** (minimum functionality): plain praise, plain complaints, neutral questions and each TERMS
  factor and Force stated outright get their label;
- **negation**: negation and contrast ("not bad", "fast but rude");
- **invariance**: names, cities, numbers, amounts (hand-written variants) and real-text noise (typo,
  case, an @mention, a URL, lost punctuation; generated here) must not change sentiment, primary TERMS
  or primary Force;
- **directional**: adding "never again" and the like must not make a comment more positive.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline.dataset.augment import typo
from pipeline.labels import parse_list
from pipeline.settings import Behaviour

CAPABILITIES = ("mft", "negation", "invariance", "directional")
SUITE_DIR = Path(__file__).parent / "behaviour"
RANK = {"negative": 0, "neutral": 1, "positive": 2}
COMPARED = ("sentiment", "terms_primary", "forces_primary")


def load_suites(folder: str | Path = SUITE_DIR) -> dict[str, dict[str, Any]]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(Path(folder).glob("*.yaml"))
    }


def noise_variants(text: str, seed: int) -> list[tuple[str, str]]:
    """(kind, text) real-text perturbations of one base text, the same for the same seed."""
    rng = random.Random(f"{seed}|{text}")
    return [
        ("typo", typo(text, rng)),
        ("lower case", text.lower()),
        ("@mention", f"@support_team {text}"),
        ("url", f"{text} https://example.com/r/{rng.randrange(10**6)}"),
        ("no punctuation", text.rstrip(".!?… ").replace(",", "")),
    ]


def _expectation_failures(case: dict[str, Any], row: pd.Series) -> list[str]:
    failures = []
    if "sentiment" in case and row["sentiment"] != case["sentiment"]:
        failures.append(f"sentiment {row['sentiment']} (want {case['sentiment']})")
    if "sentiment_not" in case and row["sentiment"] == case["sentiment_not"]:
        failures.append(f"sentiment {row['sentiment']} (must not be)")
    for key, column in (("terms", "terms"), ("forces", "forces")):
        got = parse_list(row[column])
        missing = [x for x in case.get(key, []) if x not in got]
        if missing:
            failures.append(f"{column} {got} (missing {missing})")
    return failures


def run_suite(tagger, suite: dict[str, Any], seed: int, directional_tolerance: float) -> dict[str, Any]:
    """{capability: {n, passed, rate, failures: [...]}} for one language's suite."""
    cases: list[tuple[str, dict[str, Any], str, str | None]] = []  # capability, case, text, kind
    for cap in ("mft", "negation"):
        cases += [(cap, c, c["text"], None) for c in suite.get(cap, [])]
    for c in suite.get("invariance", []):
        cases.append(("base", c, c["text"], None))
        variants = [("hand", v) for v in c.get("variants", [])] + noise_variants(c["text"], seed)
        cases += [("invariance", c, text, kind) for kind, text in variants]
    for c in suite.get("directional", []):
        cases.append(("base", c, c["text"], None))
        cases.append(("directional", c, c["text"] + c["add"], None))
    tagged = tagger.tag([text for _, _, text, _ in cases])
    base: dict[str, pd.Series] = {}
    results = {cap: {"n": 0, "passed": 0, "failures": []} for cap in CAPABILITIES}
    for (cap, case, text, kind), (_, row) in zip(cases, tagged.iterrows(), strict=True):
        if cap == "base":
            base[case["text"]] = row
            continue
        if cap in ("mft", "negation"):
            problems = _expectation_failures(case, row)
        elif cap == "invariance":
            ref = base[case["text"]]
            problems = [f"{k} {ref[k]!r} -> {row[k]!r} ({kind})" for k in COMPARED if ref[k] != row[k]]
        else:
            ref = base[case["text"]]
            gain = float(row["p_sentiment_positive"]) - float(ref["p_sentiment_positive"])
            problems = []
            if RANK[row["sentiment"]] > RANK[ref["sentiment"]]:
                problems.append(f"sentiment {ref['sentiment']} -> {row['sentiment']}")
            if gain > directional_tolerance:
                problems.append(f"p(positive) +{gain:.2f}")
        block = results[cap]
        block["n"] += 1
        block["passed"] += not problems
        if problems:
            block["failures"].append({"text": text, "problems": problems})
    for block in results.values():
        block["rate"] = block["passed"] / block["n"] if block["n"] else float("nan")
    return results


def run_behaviour(taggers: dict[str, Any], cfg: Behaviour, seed: int) -> dict[str, Any]:
    """{model: {lang: {capability: result}}} over every suite in the configured folder."""
    suites = load_suites(cfg.dir or SUITE_DIR)
    return {
        name: {
            lang: run_suite(tagger, suite, seed, cfg.directional_tolerance) for lang, suite in suites.items()
        }
        for name, tagger in taggers.items()
    }


def behaviour_markdown(results: dict[str, Any], targets: dict[str, float]) -> str:
    if not results:
        return ""
    lines = ["", "## Behavioural suite (CheckList-style, hand-written, never trained on)", ""]
    for model, per_lang in results.items():
        lines += [
            f"### {model}",
            "",
            "| lang | " + " | ".join(f"{cap} (target {targets[cap]:.0%})" for cap in CAPABILITIES) + " |",
            "|---|" + "---|" * len(CAPABILITIES),
        ]
        for lang, caps in per_lang.items():
            cells = [f"{caps[c]['rate']:.1%} ({caps[c]['passed']}/{caps[c]['n']})" for c in CAPABILITIES]
            lines.append(f"| {lang} | " + " | ".join(cells) + " |")
        lines.append("")
        for lang, caps in per_lang.items():
            shown = [(c, f) for c in CAPABILITIES for f in caps[c]["failures"][:4]]
            if shown:
                lines.append(f"Failures, {model} / {lang} (first few per capability):")
                lines += [f"- {c}: “{f['text']}” — {'; '.join(f['problems'])}" for c, f in shown]
                lines.append("")
    return "\n".join(lines) + "\n"

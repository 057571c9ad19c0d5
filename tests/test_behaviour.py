"""The behavioural suite: the shipped suites are complete per language, and each capability's pass/fail
rule does what its name says (checked with a scripted tagger, so the logic, not a model, is tested)."""

from __future__ import annotations

import pandas as pd

from evaluation.behaviour import load_suites, noise_variants, run_suite

MINIMUM = {"mft": 60, "negation": 25, "invariance": 25, "directional": 20}


def test_shipped_suites_cover_every_language_and_capability():
    suites = load_suites()
    assert set(suites) == {"ru", "bg", "en"}
    for lang, suite in suites.items():
        assert suite["lang"] == lang
        for capability, n in MINIMUM.items():
            assert len(suite[capability]) >= n, (lang, capability)
        assert all(len(c["variants"]) >= 2 for c in suite["invariance"])
        assert all(set(c) & {"sentiment", "sentiment_not", "terms", "forces"} for c in suite["mft"])


class ScriptedTagger:
    """Labels from keywords: 'bad' -> negative, 'bus' or 'late' -> time, 'never' -> more negative."""

    def tag(self, texts):
        rows = []
        for t in texts:
            low = t.lower()
            negative = "bad" in low or "never" in low
            rows.append(
                {
                    "sentiment": "negative" if negative else "positive",
                    "terms": "time" if "late" in low or "bus" in low else "",
                    "terms_primary": "time" if "late" in low or "bus" in low else "",
                    "forces": "",
                    "forces_primary": "",
                    "p_sentiment_positive": 0.1 if negative else 0.9 - 0.1 * low.count("!"),
                }
            )
        return pd.DataFrame(rows)


def test_each_capability_passes_and_fails_on_the_right_cases():
    suite = {
        "mft": [
            {"text": "bad and late", "sentiment": "negative", "terms": ["time"]},
            {"text": "lovely", "sentiment": "negative"},  # the scripted tagger says positive: a failure
        ],
        "negation": [{"text": "not bad at all", "sentiment_not": "negative"}],  # fails: 'bad' -> negative
        "invariance": [{"text": "Anna came by bus", "variants": ["Maria came by bus", "Maria came by car"]}],
        "directional": [{"text": "Fine", "add": " never again"}, {"text": "Bad", "add": "!"}],
    }
    result = run_suite(ScriptedTagger(), suite, seed=0, directional_tolerance=0.05)
    assert (result["mft"]["passed"], result["mft"]["n"]) == (1, 2)
    assert result["negation"]["passed"] == 0
    invariance = result["invariance"]
    assert invariance["n"] == 2 + len(noise_variants("Anna came by bus", 0))
    assert [f["text"] for f in invariance["failures"]] == ["Maria came by car"]
    assert result["directional"]["passed"] == 2 and result["directional"]["rate"] == 1.0


def test_directional_flags_a_comment_made_more_positive():
    class Backwards(ScriptedTagger):
        def tag(self, texts):
            frame = super().tag(texts)
            frame.loc[[("never" in t) for t in texts], ["sentiment", "p_sentiment_positive"]] = [
                "positive",
                0.99,
            ]
            return frame

    result = run_suite(Backwards(), {"directional": [{"text": "bad", "add": " never again"}]}, 0, 0.05)
    assert result["directional"]["passed"] == 0
    assert "sentiment negative -> positive" in result["directional"]["failures"][0]["problems"][0]


def test_noise_variants_are_deterministic_and_real_looking():
    a, b = noise_variants("The courier was late.", 1), noise_variants("The courier was late.", 1)
    assert a == b and {kind for kind, _ in a} == {"typo", "lower case", "@mention", "url", "no punctuation"}


def test_no_suite_text_is_in_the_training_data():
    """The suite is never trained on: no suite text (or variant, or text + addition) is contained in, or
    contains, a written corpus or targeted training comment."""
    import json
    import re
    from pathlib import Path

    def key(text):
        return " ".join(re.findall(r"\w+", text.lower()))

    root = Path(__file__).resolve().parents[1] / "data"
    training = {
        key(json.loads(line)["text"])
        for folder in ("labelled", "targeted")
        for path in (root / folder).glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    suite = set()
    for data in load_suites().values():
        for capability in ("mft", "negation", "invariance", "directional"):
            for case in data[capability]:
                suite |= {key(case["text"]), *(key(v) for v in case.get("variants", []))}
                if "add" in case:
                    suite.add(key(case["text"] + case["add"]))
    overlaps = [s for s in suite for t in training if min(len(s), len(t)) > 15 and (s in t or t in s)]
    assert overlaps == []

"""Benchmark: comments/s for clean + language id (no lemmas) on ONE core, over >= 10,000 comments.

Target: >= 2,000 comments/s. The machine is noisy, so a reference run goes side by side: spaCy's blank
tokenizer alone over the same texts (the floor any spaCy-based cleaner pays); the ratio is the stable figure.
Exit code 1 when the target is missed.

    python benchmarks/clean_throughput.py [--n 12000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

TARGET = 2_000.0
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(n: int, seed: int = 13) -> list[str]:
    """Benchmark-only synthetic comments: real sentences from the test set, recombined with noise/PII."""
    import csv

    with open(ROOT / "tests" / "data" / "langid_comments.tsv", encoding="utf-8") as fh:
        base = [r["text"] for r in csv.DictReader(fh, delimiter="\t")]
    extras = [
        "!!!",
        " 😡",
        " 👍",
        " ((",
        "... ",
        " order 12345678",
        " +7 912 345-67-89",
        " mail me a.b@c.com",
        " <b>html</b>",
        " оооочень",
        " @support",
        " https://volta.ru/x",
    ]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = rng.sample(base, k=rng.choice([1, 1, 2, 3]))
        text = ". ".join(parts)
        if rng.random() < 0.5:
            text += rng.choice(extras)
        out.append(text)
    return out


def timed(fn, texts: list[str]) -> float:
    start = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=12_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    os.chdir(ROOT)
    from pipeline.cleaning.cleaner import Cleaner
    from pipeline.cleaning.nlp import get_nlp

    texts = generate(args.n)
    cleaner = Cleaner()
    cleaner.batch(texts[:200])  # warm-up: model loading is not throughput
    nlp = get_nlp("ru")

    def spacy_only(batch: list[str]) -> None:
        for _ in nlp.tokenizer.pipe(batch, batch_size=256):
            pass

    reference = timed(spacy_only, texts)
    ours = timed(cleaner.batch, texts)
    print(f"{'run':<44}{'comments':>10}{'comments/s':>14}")
    print(f"{'reference: spaCy blank tokenizer only':<44}{len(texts):>10}{reference:>14,.0f}")
    print(f"{'cx clean (normalise+PII+lang id+sentences)':<44}{len(texts):>10}{ours:>14,.0f}")
    print(f"ratio cx/reference: {ours / reference:.3f}   target: >= {TARGET:,.0f} comments/s on 1 core")
    ok = ours >= TARGET
    print("PASS" if ok else "FAIL: below target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: themes on the check set (`data/themes/`) and on the bundled sample.

Check set: 390 hand-written ru/bg/en comments about 13 known sub-issues in 7 cells, placed in their written
cells, themed, compared with the truth (`evaluation/themes_check.py`): adjusted Rand index overall (and what
one theme per cell would score), the mean index inside the cells that hold several sub-issues, and whether
each sub-issue's theme name holds a word written for it beforehand. Per half: the dev half (comments 01-05)
chose `themes.ward_threshold` and `themes.name_terms`; the test half (06-10) is the figure to quote. With
`--model`, the tagger's own pooled vector is measured beside the base encoder. Sample: `cx themes` on the
scored sample (`outputs/scored/verbatims.parquet` from `make run`), by touchpoint and month, end to end.

Targets (issue "themes"): test-half ARI >= 0.6, every sub-issue's name in every language holds one of its
words, the sample themed in <= 60 s. Exit code 1 when one is missed.

    python benchmarks/themes_check.py [--model models/cx-terms] [--scored outputs/scored/verbatims.parquet]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.themes_check import run_check  # noqa: E402
from pipeline.cleaning.cleaner import Cleaner  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.jobs.themes import run_themes, theme_options  # noqa: E402
from pipeline.rollup.tables import RollupOptions  # noqa: E402
from pipeline.themes.vectors import TAGGER, SentenceVectors  # noqa: E402

TARGET_ARI = 0.6
TARGET_SECONDS = 60.0
LANGS = ("en", "ru", "bg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a bundle: also measure the tagger's own pooled vector")
    parser.add_argument("--scored", type=Path, default=ROOT / "outputs/scored/verbatims.parquet")
    args = parser.parse_args()
    params = load_params()
    cleaner = Cleaner(params.cleaning, params.langid)
    opts = theme_options(params, by_month=False)
    encoders = [params.themes.encoder, *([TAGGER] if args.model else [])]
    ok = True
    print("| encoder | half | ARI | one theme per cell | within-cell ARI | themes | names with a word |")
    print("|---|---|---|---|---|---|---|")
    for encoder in encoders:
        embed = SentenceVectors(params.themes.model_copy(update={"encoder": encoder}), args.model)
        for half in ("dev", "test"):
            r = run_check(embed, cleaner, opts, RollupOptions.from_params(params), half=half)
            named = {lang: sum(v[lang] for v in r["names"].values()) for lang in LANGS}
            n = len(r["names"])
            print(
                f"| {encoder} | {half} | {r['ari']:.3f} | {r['cell_only_ari']:.3f} "
                f"| {r['within_cell_ari']:.3f} | {r['themes']} "
                f"| {', '.join(f'{x} {named[x]}/{n}' for x in LANGS)} |"
            )
            if encoder == params.themes.encoder and half == "test":
                ok &= r["ari"] >= TARGET_ARI and all(named[lang] == n for lang in LANGS)
                missed = [(s, lang) for s, v in r["names"].items() for lang in LANGS if not v[lang]]
    print(
        "\nnames without a word of their sub-issue (test half):",
        ", ".join(f"{s}/{lang}" for s, lang in missed),
    )
    if args.scored.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            opts_month = RollupOptions.from_params(params, by_month=True)
            result = run_themes(params, [args.scored], Path(tmp), opts_month, log=lambda _: None)
            seconds = time.perf_counter() - started
        s = result["summary"]
        print(
            f"\nsample: {s['comments']} comments, {s['themes']} themes, {s['emerging']} emerging, "
            f"{seconds:.1f} s (target <= {TARGET_SECONDS:.0f} s)"
        )
        ok &= seconds <= TARGET_SECONDS
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

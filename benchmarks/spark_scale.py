"""Benchmark: `cx score` and `cx rollup` on Spark (`local[2]`) against the local engine, at growing sizes.

Scoring: the bundled sample's 3,060 comments (ru/bg/en survey verbatims) repeated under fresh ids to each
size, as Parquet, scored by both engines with the same bundle, sentence labels on. Rollup: the scored
sample (`outputs/scored/verbatims.parquet`, from `make run`) repeated under fresh ids, rolled up by
touchpoint and month by both engines; their tables must be equal. Side by side in one run (the machine is
noisy: compare within a run). Printed per size: seconds and rows/s of each engine and Spark's marginal
cost per row (the time the extra rows added over the previous size, so start-up - the session, each
worker's model load - is out of it). Targets: Spark's marginal cost per row stays flat, within
TARGET_FLAT of the first step's, for both jobs, and the rollup tables are equal; exit code 1 otherwise.

    python benchmarks/spark_scale.py [--model models/cx-terms] [--sizes 5000,20000]
        [--rollup-sizes 100000,1000000,4000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.batch import ScoreOptions, score_file  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.inference import Tagger  # noqa: E402
from pipeline.jobs.rollup import read_scored  # noqa: E402
from pipeline.rollup.tables import RollupOptions, rollup  # noqa: E402
from pipeline.spark.io import spark_session  # noqa: E402
from pipeline.spark.rollup import rollup_on_spark  # noqa: E402
from pipeline.spark.score import score_on_spark  # noqa: E402

TARGET_FLAT = 1.25  # the last step's cost per row may be at most 25% above the first step's


def repeated(frame: pd.DataFrame, rows: int, path: Path) -> Path:
    """`frame` repeated under fresh ids to `rows` rows, as Parquet."""
    out = pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).iloc[:rows].copy()
    out["id"] = [f"b{i:08d}" for i in range(rows)]
    out.to_parquet(path, index=False)
    return path


def marginal_ms(n: int, seconds: float, last: tuple[int, float] | None) -> float | None:
    """Milliseconds per row that the rows added since the last size cost."""
    return None if last is None else (seconds - last[1]) / (n - last[0]) * 1000


def flat(rows: list[dict], column: str, what: str) -> bool:
    costs = [r[column] for r in rows if r[column] is not None]
    met = len(costs) < 2 or costs[-1] <= TARGET_FLAT * costs[0]
    print(f"target: {what} marginal cost per row flat within {TARGET_FLAT}x: {'met' if met else 'MISSED'}")
    return met


def score_table(spark, model: str, sizes: list[int], master: str, folder: Path) -> list[dict]:
    opts = ScoreOptions()  # params' defaults; the local engine's tagger computes as the executors do
    tagger = Tagger(model, batch_tokens=opts.batch_tokens, precision=opts.precision)
    sample = pd.read_csv(ROOT / "data" / "sample" / "verbatims.csv", dtype=str)
    warm = repeated(sample, 200, folder / "warm-up.parquet")  # untimed: JVM, Python workers, model loads
    score_on_spark(spark, str(warm), folder / "warm-up-out.parquet", Path(model), "bench", opts)
    rows, last = [], None
    for n in sizes:
        source = repeated(sample, n, folder / f"tickets-{n}.parquet")
        started = time.perf_counter()
        score_file(source, folder / f"local-{n}.parquet", tagger, "bench", opts, progress=False)
        local = time.perf_counter() - started
        started = time.perf_counter()
        score_on_spark(spark, str(source), folder / f"spark-{n}.parquet", Path(model), "bench", opts)
        remote = time.perf_counter() - started
        marginal = marginal_ms(n, remote, last)
        rows.append(
            {
                "rows": n,
                "local s": round(local, 1),
                "local rows/s": round(n / local, 1),
                f"spark {master} s": round(remote, 1),
                "spark rows/s": round(n / remote, 1),
                "spark / local": round(local / remote, 2),
                "spark marginal ms/row": None if marginal is None else round(marginal, 3),
            }
        )
        last = (n, remote)
        print(pd.DataFrame(rows).to_markdown(index=False), flush=True)
    return rows


def rollup_table(spark, scored: Path, sizes: list[int], master: str, folder: Path) -> tuple[list[dict], bool]:
    params = load_params()
    opts = RollupOptions.from_params(params, by_month=True)
    base, _, _ = read_scored([scored])
    rollup_on_spark(spark, [str(repeated(base, 1_000, folder / "warm-up.parquet"))], opts)  # untimed
    rows, last, equal = [], None, True
    for n in sizes:
        source = repeated(base, n, folder / f"scored-{n}.parquet")
        started = time.perf_counter()
        frame, _, _ = read_scored([source])
        ours = rollup(frame, opts)
        local = time.perf_counter() - started
        del frame
        started = time.perf_counter()
        theirs = rollup_on_spark(spark, [str(source)], opts)[0]
        remote = time.perf_counter() - started
        same = all(theirs["tables"][k].equals(t) for k, t in ours["tables"].items())
        equal &= same and theirs["summary"] == ours["summary"]
        marginal = marginal_ms(n, remote, last)
        rows.append(
            {
                "scored rows": n,
                "local s": round(local, 1),
                "local rows/s": round(n / local),
                f"spark {master} s": round(remote, 1),
                "spark rows/s": round(n / remote),
                "spark / local": round(local / remote, 2),
                "spark marginal µs/row": None if marginal is None else round(marginal * 1000, 2),
                "tables equal": same,
            }
        )
        last = (n, remote)
        print(pd.DataFrame(rows).to_markdown(index=False), flush=True)
    return rows, equal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "cx-terms"))
    parser.add_argument("--sizes", default="5000,20000", help="rows to score; empty: skip scoring")
    parser.add_argument("--scored", default=str(ROOT / "outputs" / "scored" / "verbatims.parquet"))
    parser.add_argument("--rollup-sizes", default="100000,1000000,4000000", help="empty: skip the rollup")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    spark = spark_session(args.master, "cx-spark-scale")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if args.sizes:
            sizes = sorted(int(s) for s in args.sizes.split(","))
            rows = score_table(spark, args.model, sizes, args.master, Path(tmp))
            ok &= flat(rows, "spark marginal ms/row", "scoring")
        if args.rollup_sizes:
            sizes = sorted(int(s) for s in args.rollup_sizes.split(","))
            rows, equal = rollup_table(spark, Path(args.scored), sizes, args.master, Path(tmp))
            met = flat(rows, "spark marginal µs/row", "rollup")
            print(f"target: both engines' rollup tables equal: {'met' if equal else 'MISSED'}")
            ok &= met and equal
    spark.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

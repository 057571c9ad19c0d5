"""Benchmark: `cx score` on Spark (`local[2]`) against the local engine, at growing row counts.

The input is the bundled sample's 3,060 comments (ru/bg/en survey verbatims) repeated under fresh ids to
each size, as Parquet. Both engines score it with the same bundle, sentence labels on, side by side in
one run (the machine is noisy: compare within a run). Printed per size: seconds and rows/s of each engine
and Spark's marginal cost per row (the time the extra rows added over the previous size, so start-up —
the session, each worker's model load — is out of it). Target: Spark's marginal cost per row stays flat,
within TARGET_FLAT of the first step's; exit code 1 when it does not.

    python benchmarks/spark_scale.py [--model models/cx-terms] [--sizes 10000,50000,200000]
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
from pipeline.inference import Tagger  # noqa: E402
from pipeline.spark.io import spark_session  # noqa: E402
from pipeline.spark.score import score_on_spark  # noqa: E402

TARGET_FLAT = 1.25  # the last step's cost per row may be at most 25% above the first step's


def make_input(rows: int, folder: Path) -> Path:
    sample = pd.read_csv(ROOT / "data" / "sample" / "verbatims.csv", dtype=str)
    frame = pd.concat([sample] * (rows // len(sample) + 1), ignore_index=True).iloc[:rows].copy()
    frame["id"] = [f"b{i:07d}" for i in range(rows)]
    path = folder / f"tickets-{rows}.parquet"
    frame.to_parquet(path, index=False)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "cx-terms"))
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    opts = ScoreOptions()
    tagger = Tagger(args.model)
    spark = spark_session(args.master, "cx-spark-scale", opts.chunk_size)
    rows, last = [], None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in sizes:
            source = make_input(n, folder)
            started = time.perf_counter()
            score_file(source, folder / f"local-{n}.parquet", tagger, "bench", opts, progress=False)
            local = time.perf_counter() - started
            started = time.perf_counter()
            score_on_spark(spark, str(source), folder / f"spark-{n}.parquet", Path(args.model), "bench", opts)
            remote = time.perf_counter() - started
            marginal = None if last is None else (remote - last[1]) / (n - last[0]) * 1000
            rows.append(
                {
                    "rows": n,
                    "local s": round(local, 1),
                    "local rows/s": round(n / local, 1),
                    f"spark {args.master} s": round(remote, 1),
                    "spark rows/s": round(n / remote, 1),
                    "spark / local": round(local / remote, 2),
                    "spark marginal ms/row": None if marginal is None else round(marginal, 2),
                }
            )
            last = (n, remote)
            print(pd.DataFrame(rows).to_markdown(index=False), flush=True)
    spark.stop()
    costs = [r["spark marginal ms/row"] for r in rows if r["spark marginal ms/row"] is not None]
    flat = len(costs) < 2 or costs[-1] <= TARGET_FLAT * costs[0]
    print(f"target: marginal cost per row flat within {TARGET_FLAT}x: {'met' if flat else 'MISSED'}")
    return 0 if flat else 1


if __name__ == "__main__":
    raise SystemExit(main())

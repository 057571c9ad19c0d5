"""Benchmark: peak memory of `cx score` on 200,000 rows stays under 2 GB (bounded, chunked streaming).

Generates a CSV of N rows from the bundled sample (ids made unique, a few bad rows mixed in), scores it
with `cx score` in a child process, and reads the child's peak RSS (getrusage). Reference, side by side:
the peak RSS of a child that only loads the same model and cleans one comment - the difference is what
streaming 200,000 rows costs. Exit code 1 when the peak is over the target.

    python benchmarks/score_memory.py [--rows 200000] [--model models/cx-terms-baseline] [--no-sentences]

The transformer scores ~30-80 comments/s on 2 cores (hours for 200k rows); the memory bound comes from
the chunking, not the model, so the default run uses the baseline bundle. Pass --model models/cx-terms
(and fewer --rows) to measure the transformer.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 2048.0
CX = str(Path(sys.executable).with_name("cx"))


def make_input(path: Path, rows: int) -> None:
    with open(ROOT / "data" / "sample" / "verbatims.csv", encoding="utf-8") as fh:
        sample = list(csv.DictReader(fh))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(sample[0]))
        writer.writeheader()
        for i in range(rows):
            row = dict(sample[i % len(sample)])
            row["id"] = f"b{i:07d}"
            if i % 997 == 0:
                row["text"] = ""  # some rows for the quarantine
            writer.writerow(row)


def child_peak_mb(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a child process; measured in a fresh wrapper so children don't mix."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.time(); "
        "rc = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t, rc)"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, cwd=ROOT)
    kb, seconds, rc = out.stdout.strip().splitlines()[-1].split()
    if rc != "0":
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"command failed ({rc}): {' '.join(cmd)}")
    return int(kb) / 1024, float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--model", default="models/cx-terms-baseline")
    parser.add_argument("--no-sentences", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "tickets.csv", Path(tmp) / "scored.parquet"
        started = time.time()
        make_input(src, args.rows)
        print(f"generated {args.rows:,} rows in {time.time() - started:.0f} s")
        load_only = [
            sys.executable,
            "-c",
            "import sys; from pipeline.inference import Tagger; "
            "Tagger(sys.argv[1]).tag(['Доставка опоздала'])",
            args.model,
        ]
        ref_mb, ref_s = child_peak_mb(load_only)
        cmd = [CX, "score", str(src), "--out", str(out), "--model", args.model]
        if args.no_sentences:
            cmd.append("--no-sentences")
        peak_mb, seconds = child_peak_mb(cmd)
    print(f"{'run':<46}{'rows':>10}{'peak RSS MB':>14}{'seconds':>10}")
    print(f"{'reference: load model + tag one comment':<46}{1:>10}{ref_mb:>14,.0f}{ref_s:>10.0f}")
    print(f"{'cx score (chunked streaming)':<46}{args.rows:>10,}{peak_mb:>14,.0f}{seconds:>10.0f}")
    print(
        f"ratio score/reference: {peak_mb / ref_mb:.2f}   model: {args.model}   target: < {TARGET_MB:,.0f} MB"
    )
    ok = peak_mb < TARGET_MB
    print("PASS" if ok else "FAIL: over target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

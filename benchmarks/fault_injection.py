"""Benchmark: 100,000 comments with 5% bad rows of ten kinds, a `kill -9` mid-run and a rerun.

Prints, per kind, the rows injected and what `cx score` / `cx rollup` counted, and checks that
- every input row is in the output or the quarantine (nothing lost);
- the run killed with SIGKILL and resumed gives byte-identical files to an uninterrupted run;
- the data-quality report counts are exact (quarantine reasons, duplicate ids, truncated texts) and the
  rollup counts the bad scores and dates.
Exit code 1 when any check fails.

    python benchmarks/fault_injection.py [--rows 100000] [--model models/cx-terms-baseline]

The baseline bundle keeps the run to minutes; the resumption and accounting code is the same for the
transformer (`--model models/cx-terms`, fewer --rows).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
CX = str(Path(sys.executable).with_name("cx"))
BAD_SHARE = 0.05
CHUNK = 5_000
LONG_TEXT = "Курьер опоздал на три часа. " * 450  # ~12,600 characters > cleaning.max_chars
# kind -> (how the row is broken, where it must end up)
KINDS = {
    "missing text": "quarantine:missing",
    "null text": "quarantine:missing",
    "empty text": "quarantine:empty",
    "whitespace only": "quarantine:empty",
    "number as text": "quarantine:not_text",
    "list as text": "quarantine:not_text",
    "undecodable bytes": "quarantine:invalid_utf8",
    "over-long text": "scored:truncated",
    "duplicate id": "scored:duplicate_ids",
    "bad score and date": "rollup:scores_out_of_range+dates_unparsed",
}


def make_input(path: Path, rows: int, seed: int = 7) -> Counter:
    """JSON Lines with BAD_SHARE bad rows spread over KINDS; returns the count injected per kind."""
    with open(ROOT / "data" / "sample" / "verbatims.csv", encoding="utf-8") as fh:
        sample = list(csv.DictReader(fh))
    rng = random.Random(seed)
    kinds = list(KINDS)
    injected: Counter = Counter()
    with open(path, "wb") as fh:
        for i in range(rows):
            base = sample[i % len(sample)]
            record = {
                "id": f"f{i:07d}",
                "text": base["text"],
                "touchpoint": base["touchpoint"],
                "date": base["date"],
                "nps": int(base["nps"]) if base.get("nps") else None,
            }
            raw = None
            if rng.random() < BAD_SHARE:
                kind = kinds[injected.total() % len(kinds)]
                injected[kind] += 1
                if kind == "missing text":
                    del record["text"]
                elif kind == "null text":
                    record["text"] = None
                elif kind == "empty text":
                    record["text"] = ""
                elif kind == "whitespace only":
                    record["text"] = "   \t  "
                elif kind == "number as text":
                    record["text"] = 12345
                elif kind == "list as text":
                    record["text"] = ["a", "b"]
                elif kind == "undecodable bytes":
                    raw = (
                        json.dumps(record, ensure_ascii=False)
                        .encode()
                        .replace(b'"text": "', b'"text": "\xff\xfe', 1)
                    )
                elif kind == "over-long text":
                    record["text"] = LONG_TEXT
                elif kind == "duplicate id":
                    record["id"] = "f0000000"  # the first row's id, repeated
                elif kind == "bad score and date":
                    record["nps"], record["date"] = 11, "yesterday"
            fh.write((raw or json.dumps(record, ensure_ascii=False).encode()) + b"\n")
    return injected


def score(
    src: Path, out: Path, model: str, kill_after_chunks: int | None = None
) -> subprocess.CompletedProcess:
    cmd = [CX, "score", str(src), "--out", str(out), "--model", model, "--chunk-size", str(CHUNK)]
    cmd += ["--no-tracking", "--max-quarantine-share", "0.5"]
    if kill_after_chunks is None:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    parts = out.with_name(out.name + ".parts")
    while proc.poll() is None and len(list(parts.glob("*.done"))) < kill_after_chunks:
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return subprocess.CompletedProcess(cmd, proc.returncode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--model", default="models/cx-terms-baseline")
    args = parser.parse_args()
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "tickets.jsonl"
        injected = make_input(src, args.rows)
        started = time.time()
        plain = score(src, tmp / "plain.parquet", args.model)
        plain_s = time.time() - started
        if plain.returncode != 0:
            sys.stderr.write(plain.stderr[-3000:])
            return 1
        killed = score(
            src, tmp / "resumed.parquet", args.model, kill_after_chunks=max(args.rows // CHUNK // 2, 1)
        )
        resumed = score(src, tmp / "resumed.parquet", args.model)
        quality = json.loads((tmp / "plain.quality.json").read_text())
        rerun = json.loads((tmp / "resumed.quality.json").read_text())
        rollup = subprocess.run(
            [
                CX,
                "rollup",
                str(tmp / "plain.parquet"),
                "--by",
                "touchpoint",
                "--by",
                "month",
                "--out",
                str(tmp / "r"),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        summary = json.loads((tmp / "r" / "summary.json").read_text()) if rollup.returncode == 0 else {}
        out_rows = pq.ParquetFile(tmp / "plain.parquet").metadata.num_rows
        q_rows = pq.ParquetFile(tmp / "plain.quarantine.parquet").metadata.num_rows
        identical = all(
            (tmp / f"plain{suffix}").read_bytes() == (tmp / f"resumed{suffix}").read_bytes()
            for suffix in (".parquet", ".quarantine.parquet")
        )

    reasons = quality["quarantine_reasons"]
    expected_reasons: Counter = Counter()
    for kind, where in KINDS.items():
        if where.startswith("quarantine:"):
            expected_reasons[where.split(":")[1]] += injected[kind]
    dq = summary.get("data_quality", {})
    measured = {
        "quarantine:missing": reasons.get("missing", 0),
        "quarantine:empty": reasons.get("empty", 0),
        "quarantine:not_text": reasons.get("not_text", 0),
        "quarantine:invalid_utf8": reasons.get("invalid_utf8", 0),
        "scored:truncated": quality["truncated_texts"],
        "scored:duplicate_ids": quality["duplicate_ids"],
        "rollup:scores_out_of_range+dates_unparsed": (
            dq.get("scores_out_of_range"),
            dq.get("dates_unparsed"),
        ),
    }
    print(f"{'kind':<22}{'injected':>10}  counted as")
    for kind, where in KINDS.items():
        print(f"{kind:<22}{injected[kind]:>10}  {where}")
    print()
    print(f"{'count':<44}{'expected':>12}{'measured':>12}")
    checks = [
        ("input rows = output + quarantine", args.rows, out_rows + q_rows),
        *((f"quarantine reason {r}", n, reasons.get(r, 0)) for r, n in sorted(expected_reasons.items())),
        ("truncated texts (flagged, scored)", injected["over-long text"], measured["scored:truncated"]),
        ("duplicate ids (warned, scored)", injected["duplicate id"], measured["scored:duplicate_ids"]),
        ("rollup: scores out of range", injected["bad score and date"], dq.get("scores_out_of_range")),
        ("rollup: dates unparsed", injected["bad score and date"], dq.get("dates_unparsed")),
        ("killed run's exit code (SIGKILL)", -9, killed.returncode),
        ("resumed run's exit code", 0, resumed.returncode),
        ("rerun resumed the killed run's finished chunks", True, rerun["resumed_chunks"] > 0),
        ("kill -9 + rerun byte-identical to one run", True, identical),
    ]
    for name, want, got in checks:
        ok = want == got
        print(f"{name:<44}{want!s:>12}{got!s:>12}  {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(name)
    print(f"\n{args.rows:,} rows, {sum(injected.values()):,} bad; one run {plain_s:.0f} s with {args.model}")
    print("PASS" if not failures else f"FAIL: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

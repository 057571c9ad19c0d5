"""`cx score`: tag a whole file in bounded memory, resumably, without losing a row.

- Streams the input in chunks; each finished chunk is written atomically as a part file under
  `OUTPUT.parts/`, with a manifest fingerprinting input, arguments and model. A killed run restarted with
  the same arguments skips the finished parts; the final assembly concatenates parts in order, so the
  result is byte-identical to an uninterrupted run.
- Rows with no usable text go to `OUTPUT.quarantine.<ext>` with the reason; every input row lands in
  exactly one of the two files (or is skipped as already processed, with `--state`).
- `--state FILE` remembers processed ids so a scheduled job scores only new tickets.
- The output keeps the input's columns, with the text column replaced by its PII-masked form.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.cleaning.cleaner import INVALID_UTF8, CleanResult
from pipeline.cleaning.files import keep_apart, partition
from pipeline.inference import BATCH_TOKENS, Tagger
from pipeline.paths import quarantine_path
from pipeline.precision import Precision
from pipeline.preflight import check_input, check_output, likely_encoding, sniff_delimiter
from pipeline.progress import progress as progress_bar
from pipeline.tables import (
    TableError,
    TableWriter,
    check_readable,
    iter_table,
    require_columns,
)

MANIFEST = "manifest.json"
INVALID_UTF8_FATAL_SHARE = 0.5  # above this share of undecodable rows, the file is in another encoding
ENCODING_EXAMPLES = 5  # undecodable rows shown (row number + how the bytes read) in the quality report
PREVIEW_CHARS = 80  # of each such row, PII-masked


@dataclass
class ScoreOptions:
    text_col: str = "text"
    id_col: str = "id"
    touchpoint_col: str = "touchpoint"
    date_col: str = "date"
    score_col: str = "nps"
    chunk_size: int = 2_000
    batch_tokens: int = BATCH_TOKENS  # padded tokens per encoder call
    precision: Precision = "auto"  # torch backend: bf16 where the CPU has native bf16, else fp32
    sentences: bool = True
    state: Path | None = None
    sep: str | None = None  # CSV delimiter; None: sniffed from the header (, ; or tab)
    encoding: str | None = None  # of a text input; None: UTF-8 (checked before the model loads)
    backend: str = "auto"  # torch | onnx | auto: what the bundle holds (`cx score --backend`)


@dataclass
class ScoreReport:
    rows: int = 0
    scored: int = 0
    quarantined: int = 0
    skipped_known: int = 0
    resumed_chunks: int = 0
    seconds: float = 0.0
    output: str = ""
    quarantine: str = ""
    model_version: str = ""
    arithmetic: str = ""  # what the encoder computed in (`Tagger.arithmetic`)
    delimiter: str = ""
    duplicate_ids: int = 0
    truncated: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    encoding_examples: list[dict[str, object]] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- state (incremental runs)
def load_state(path: Path | None) -> set[str]:
    if path is None or not path.is_file():
        return set()
    return set(json.loads(path.read_text(encoding="utf-8"))["ids"])


def require_state_ids(input_path: str | Path, columns: list[str], opts: ScoreOptions) -> None:
    """`--state` remembers ids, so an input without the id column cannot be scored incrementally."""
    if opts.state is not None and opts.id_col not in columns:
        raise TableError(
            f"{input_path}: --state needs an id column, and '{opts.id_col}' is not one "
            f"of {columns}; pass --id-col"
        )


def save_state(path: Path, ids: set[str], report: ScoreReport) -> None:
    payload = {"ids": sorted(ids), "last_run": {k: v for k, v in asdict(report).items() if k != "reasons"}}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- one chunk
def _sentence_labels(tagger: Tagger, cleaned: list[CleanResult], comment_level: pd.DataFrame) -> list[str]:
    """JSON list per comment of {text, sentiment, terms, forces} for each sentence.

    Single-sentence comments reuse the comment's labels; the others are tagged sentence by sentence in one
    batch (the cleaner already split them). This is a second encoder pass: pooling each sentence's token
    states out of the comment's own pass agreed with it on 67% of sentence sentiments and 35% of TERMS
    sets on the bundled sample, because the heads were trained on whole texts (README "Export for CPU
    scoring")."""
    spans, parts = [], []
    for i, c in enumerate(cleaned):
        if len(c.sentences) > 1:
            spans.append((i, len(parts), len(parts) + len(c.sentences)))
            # already clean, and a short sentence is in its comment's language
            parts.extend(CleanResult(text=sentence, lang=c.lang) for sentence in c.sentences)
    per_sentence = {}
    if parts:
        if tagger.meta.needs_lemmas:  # the baseline reads lemmas
            tagger.cleaner.annotate(parts, lemmas=True)
        ok = [j for j, part in enumerate(parts) if part.ok]
        tagged = tagger.tag_cleaned([parts[j] for j in ok]).set_index(pd.Index(ok))
        for i, a, b in spans:
            if all(j in tagged.index for j in range(a, b)):
                per_sentence[i] = [
                    {
                        "text": parts[j].text,
                        "sentiment": tagged.at[j, "sentiment"],
                        "terms": tagged.at[j, "terms"],
                        "forces": tagged.at[j, "forces"],
                    }
                    for j in range(a, b)
                ]
    out = []
    for i, c in enumerate(cleaned):
        rows = per_sentence.get(i) or [
            {
                "text": c.text,
                "sentiment": comment_level.at[i, "sentiment"],
                "terms": comment_level.at[i, "terms"],
                "forces": comment_level.at[i, "forces"],
            }
        ]
        out.append(json.dumps(rows, ensure_ascii=False))
    return out


def score_chunk(
    chunk: pd.DataFrame, tagger: Tagger, opts: ScoreOptions, model_version: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scored rows, quarantined rows) for one chunk; together they hold every row of the chunk.

    The chunk's index holds the 1-based input row numbers (kept through `--state` filtering), so row ids
    and `source_row` always point at the right line of the input."""
    rows = chunk.index.tolist()
    chunk = chunk.reset_index(drop=True)
    if opts.id_col in chunk.columns:
        if "id" not in chunk.columns:  # every output has an `id`, whatever the input called it
            chunk.insert(0, "id", chunk[opts.id_col])
    else:
        chunk.insert(0, "id", [f"row-{r}" for r in rows])
    # `cx rollup` reads these by their usual names, whatever the input called them
    for canonical, source in (
        ("touchpoint", opts.touchpoint_col),
        ("date", opts.date_col),
        ("score", opts.score_col),
    ):
        if source != canonical and source in chunk.columns and canonical not in chunk.columns:
            chunk[canonical] = chunk[source]
    cleaned = tagger.cleaner.batch(chunk[opts.text_col].tolist(), lemmas=tagger.meta.needs_lemmas)
    base, quarantined, good = partition(chunk, opts.text_col, cleaned, rows, tagger.cleaner)
    scored = pd.DataFrame()
    if good:
        kept = [cleaned[i] for i in good]
        labels = tagger.tag_cleaned(kept)
        if opts.sentences:
            labels["sentences"] = _sentence_labels(tagger, kept, labels)
        labels["model_version"] = model_version
        labels["truncated"] = [c.truncated for c in kept]  # longer than cleaning.max_chars: cut, flagged
        scored = pd.concat([keep_apart(base, set(labels.columns), opts.text_col), labels], axis=1)
    return scored, quarantined


# --------------------------------------------------------------------------- the run
def _fingerprint(input_path: Path, opts: ScoreOptions, model_version: str, out_format: str) -> str:
    stat = input_path.stat()
    payload = json.dumps(
        [
            str(input_path.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            asdict(opts) | {"state": None},
            model_version,
            out_format,
        ],
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    os.replace(tmp, path)


def count_rows(path: Path) -> int | None:
    """Row count for the progress bar's ETA (None when it would cost a full parse)."""
    fmt = check_readable(path)
    if fmt == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if fmt == "xlsx":
        return None
    with open(path, "rb") as fh:
        lines = sum(1 for _ in fh)
    return max(lines - (0 if fmt == "jsonl" else 1), 0)


def score_file(
    input_path: str | Path,
    output_path: str | Path,
    tagger: Tagger,
    model_version: str,
    opts: ScoreOptions,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
) -> ScoreReport:
    input_path, output_path = Path(input_path), Path(output_path)
    fmt = check_input(input_path, opts.encoding)
    check_output(output_path)
    out_format = output_path.suffix.lower()
    sep = opts.sep or (sniff_delimiter(input_path) if fmt == "csv" else None)
    started = time.time()
    parts = output_path.with_name(output_path.name + ".parts")
    fingerprint = _fingerprint(input_path, opts, model_version, out_format)
    manifest_path = parts / MANIFEST
    if parts.exists():
        old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        if old.get("fingerprint") != fingerprint:
            shutil.rmtree(parts)  # different input/arguments/model: the old parts are not ours
    parts.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps({"fingerprint": fingerprint, "input": str(input_path)}))
    known = load_state(opts.state)
    report = ScoreReport(
        output=str(output_path),
        quarantine=str(quarantine_path(output_path)),
        model_version=model_version,
        arithmetic=tagger.arithmetic,
        delimiter=sep or "",
    )
    try:
        new_ids = _score_chunks(
            input_path, parts, tagger, model_version, opts, sep, known, report, progress, on_chunk
        )
    except TableError:
        shutil.rmtree(parts, ignore_errors=True)  # a broken input leaves nothing behind; fix it and rerun
        raise
    _assemble(parts, output_path, ".out.parquet")
    _assemble(parts, quarantine_path(output_path), ".q.parquet")
    shutil.rmtree(parts)
    report.seconds = time.time() - started
    if opts.state is not None:
        save_state(opts.state, known | new_ids, report)
    return report


def _score_chunks(
    input_path: Path,
    parts: Path,
    tagger: Tagger,
    model_version: str,
    opts: ScoreOptions,
    sep: str | None,
    known: set[str],
    report: ScoreReport,
    progress: bool,
    on_chunk: Callable[[int], None] | None,
) -> set[str]:
    """Score every chunk not finished yet into `parts/`, adding to `report`; returns the processed ids."""
    new_ids: set[str] = set()
    listed_ids = 0
    first_row = 1
    with progress_bar(
        total=count_rows(input_path), desc=f"score {input_path.name}", unit=" rows", enabled=progress
    ) as bar:
        for k, chunk in enumerate(
            iter_table(
                input_path,
                chunksize=opts.chunk_size,
                sep=sep,
                raw_columns={opts.text_col},
                encoding=opts.encoding,
            )
        ):
            require_columns(chunk, input_path, [opts.text_col])
            n = len(chunk)
            chunk.index = range(first_row, first_row + n)
            done = parts / f"{k:06d}.done"
            if done.is_file():
                report.resumed_chunks += 1
                meta = json.loads(done.read_text())
            else:
                require_state_ids(input_path, list(chunk.columns), opts)
                skipped = 0
                if known:
                    ids = chunk[opts.id_col]
                    fresh = ~(ids.notna() & ids.astype(str).isin(known))  # a row without an id is always new
                    skipped, chunk = int((~fresh).sum()), chunk[fresh]
                scored, quarantined = score_chunk(chunk, tagger, opts, model_version)
                _check_encoding(input_path, quarantined, len(chunk), first_row)
                _atomic_parquet(scored, parts / f"{k:06d}.out.parquet")
                _atomic_parquet(quarantined, parts / f"{k:06d}.q.parquet")
                meta = {
                    "rows": n,
                    "scored": len(scored),
                    "truncated": int(scored["truncated"].sum()) if len(scored) else 0,
                    "quarantined": len(quarantined),
                    "skipped": skipped,
                    "ids": _ids(chunk, opts.id_col),
                    "reasons": quarantined["reason"].value_counts().to_dict() if len(quarantined) else {},
                    "encoding_examples": _encoding_examples(
                        chunk, quarantined, opts.text_col, tagger, opts.encoding
                    ),
                }
                tmp = done.with_suffix(".tmp")
                tmp.write_text(json.dumps(meta))
                os.replace(tmp, done)
            report.rows += meta["rows"]
            report.scored += meta["scored"]
            report.quarantined += meta["quarantined"]
            report.skipped_known += meta["skipped"]
            report.truncated += meta["truncated"]
            for reason, count in meta["reasons"].items():
                report.reasons[reason] = report.reasons.get(reason, 0) + count
            room = ENCODING_EXAMPLES - len(report.encoding_examples)
            report.encoding_examples += meta.get("encoding_examples", [])[: max(room, 0)]
            new_ids.update(meta["ids"])
            listed_ids += len(meta["ids"])
            first_row += n
            bar.update(n)
            if on_chunk:
                on_chunk(k)
    report.duplicate_ids = listed_ids - len(new_ids)
    return new_ids


def _ids(chunk: pd.DataFrame, id_col: str) -> list[str]:
    """The ids this chunk processed, for `--state` (missing ids are never remembered)."""
    if id_col not in chunk.columns:
        return []
    return [str(v) for v in chunk[id_col] if v is not None and v == v]


def _check_encoding(path: Path, quarantined: pd.DataFrame, rows: int, first_row: int) -> None:
    """Past the 64 KB that preflight sniffs: a chunk mostly undecodable means the file's encoding is
    another one (a few undecodable rows are a mixed file: quarantined and reported instead)."""
    if not rows or quarantined.empty:
        return
    bad = quarantined[quarantined["reason"] == INVALID_UTF8]
    if len(bad) / rows > INVALID_UTF8_FATAL_SHARE:
        raise TableError(
            f"{path}: {len(bad)} of {rows} rows from row {first_row} do not decode: the file is in another "
            "encoding; pass --encoding (cp1251 for most Cyrillic exports) or convert the file to UTF-8"
        )


def _encoding_examples(
    chunk: pd.DataFrame, quarantined: pd.DataFrame, text_col: str, tagger: Tagger, encoding: str | None
) -> list[dict[str, object]]:
    """Where a mixed-encoding file went wrong: the first undecodable rows of a chunk, each with its input
    row number, the encoding its bytes most likely are in, and a PII-masked preview read in that encoding
    (so the operator can find and fix those rows at the source)."""
    out: list[dict[str, object]] = []
    for row in quarantined.loc[quarantined["reason"] == INVALID_UTF8, "source_row"][:ENCODING_EXAMPLES]:
        raw = str(chunk.at[row, text_col]).encode(encoding or "utf-8", "surrogateescape")
        guess = likely_encoding(raw)
        preview = tagger.cleaner.mask_raw(raw.decode(guess, errors="replace"))[:PREVIEW_CHARS]
        out.append({"row": int(row), "likely_encoding": guess, "preview": preview})
    return out


def _assemble(parts: Path, target: Path, suffix: str) -> None:
    """Concatenate the part files in chunk order into the target format (deterministic bytes).

    Chunks of a JSONL input may carry different keys: every part is aligned to the union of all parts'
    columns (in order of first appearance), so no column is dropped and none shifts under another name."""
    files = sorted(parts.glob(f"*{suffix}"))
    columns = list(
        dict.fromkeys(n for f in files for n in pq.read_schema(f).names if n != "__index_level_0__")
    )
    tmp = target.with_name(target.name + ".tmp" + target.suffix)
    with TableWriter(tmp) as writer:
        for file in files:
            frame = pq.read_table(file).to_pandas()
            if len(frame):
                for column in columns:  # absent here: an empty text column, never a float NaN column
                    if column not in frame:
                        frame[column] = pd.Series([None] * len(frame), dtype=object)
                writer.write(frame[columns])
    os.replace(tmp, target)

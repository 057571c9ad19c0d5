"""Clean a whole file: every input row lands in the output or in the quarantine file, with its reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.cleaning.cleaner import Cleaner, CleanResult
from pipeline.paths import quarantine_path
from pipeline.progress import progress as progress_bar
from pipeline.tables import (
    TableWriter,
    check_readable,
    iter_table,
    printable,
    require_columns,
)


@dataclass
class CleanFileReport:
    rows: int
    cleaned: int
    quarantined: int
    output: Path
    quarantine: Path
    languages: dict[str, int]


def _clean_columns(results: list[CleanResult], lemmas: bool) -> dict[str, list]:
    cols: dict[str, list] = {
        "text_clean": [r.text for r in results],
        "lang": [r.lang for r in results],
        "lang_confidence": [r.lang_confidence for r in results],
        "sentences": [json.dumps(r.sentences, ensure_ascii=False) for r in results],
        "n_sentences": [len(r.sentences) for r in results],
        "pii_masked": [json.dumps(r.pii, sort_keys=True) for r in results],
        "truncated": [r.truncated for r in results],
    }
    if lemmas:
        cols["lemmas"] = [" ".join(r.lemmas or []) for r in results]
    return cols


def keep_apart(frame: pd.DataFrame, reserved: set[str], text_col: str) -> pd.DataFrame:
    """Rename input columns that would collide with columns we add (`lang` -> `input_lang`, ...):
    re-scoring a scored file or a labelled export must not produce duplicate column names."""
    clashes = {c: f"input_{c}" for c in frame.columns if c in reserved and c != text_col}
    return frame.rename(columns=clashes) if clashes else frame


def partition(
    chunk: pd.DataFrame, text_col: str, results: list[CleanResult], rows: list[int], cleaner: Cleaner
) -> tuple[pd.DataFrame, pd.DataFrame, list[int]]:
    """Split a chunk into (cleaned rows, quarantined rows, indices of the cleaned ones).

    Both sides are safe to store: the text column holds the PII-masked text (cleaned rows) or the raw
    text with PII masked and bad bytes escaped (quarantine); undecodable bytes in any other column are
    kept as visible escapes. Quarantined rows carry their 1-based `source_row` and the `reason`."""
    good = [i for i, r in enumerate(results) if r.ok]
    bad = [i for i, r in enumerate(results) if not r.ok]
    chunk = keep_apart(chunk, {"source_row", "reason"}, text_col)
    kept = chunk.iloc[good].reset_index(drop=True).map(printable)
    kept[text_col] = [results[i].text for i in good]
    rejected = chunk.iloc[bad].reset_index(drop=True).map(printable)
    rejected[text_col] = [cleaner.mask_raw(v) for v in chunk[text_col].iloc[bad]]
    rejected.insert(0, "source_row", [rows[i] for i in bad])
    rejected["reason"] = [results[i].error for i in bad]
    return kept, rejected, good


def clean_file(
    input_path: str | Path,
    output_path: str | Path,
    text_col: str = "text",
    lemmas: bool = False,
    chunksize: int = 2_000,
    cleaner: Cleaner | None = None,
    progress: bool = True,
) -> CleanFileReport:
    check_readable(input_path)  # fail before any output file is created
    cleaner = cleaner or Cleaner()
    output_path = Path(output_path)
    qpath = quarantine_path(output_path)
    languages: dict[str, int] = {}
    rows = 0
    with (
        TableWriter(output_path) as out,
        TableWriter(qpath) as quarantine,
        progress_bar(desc=f"clean {Path(input_path).name}", unit=" rows", enabled=progress) as bar,
    ):
        for chunk in iter_table(input_path, chunksize=chunksize):
            require_columns(chunk, input_path, [text_col])
            chunk = chunk.reset_index(drop=True)
            results = cleaner.batch(chunk[text_col].tolist(), lemmas=lemmas)
            kept, rejected, good = partition(
                chunk, text_col, results, list(range(rows + 1, rows + 1 + len(chunk))), cleaner
            )
            if good:
                cleaned = pd.concat(
                    [kept, pd.DataFrame(_clean_columns([results[i] for i in good], lemmas))], axis=1
                )
                out.write(cleaned)
                for lang in cleaned["lang"]:
                    languages[lang] = languages.get(lang, 0) + 1
            if len(rejected):
                quarantine.write(rejected)
            rows += len(chunk)
            bar.update(len(chunk))
    return CleanFileReport(rows, out.rows, quarantine.rows, output_path, qpath, languages)

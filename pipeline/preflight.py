"""Checks that run before a model loads: the input is a table we can read and the output can be written.

An operator should learn in a second, not after nine seconds of model loading and a 40-line traceback,
that a path is wrong, a file is UTF-16 or binary, a CSV is separated by semicolons, or the output folder is
a file. Every failure is one `TableError` line naming the file and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.tables import FORMATS, TableError, table_format

SNIFF_BYTES = 65_536
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def check_input(path: str | Path) -> str:
    """The format of a readable input table, or TableError with the fix."""
    path = Path(path)
    if not path.exists():
        raise TableError(f"{path}: no such file (relative paths start at {Path.cwd()})")
    if path.is_dir():
        raise TableError(f"{path}: is a folder; pass the file to score")
    if path.suffix.lower() in {".xlsx", ".xls"}:
        raise TableError(f"{path}: a spreadsheet; save the sheet as CSV (UTF-8) or Parquet and pass that")
    fmt = table_format(path)
    if path.stat().st_size == 0:
        raise TableError(f"{path}: the file is empty; there is nothing to score")
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise TableError(f"{path}: not a Parquet file (no PAR1 header); check the extension")
        return fmt
    if head.startswith(UTF16_BOMS) or head[1::2].count(0) > len(head) // 4:
        raise TableError(
            f"{path}: UTF-16 text; convert it to UTF-8 first, e.g. "
            f"`iconv -f utf-16 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`"
        )
    if b"\x00" in head:
        raise TableError(
            f"{path}: binary data, not a {fmt.upper()} text file (a spreadsheet or an archive renamed?); "
            "export the table as CSV (UTF-8) or Parquet"
        )
    return fmt


def sniff_delimiter(path: str | Path) -> str:
    """The delimiter of a .csv file from its header line: ',' unless the header holds no comma but ';' or
    a tab (European spreadsheet exports)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    if "," in header:
        return ","
    counts = {sep: header.count(sep) for sep in DELIMITERS if sep != ","}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def check_output(path: str | Path) -> None:
    """TableError unless `path` can be created: a known extension, under folders (not files) we may write."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise TableError(f"{path}: unsupported output extension; use one of {', '.join(sorted(FORMATS))}")
    if path.is_dir():
        raise TableError(f"{path}: is a folder; pass a file name such as {path / 'scored.parquet'}")
    existing = next(p for p in [path.parent, *path.parent.parents] if p.exists())
    if not existing.is_dir():
        raise TableError(f"{path}: {existing} is a file, not a folder; choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TableError(f"{path}: no permission to write under {existing}; choose a writable --out")

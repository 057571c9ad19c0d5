"""Checks that run before a model loads: the input is a table we can read and the output can be written.

An operator should learn in a second, not after nine seconds of model loading and a 40-line traceback,
that a path is wrong, a file is UTF-16, cp1251 or binary, a CSV is separated by semicolons, or the output
folder is a file. Every failure is one `TableError` line naming the file and the fix.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Collection
from pathlib import Path

from pipeline.tables import WRITABLE, TableError, table_format

SNIFF_BYTES = 65_536
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MAX_CHAR_BYTES = 4  # the longest encoded character (UTF-8); a shorter tail may be cut mid-character
MIN_UNDECODABLE_LINES = 3  # fewer undecodable lines in the head are a mixed file, not another encoding
BINARY_MAGIC = {
    "parquet": (b"PAR1", "a Parquet file (no PAR1 header)"),
    "xlsx": (b"PK\x03\x04", "an .xlsx workbook"),
}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def check_input(path: str | Path, encoding: str | None = None) -> str:
    """The format of a readable input table, or TableError with the fix. `encoding` is what the user
    passed with `--encoding` (None: the file must be UTF-8, which is checked on its first 64 KB)."""
    path = Path(path)
    if not path.exists():
        raise TableError(f"{path}: no such file (relative paths start at {Path.cwd()})")
    if path.is_dir():
        raise TableError(f"{path}: is a folder; pass the file to score")
    if path.suffix.lower() == ".xls":
        raise TableError(f"{path}: an old-style .xls workbook; save it as .xlsx or CSV (UTF-8) and pass that")
    fmt = table_format(path)
    if path.stat().st_size == 0:
        raise TableError(f"{path}: the file is empty; there is nothing to score")
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if fmt in BINARY_MAGIC:
        magic, what = BINARY_MAGIC[fmt]
        if not head.startswith(magic):
            raise TableError(f"{path}: not {what}; check the extension")
        return fmt
    if encoding:
        _check_decodes(path, head, encoding)
        return fmt
    if head.startswith(UTF16_BOMS) or head[1::2].count(0) > len(head) // 4:
        raise TableError(f"{path}: UTF-16 text; pass --encoding utf-16 (or convert the file to UTF-8)")
    if b"\x00" in head:
        raise TableError(
            f"{path}: binary data, not a {fmt.upper()} text file (a spreadsheet or an archive renamed?); "
            "export the table as CSV (UTF-8) or Parquet"
        )
    _check_utf8(path, head)
    return fmt


def _check_decodes(path: Path, head: bytes, encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise TableError(f"--encoding {encoding}: unknown encoding; e.g. utf-8, utf-16, cp1251") from exc
    try:
        head.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - MAX_CHAR_BYTES:  # not just a character cut by the 64 KB window
            raise TableError(f"{path}: byte {exc.start} is not valid {encoding}; check --encoding") from exc


def _check_utf8(path: Path, head: bytes) -> None:
    """A file mostly in another encoding fails here with the `--encoding` to pass. A file with only some
    undecodable lines (mixed encodings) is let through: those rows are quarantined and reported."""
    lines = [line for line in head.split(b"\n")[:-1] if max(line, default=0) > 0x7F]
    bad = []
    for line in lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(line)
    if len(bad) >= MIN_UNDECODABLE_LINES and len(bad) * 2 > len(lines):
        guess = likely_encoding(b"\n".join(bad))
        raise TableError(
            f"{path}: not UTF-8 ({len(bad)} of the first {len(lines)} lines with non-ASCII text do not "
            f"decode); it reads as {guess}: pass --encoding {guess} (or convert the file to UTF-8)"
        )


def likely_encoding(raw: bytes) -> str:
    """cp1251 when the bytes read as Cyrillic text there (the usual non-UTF-8 export in ru/bg offices),
    else cp1252 (Western Windows exports; unlike latin-1 it has the curly quotes and the euro sign)."""
    text = raw.decode("cp1251", errors="replace")
    letters = [c for c in text if c.isalpha()]
    cyrillic = sum("\u0400" <= c <= "\u04ff" for c in letters)
    return "cp1251" if letters and cyrillic / len(letters) > 0.5 else "cp1252"


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


def check_output(path: str | Path, extensions: Collection[str] = tuple(WRITABLE)) -> None:
    """TableError unless `path` can be created: a known extension, under folders (not files) we may write."""
    path = Path(path)
    if path.suffix.lower() not in extensions:
        raise TableError(f"{path}: unsupported output extension; use one of {', '.join(sorted(extensions))}")
    if path.is_dir():
        raise TableError(f"{path}: is a folder; pass a file name such as {path / 'scored.parquet'}")
    existing = next(p for p in [path.parent, *path.parent.parents] if p.exists())
    if not existing.is_dir():
        raise TableError(f"{path}: {existing} is a file, not a folder; choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TableError(f"{path}: no permission to write under {existing}; choose a writable --out")

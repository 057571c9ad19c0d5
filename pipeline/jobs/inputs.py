"""What a batch job records about its input tables: which files they are and one digest of their bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.tables import file_sha256


def is_part_folder(path: Path) -> bool:
    """A Parquet table written by Spark: a folder named `*.parquet` holding part files."""
    return path.is_dir() and path.suffix.lower() == ".parquet"


def table_files(table: Path) -> list[Path]:
    """A table's files: the file itself, or the part files of a folder (Spark writes and reads those)."""
    return sorted(table.glob("*.parquet")) if table.is_dir() else [table]


def tables_sha256(tables: list[str | Path]) -> str:
    """One digest for one or many input tables (a single file keeps its own file digest; a Parquet folder
    is the digest of its part files); empty where an input is not on this machine (a URI Spark reads)."""
    if any("://" in str(t) for t in tables):
        return ""
    parts = [f for table in tables for f in table_files(Path(table))]
    if not parts or not all(f.is_file() for f in parts):
        return ""
    if len(parts) == 1:
        return file_sha256(parts[0])
    return hashlib.sha256("".join(file_sha256(f) for f in parts).encode()).hexdigest()

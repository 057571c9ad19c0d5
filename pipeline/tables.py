"""Read and write the tabular formats CX teams export: CSV, TSV, JSON Lines, Parquet (and read Excel).

Reading is chunked (bounded memory for large ticket dumps) and every cell is read as text, so ids like
"000123" keep their zeros. Undecodable bytes survive as lone surrogates (``surrogateescape``): the row
then fails cleaning with ``invalid_utf8`` and goes to quarantine instead of killing the whole file.
Structural problems (bad quoting, missing columns, unknown extension) raise :class:`TableError` with
the file, the line where known, and how to fix it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

_TSV_BREAKS = re.compile(r"[\t\r\n]+")
WRITABLE = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
FORMATS = WRITABLE | {".xlsx": "xlsx"}  # readable: the first worksheet of a workbook, streamed


class TableError(ValueError):
    """A file the pipeline cannot read as a table; the message says where and how to fix it."""


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise TableError(f"{path}: unsupported extension '{suffix}'; use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def _explain_parser_error(path: Path, exc: Exception) -> TableError:
    line = re.search(r"line (\d+)", str(exc))
    where = f" near line {line.group(1)}" if line else ""
    return TableError(
        f"{path}{where}: cannot parse the file ({exc}). Usually an unescaped quote or a delimiter inside "
        'a text field: quote text fields with " and double any " inside them, then retry.'
    )


def check_readable(path: str | Path) -> str:
    """The file's format, or a TableError saying why it cannot be read."""
    if not Path(path).is_file():
        raise TableError(f"{path}: no such file")
    return table_format(path)


def iter_table(
    path: str | Path,
    chunksize: int = 10_000,
    sep: str | None = None,
    raw_columns: Collection[str] = (),
    encoding: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the table in chunks of at most `chunksize` rows, all columns as strings (missing = None);
    `sep` overrides the delimiter of a CSV (',' by default; a TSV is always tab-separated); `encoding`
    that of a text format (UTF-8 by default). Columns in `raw_columns` keep the values a typed format
    stored (a number in a Parquet, Excel or JSONL text column stays a number, so cleaning can refuse it as
    `not_text` instead of scoring "12345" as a comment)."""
    path = Path(path)
    fmt = check_readable(path)
    if path.stat().st_size == 0:  # an empty output of an earlier step (nothing scored): no rows
        return
    try:
        if fmt == "parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunksize):
                yield _as_text(_arrow_as_text(batch, raw_columns).to_pandas(), raw_columns)
            return
        if fmt == "xlsx":
            yield from _iter_xlsx(path, chunksize, raw_columns)
            return
        if fmt == "jsonl":
            yield from _iter_jsonl(path, chunksize, raw_columns, encoding or "utf-8")
            return
        reader = pd.read_csv(
            path,
            sep="\t" if fmt == "tsv" else (sep or ","),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            chunksize=chunksize,
            encoding=encoding or "utf-8",
            encoding_errors="surrogateescape",
            # a TSV has no quoting: a stray " must not swallow the following lines
            quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL,
        )
        with reader:
            for chunk in reader:
                yield _as_text(chunk)
    except (pd.errors.ParserError, ValueError, pa.ArrowInvalid) as exc:
        if isinstance(exc, TableError):
            raise
        raise _explain_parser_error(path, exc) from exc


def _arrow_as_text(batch: pa.RecordBatch, raw_columns: Collection[str] = ()) -> pa.RecordBatch:
    """Numbers, booleans and dates as Arrow-rendered strings: id 101 stays "101" even next to a null."""
    plain = (
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_boolean,
        pa.types.is_temporal,
        pa.types.is_decimal,
    )
    columns = [
        col.cast(pa.string()) if name not in raw_columns and any(test(col.type) for test in plain) else col
        for name, col in zip(batch.schema.names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _iter_xlsx(path: Path, chunksize: int, raw_columns: Collection[str] = ()) -> Iterator[pd.DataFrame]:
    """The first worksheet, streamed row by row (openpyxl read-only mode keeps memory flat), the first row
    as the header. Cells keep Excel's types until `_as_text`; rows with no value at all are layout, not
    data, and are skipped."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException variants
        raise TableError(f"{path}: not a readable .xlsx workbook ({exc}); re-save it from Excel") from exc
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read-only mode would trust it
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        names = [str(h) if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
        records: list[dict] = []
        for values in rows:
            if all(v is None or v == "" for v in values):
                continue
            records.append(dict(zip(names, values, strict=False)))
            if len(records) >= chunksize:
                yield _records_frame(records, raw_columns)
                records = []
        if records:
            yield _records_frame(records, raw_columns)
    finally:
        book.close()


def _iter_jsonl(
    path: Path, chunksize: int, raw_columns: Collection[str] = (), encoding: str = "utf-8"
) -> Iterator[pd.DataFrame]:
    """JSON Lines read record by record: no type guessing (ids stay ids, dates stay text), keys may vary
    between records, and a broken line is reported with its number."""
    records: list[dict] = []
    with open(path, encoding=encoding, errors="surrogateescape") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TableError(
                    f"{path}:{line_no}: not valid JSON ({exc.msg}); fix or remove that line"
                ) from exc
            if not isinstance(record, dict):
                raise TableError(f"{path}:{line_no}: each line must be a JSON object")
            records.append(record)
            if len(records) >= chunksize:
                yield _records_frame(records, raw_columns)
                records = []
    if records:
        yield _records_frame(records, raw_columns)


def _records_frame(records: list[dict], raw_columns: Collection[str] = ()) -> pd.DataFrame:
    columns = list(dict.fromkeys(key for record in records for key in record))
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in records], dtype=object) for c in columns})
    return _as_text(frame, raw_columns)


def read_table(path: str | Path) -> pd.DataFrame:
    chunks = list(iter_table(path))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def text_value(value: object) -> object:
    """A cell as text: text stays text; numbers and booleans as written; lists and dicts as JSON; NaN and
    None become None."""
    if is_missing(value):
        return None
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _as_text(df: pd.DataFrame, raw_columns: Collection[str] = ()) -> pd.DataFrame:
    """Every column as text (`text_value`), except `raw_columns`, where only NaN becomes None."""
    out = df.astype(object)
    for col in out.columns:
        keep = col in raw_columns
        out[col] = [(None if is_missing(v) else v) if keep else text_value(v) for v in out[col]]
    return out


def require_columns(df: pd.DataFrame, path: str | Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TableError(
            f"{path}: missing column(s) {missing}; found {list(df.columns)}. "
            "Rename the column or pass it explicitly (e.g. --text-col comment)."
        )


class TableWriter:
    """Append chunks to one output file of any supported format (header/schema from the first chunk)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fmt = table_format(self.path)
        if self.path.suffix.lower() not in WRITABLE:
            raise TableError(f"{path}: cannot write {self.fmt}; use one of {', '.join(sorted(WRITABLE))}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._started = False
        self.rows = 0

    def write(self, df: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            table = pa.Table.from_pandas(df, preserve_index=False, schema=self._schema)
            if self._parquet is None:
                # an all-missing column in the first chunk must not fix its type to `null` for the rest
                self._schema = pa.schema(
                    [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
                )
                table = table.cast(self._schema)
                self._parquet = pq.ParquetWriter(self.path, self._schema)
            self._parquet.write_table(table)
        else:
            mode = "a" if self._started else "w"
            if self.fmt == "jsonl":
                with open(self.path, mode, encoding="utf-8", errors="surrogateescape") as fh:
                    for rec in df.to_dict(orient="records"):
                        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            else:
                tsv = (
                    self.fmt == "tsv"
                )  # TSV has no quoting: tabs and line breaks inside a value become spaces
                frame = df.map(lambda v: _TSV_BREAKS.sub(" ", v) if isinstance(v, str) else v) if tsv else df
                frame.to_csv(
                    self.path,
                    mode=mode,
                    header=not self._started,
                    index=False,
                    sep="\t" if tsv else ",",
                    quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
                    encoding="utf-8",
                    errors="surrogateescape",
                )
        self._started = True
        self.rows += len(df)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif not self._started:  # an empty result is still a file the next step can open
            if self.fmt == "parquet":
                pq.write_table(pa.table({}), self.path)
            else:
                self.path.write_text("", encoding="utf-8")

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def printable(value: object) -> object:
    """Make a cell storable anywhere: undecodable bytes kept as visible escapes (b'\\xff' -> '\\xff')."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def file_sha256(path: str | Path) -> str:
    """Content digest of a file, read in 4 MB blocks (model weights, input files of batch runs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()

"""What both Spark jobs share: a session whose workers run this interpreter, and reading a table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.tables import TableError, table_format

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

SPARK_FORMATS = ("parquet", "csv", "tsv", "jsonl")
PART = "__part"  # which of a job's outputs an executor's row belongs to


def tagged_parts(parts: dict[str, pd.DataFrame], names: list[str]) -> Iterator[pd.DataFrame]:
    """An executor's outputs as one schema (`names`, then PART): Spark's mapInPandas yields a single
    table, so each output takes the other's columns as nulls and says in PART which it is."""
    import pandas as pd

    for part, frame in parts.items():
        if len(frame):
            empty = pd.Series(None, index=frame.index, dtype=object)
            out = pd.DataFrame({c: frame.get(c, empty) for c in names if c != PART})
            out[PART] = part
            yield out


def read_frame(
    spark: SparkSession, path: str, sep: str | None = None, encoding: str | None = None
) -> DataFrame:
    """A Parquet, CSV/TSV or JSONL table (a file, a folder of part files, or any URI Spark reads), its
    format told by the extension as in the local engine; a folder without one is Parquet, Spark's own."""
    fmt = table_format(Path(path)) if Path(path).suffix else "parquet"
    if fmt not in SPARK_FORMATS:
        raise TableError(f"{path}: the Spark engine reads {', '.join(SPARK_FORMATS)}; convert it to Parquet")
    reader = spark.read
    if fmt == "parquet":
        return reader.parquet(path)
    if fmt == "jsonl":
        return reader.json(path, encoding=encoding or "utf-8")
    return reader.csv(
        path,
        header=True,
        sep="\t" if fmt == "tsv" else (sep or ","),
        multiLine=fmt == "csv",
        escape='"',
        encoding=encoding or "utf-8",
    )


def spark_session(master: str, app_name: str = "cx-terms", chunk_size: int = 2_000) -> SparkSession:
    """A session whose Python workers run this interpreter (so they import cx-terms and its models) and
    whose Arrow batches are the local engine's chunks."""
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_size))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )

"""`cx rollup --engine spark`: the local engine's tables from counts that Spark computes.

Every rollup table but the quotes is a function of how many comments share each combination of
touchpoint, month, sentiment, score, labels and model version (`pipeline.rollup.tables.count_rows`), and
the quotes of all comments are the best of the best quotes of each part. So the executors run the local
engine's own `prepare`, `count_rows` and `quote_candidates` on each Arrow batch, Spark SQL sums the counts
and keeps the best candidates per cell, and the driver hands the few thousand rows left to `summarize`,
the code that builds the local engine's tables. Both engines give the same tables by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import reduce
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.labels import LEGACY_COLUMNS
from pipeline.paths import quarantine_path
from pipeline.rollup.tables import (
    KEYS,
    QUALITY_FLAGS,
    QUOTE_COLUMNS,
    RollupOptions,
    count_rows,
    prepare,
    quote_candidates,
    summarize,
)
from pipeline.spark.io import PART, read_frame, tagged_parts
from pipeline.tables import TableError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

COUNTS, QUOTES = "counts", "quotes"
INPUT, POSITION = "__input", "__position"


def read_scored(spark: SparkSession, paths: list[str], id_col: str) -> tuple[DataFrame, int, int]:
    """The scored rows of every input (a file or a folder of part files each) with each id once, the
    quarantined row count, and how many repeated rows were dropped, as the local engine's `read_scored`:
    probabilities keep their type, every other column is read as text, and a repeated id keeps the row of
    the last input (the last row within it)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frames = []
    for i, path in enumerate(paths):
        frame = read_frame(spark, path)
        for old, new in LEGACY_COLUMNS.items():
            if old in frame.columns and new not in frame.columns:
                frame = frame.withColumnRenamed(old, new)
        frame = frame.select(
            *(F.col(c) if c.startswith("p_") else F.col(c).cast("string").alias(c) for c in frame.columns)
        )
        frames.append(frame.withColumn(INPUT, F.lit(i)).withColumn(POSITION, F.monotonically_increasing_id()))
    union = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    dropped = 0
    if len(paths) > 1 and id_col in union.columns:
        last = Window.partitionBy(id_col).orderBy(F.col(INPUT).desc(), F.col(POSITION).desc())
        ranked = union.withColumn("__rank", F.row_number().over(last))
        kept = ranked.filter((F.col("__rank") == 1) | F.col(id_col).isNull()).drop("__rank")
        dropped = union.count() - kept.count()
        union = kept
    return union.drop(INPUT, POSITION), sum(_quarantined(spark, p) for p in paths), dropped


def _quarantined(spark: SparkSession, path: str) -> int:
    from pyspark.errors import AnalysisException

    quarantine = quarantine_path(path)
    if "://" not in path and not quarantine.exists():  # a local input without one: no Spark warning
        return 0
    try:
        return read_frame(spark, str(quarantine)).count()
    except AnalysisException:  # no quarantine beside this input
        return 0


def part_schema() -> StructType:
    """The executors' output: comment counts and quote candidates, told apart by `PART`."""
    from pyspark.sql import types as T

    typed = {"score": T.DoubleType(), "n": T.LongType(), "rank": T.LongType(), "probability": T.DoubleType()}
    typed |= dict.fromkeys(QUALITY_FLAGS, T.BooleanType())
    names = list(dict.fromkeys([*KEYS, "n", *QUOTE_COLUMNS, PART]))
    return T.StructType([T.StructField(c, typed.get(c, T.StringType()), True) for c in names])


def partial_tables(
    opts: RollupOptions, text_col: str, schema: StructType
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Per Arrow batch: its comment counts and its best quotes per cell, with the local engine's code."""
    names = schema.fieldNames()

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            prepared = prepare(batch, opts)
            parts = {
                COUNTS: count_rows(prepared),
                QUOTES: quote_candidates(prepared, opts.quotes_per_cell, text_col),
            }
            yield from tagged_parts(parts, names)

    return run


def rollup_on_spark(
    spark: SparkSession, paths: list[str], opts: RollupOptions, text_col: str = "text", id_col: str = "id"
) -> tuple[dict, int, int, int]:
    """(the rollup result, scored rows, quarantined rows, repeated rows dropped) of `paths`."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    scored, quarantined, dropped = read_scored(spark, paths, id_col)
    if text_col not in scored.columns:
        raise TableError(f"the scored input has no text column '{text_col}'; pass --text-col")
    schema = part_schema()
    parts = scored.mapInPandas(partial_tables(opts, text_col, schema), schema).persist(StorageLevel.DISK_ONLY)
    try:
        counts = parts.filter(F.col(PART) == COUNTS).groupBy(*KEYS).agg(F.sum("n").alias("n")).toPandas()
        probability = F.when(F.isnan("probability"), None).otherwise(F.col("probability"))  # NaN last
        best = Window.partitionBy("touchpoint", "dimension", "label").orderBy(
            (F.col("sentiment") == "negative").desc_nulls_last(),
            probability.desc_nulls_last(),
            F.col("id").asc_nulls_last(),
            F.col("text").asc_nulls_last(),
        )
        quotes = (
            parts.filter(F.col(PART) == QUOTES)
            .withColumn("__best", F.row_number().over(best))
            .filter(F.col("__best") <= opts.quotes_per_cell)
            .select(*QUOTE_COLUMNS)
            .toPandas()
        )
    finally:
        parts.unpersist()
    counts = counts.astype({"n": "int64", **dict.fromkeys(QUALITY_FLAGS, bool)})
    if not len(counts):
        raise TableError(f"{', '.join(paths)}: no scored rows to roll up (run `cx score` first)")
    return summarize(counts, quotes, opts), int(counts["n"].sum()), quarantined, dropped

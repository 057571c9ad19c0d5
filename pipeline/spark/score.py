"""`cx score --engine spark`: the local engine's chunk scoring, run by Spark executors over Arrow batches.

Spark reads the input (Parquet, CSV/TSV or JSONL: a file, a folder of part files, or any URI Spark reads),
numbers the rows in input order, drops the ids a `--state` file already holds, and hands Arrow batches of
`chunk_size` rows to a pandas function on the executors. That function calls `pipeline.batch.score_chunk`,
the very code of the local engine, so cleaning, PII masking, labels and quarantine reasons are the same;
the bundle is loaded once per Python worker and reused for every batch it scores.

The output is two Parquet folders of part files, `OUTPUT` and `OUTPUT`'s quarantine (`scored.parquet` and
`scored.quarantine.parquet`), with the local engine's columns and types; both engines' files read the
same with pandas or Spark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.batch import ScoreOptions, ScoreReport, load_state, require_state_ids, save_state, score_chunk
from pipeline.inference import Tagger
from pipeline.paths import quarantine_path
from pipeline.precision import Precision
from pipeline.spark.io import PART, read_frame, tagged_parts
from pipeline.tables import TableError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

ROW = "__row"  # 1-based input row number, as the local engine counts rows
PARTITION, POSITION = "__partition", "__position"
WITHIN_PARTITION = (1 << 33) - 1  # monotonically_increasing_id: partition id above bit 33, position below
SCORED, QUARANTINED = "scored", "quarantined"
PROBE_TEXT = "The courier was two hours late, but he apologised."  # a comment that always cleans

# per Python worker: one bundle load serves every batch it scores
_taggers: dict[tuple[str, str, int, int, str], Tagger] = {}


def worker_tagger(bundle: str, backend: str, threads: int, batch_tokens: int, precision: Precision) -> Tagger:
    """`precision` auto is decided on the executor's own CPU (bf16 where it has native bf16)."""
    key = (bundle, backend, threads, batch_tokens, precision)
    if key not in _taggers:
        _taggers[key] = Tagger(
            bundle, backend=backend, threads=threads, batch_tokens=batch_tokens, precision=precision
        )
    return _taggers[key]


def read_input(spark: SparkSession, path: str, opts: ScoreOptions) -> DataFrame:
    """The input as the local engine reads it: every column text except the comment column, which keeps a
    typed format's type (a number there is quarantined as `not_text`, not scored as "12345")."""
    from pyspark.sql import functions as F

    frame = read_frame(spark, path, opts.sep, opts.encoding)
    if opts.text_col not in frame.columns:
        raise TableError(f"{path}: no column '{opts.text_col}' (columns: {frame.columns}); pass --text-col")
    return frame.select(
        *(F.col(c) if c == opts.text_col else F.col(c).cast("string").alias(c) for c in frame.columns)
    )


def numbered(frame: DataFrame) -> DataFrame:
    """Adds the 1-based row number in Spark's read order (for one file, the file's order), which
    quarantined rows report as `source_row`. Computed in the JVM from each partition's offset, so rows
    never pass through Python for it."""
    from pyspark.sql import functions as F

    tagged = frame.withColumn(PARTITION, F.spark_partition_id()).withColumn(
        POSITION, F.monotonically_increasing_id().bitwiseAND(WITHIN_PARTITION)
    )
    sizes = dict(tagged.groupBy(PARTITION).count().collect())
    offsets, seen = [], 0
    for partition in sorted(sizes):
        offsets += [F.lit(partition), F.lit(seen)]
        seen += sizes[partition]
    offset = F.create_map(*offsets)[F.col(PARTITION)] if offsets else F.lit(0)
    return tagged.withColumn(ROW, offset + F.col(POSITION) + 1).drop(PARTITION, POSITION)


def output_schemas(
    frame: DataFrame, tagger: Tagger, opts: ScoreOptions, model_version: str
) -> tuple[list[str], list[str], StructType]:
    """(scored columns, quarantine columns, the combined schema the executors return), found by scoring a
    two-row probe with the input's columns on the driver: the local engine decides the columns, so the
    two engines cannot drift apart."""
    from pyspark.sql.types import StringType, StructField, StructType

    columns = [c for c in frame.columns if c != ROW]
    probe = pd.DataFrame({c: [None, None] for c in columns}, index=[1, 2], dtype=object)
    probe[opts.text_col] = [PROBE_TEXT, None]
    if opts.id_col in probe:
        probe[opts.id_col] = ["probe-1", "probe-2"]
    scored, quarantined = score_chunk(probe, tagger, opts, model_version)
    fields: dict[str, StructField] = {}
    for part in (scored, quarantined):
        for name, dtype in part.dtypes.items():
            fields.setdefault(str(name), StructField(str(name), _spark_type(dtype), True))
    fields[PART] = StructField(PART, StringType(), False)
    return list(scored.columns), list(quarantined.columns), StructType(list(fields.values()))


def _spark_type(dtype: object):
    from pyspark.sql import types as T

    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return T.BooleanType()
    if kind in "iu":
        return T.LongType()
    if kind == "f":
        return T.FloatType() if getattr(dtype, "itemsize", 8) == 4 else T.DoubleType()
    return T.StringType()


def score_batches(
    bundle: str, opts: ScoreOptions, model_version: str, schema: StructType
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The executors' function: each Arrow batch through `score_chunk`, both outputs in one frame."""
    names = schema.fieldNames()

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import torch
        from pyspark import TaskContext

        cores = TaskContext.get().cpus()  # spark.task.cpus: no oversubscribed cores
        torch.set_num_threads(cores)
        tagger = worker_tagger(_local_bundle(bundle), opts.backend, cores, opts.batch_tokens, opts.precision)
        for batch in batches:
            batch.index = batch.pop(ROW).to_numpy()
            scored, quarantined = score_chunk(batch, tagger, opts, model_version)
            yield from tagged_parts({SCORED: scored, QUARANTINED: quarantined}, names)

    return run


def _local_bundle(bundle: str) -> str:
    """The bundle folder on this executor: the path itself (local mode, shared storage) or Spark's copy."""
    if Path(bundle).is_dir():
        return bundle
    from pyspark import SparkFiles

    return SparkFiles.get(Path(bundle).name)


def executor_arithmetic(tagger: Tagger, precision: Precision) -> str:
    """What the executors compute in, for the run's record: as the driver's tagger does, except that
    `precision: auto` is decided on each executor's own CPU."""
    if precision == "auto" and tagger.arithmetic.startswith("torch"):
        return "torch, bf16 where the executor has native bf16"
    return tagger.arithmetic


def score_on_spark(
    spark: SparkSession,
    input_path: str,
    output_path: str | Path,
    bundle: Path,
    model_version: str,
    opts: ScoreOptions,
) -> ScoreReport:
    """Score `input_path` into the Parquet folders `output_path` and its quarantine; counts as the local
    engine's report (`--state` ids processed before are skipped and the state file updated)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    started = time.time()
    output_path = Path(output_path)
    frame = numbered(read_input(spark, input_path, opts))
    total = frame.count()
    known = load_state(opts.state)
    require_state_ids(input_path, [c for c in frame.columns if c != ROW], opts)
    if known:
        seen = spark.createDataFrame([(i,) for i in sorted(known)], f"`{opts.id_col}` string")
        frame = frame.join(F.broadcast(seen), on=opts.id_col, how="left_anti").select(*frame.columns)
    tagger = Tagger(bundle, backend=opts.backend, precision=opts.precision)
    scored_cols, quarantine_cols, schema = output_schemas(frame, tagger, opts, model_version)
    if not spark.sparkContext.master.startswith("local"):
        spark.sparkContext.addFile(str(bundle), recursive=True)  # executors read their own copy
    result = frame.mapInPandas(score_batches(str(bundle), opts, model_version, schema), schema)
    result = result.persist(StorageLevel.DISK_ONLY)  # scored once, written twice
    try:
        result.filter(F.col(PART) == SCORED).select(*scored_cols).write.mode("overwrite").parquet(
            str(output_path)
        )
        quarantine = quarantine_path(output_path)
        result.filter(F.col(PART) == QUARANTINED).select(*quarantine_cols).write.mode("overwrite").parquet(
            str(quarantine)
        )
        counts = {row[PART]: row["count"] for row in result.groupBy(PART).count().collect()}
        reasons = {
            row["reason"]: row["count"]
            for row in result.filter(F.col(PART) == QUARANTINED).groupBy("reason").count().collect()
        }
        truncated = result.filter(F.col(PART) == SCORED).filter(F.col("truncated")).count()
        ids = frame.select(opts.id_col).dropna() if opts.id_col in frame.columns else None
        duplicates = 0 if ids is None else ids.groupBy(opts.id_col).count().filter("count > 1").count()
        scored, quarantined = counts.get(SCORED, 0), counts.get(QUARANTINED, 0)
        report = ScoreReport(
            rows=total,
            scored=scored,
            quarantined=quarantined,
            skipped_known=total - scored - quarantined,  # every row not skipped is in one of the two
            output=str(output_path),
            quarantine=str(quarantine),
            model_version=model_version,
            arithmetic=executor_arithmetic(tagger, opts.precision),
            delimiter=opts.sep or "",
            duplicate_ids=duplicates,
            truncated=truncated,
            reasons=reasons,
            seconds=time.time() - started,
        )
        if opts.state is not None:
            new_ids = {str(row[0]) for row in ids.distinct().collect()} if ids is not None else set()
            save_state(opts.state, known | new_ids, report)
    finally:
        result.unpersist()
    return report

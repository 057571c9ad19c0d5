"""`cx score`, `cx rollup`, `cx report`: the batch jobs over comment files."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import get_args

import typer

from pipeline.cli._util import app, console, fail
from pipeline.config import load_params
from pipeline.precision import Precision


def check_engine(engine: str) -> None:
    if engine not in ("local", "spark"):
        fail(f"--engine {engine}: use local or spark")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        fail("--engine spark needs pyspark: pip install -e '.[spark]' (Java 17 must be installed)")


@app.command(
    "score",
    epilog="Example: cx score data/sample/verbatims.csv --out outputs/scored/verbatims.parquet\n\n"
    "Cron (new tickets every hour): 0 * * * * cd /srv/cx && .venv/bin/cx score tickets.csv "
    "--out scored/$(date +\\%F-\\%H).parquet --state scored/state.json\n\n"
    "On Spark: cx score /data/tickets/ --out /data/scored.parquet --engine spark --master yarn",
)
def score_cmd(
    input_path: str = typer.Argument(
        ...,
        help="CSV, TSV, JSONL, Parquet or Excel .xlsx (first sheet) with a text column; with --engine spark "
        "also a folder of part files or any URI Spark reads (s3a://, abfss://, hdfs://)",
    ),
    out: Path = typer.Option(..., "--out", help="output file; its extension picks the format"),
    model: str = typer.Option(
        None, help="registry URI or bundle folder (default: models:/cx-terms@champion)"
    ),
    text_col: str = typer.Option("text", help="column with the comment text"),
    id_col: str = typer.Option("id", help="column with a unique id (row numbers are used when absent)"),
    touchpoint_col: str = typer.Option(
        "touchpoint", help="touchpoint column; copied to `touchpoint` for rollups"
    ),
    date_col: str = typer.Option("date", help="date column; copied to `date` for rollups"),
    score_col: str = typer.Option(
        "nps", help="NPS (0-10) or CSAT (1-5) column; copied to `score` for rollups"
    ),
    chunk_size: int = typer.Option(None, help="rows per chunk (default: params score.chunk_size)"),
    sentences: bool = typer.Option(True, "--sentences/--no-sentences", help="also label each sentence"),
    state: Path = typer.Option(None, "--state", help="JSON file of processed ids: score only new rows"),
    sep: str = typer.Option(
        None, "--sep", help="CSV delimiter (default: sniffed from the header: , ; or tab)"
    ),
    encoding: str = typer.Option(
        None, "--encoding", help="encoding of a CSV/TSV/JSONL input, e.g. cp1251 or utf-16 (default: utf-8)"
    ),
    tracking: bool = typer.Option(True, "--tracking/--no-tracking", help="log the run to MLflow"),
    engine: str = typer.Option(
        "local", help="local (this process) or spark (Parquet folders out; pip install -e '.[spark]')"
    ),
    master: str = typer.Option(
        "local[*]", help="Spark master for --engine spark: local[4], yarn, spark://host:7077"
    ),
    backend: str = typer.Option(
        "auto",
        help="torch, onnx, or auto: a bundle folder runs what it holds (an exported bundle's ONNX graph, "
        "else torch); a models:/ URI resolves to the torch weights where they run in bf16 (see --precision), "
        "else to the version's export where it has one",
    ),
    precision: str = typer.Option(
        None,
        help="torch backend's matrix products: auto = bf16 where the CPU has native bf16 (AMX / AVX-512 "
        "BF16), else fp32 (default: params score.precision)",
    ),
    max_quarantine_share: float = typer.Option(
        None, help="fail (exit 1) when more rows than this share are quarantined (default: params score)"
    ),
) -> None:
    """Tag every row with sentiment, TERMS and Forces (probabilities per label), streaming and resumable.

    Rows without usable text go to OUT.quarantine.<ext> with a reason; OUT.quality.json counts rows, reasons
    and duplicate ids. Re-running a killed job with the same arguments continues from its last finished
    chunk. Exit codes: 0 done (some rows may be quarantined), 1 no row could be scored or more than
    --max-quarantine-share were quarantined, 2 bad input or arguments, 3 model not found, 130 interrupted
    (rerun the same command to resume).
    """
    from pipeline.batch import ScoreOptions
    from pipeline.bundle import BundleError
    from pipeline.jobs.score import data_quality, quality_path, run_scoring
    from pipeline.preflight import DELIMITERS
    from pipeline.registry import ModelNotFound
    from pipeline.tables import TableError

    check_engine(engine)
    if precision not in (None, *get_args(Precision)):
        fail(f"--precision {precision}: use one of {', '.join(get_args(Precision))}")
    if precision and backend == "onnx":
        console.print(
            f"[yellow]note:[/] --precision {precision} applies to the torch backend; onnx runs the export"
        )
    params = load_params()
    cfg = params.score
    opts = ScoreOptions(
        text_col=text_col,
        id_col=id_col,
        touchpoint_col=touchpoint_col,
        date_col=date_col,
        score_col=score_col,
        chunk_size=chunk_size or cfg.chunk_size,
        batch_tokens=cfg.batch_tokens,
        precision=precision or cfg.precision,
        sentences=sentences,
        state=state,
        sep=sep,
        encoding=encoding,
        backend=backend,
    )
    try:
        report = run_scoring(
            params.tracking,
            input_path,
            out,
            model or cfg.model,
            opts,
            track=tracking,
            master=master if engine == "spark" else None,
        )
    except TableError as exc:
        fail(str(exc), code=2)
    except (ModelNotFound, BundleError) as exc:
        fail(str(exc), code=3)
    except PermissionError as exc:
        fail(f"{exc.filename}: permission denied; its owner can fix that with `chmod -R a+rX` on the folder")
    except KeyboardInterrupt:
        fail(f"interrupted; finished chunks are kept in {out}.parts: rerun the same command to resume", 130)
    if report.delimiter not in {"", ","}:
        console.print(
            f"note: {input_path} read as {DELIMITERS[report.delimiter]}-separated (--sep to override)"
        )
    if report.duplicate_ids:
        console.print(
            f"[yellow]warning:[/] {report.duplicate_ids} rows repeat an id already seen in {input_path} "
            f"(column '{id_col}'); all were scored"
        )
    undecodable = report.reasons.get("invalid_utf8", 0)
    if undecodable:
        first = report.encoding_examples[0]
        console.print(
            f"[yellow]warning:[/] {undecodable} rows of {input_path} do not decode as "
            f"{encoding or 'utf-8'} (a file with mixed encodings?) and were quarantined as invalid_utf8; "
            f'e.g. row {first["row"]} reads in {first["likely_encoding"]} as "{first["preview"][:40]}". '
            "Fix those rows at the source; rows and previews are in the data-quality report"
        )
    console.print(
        f"{report.rows} rows: {report.scored} scored, {report.quarantined} quarantined"
        + (f", {report.skipped_known} already processed" if report.skipped_known else "")
        + (f" (resumed {report.resumed_chunks} finished chunks)" if report.resumed_chunks else "")
        + f", {report.rows_per_s:.0f} rows/s, model {report.model_version}"
    )
    typer.echo(f"scored: {Path(report.output).resolve()}")
    typer.echo(f"quarantine: {Path(report.quarantine).resolve()}")
    quality = data_quality(report)
    typer.echo(f"data quality: {quality_path(out).resolve()}")
    reasons = ", ".join(f"{reason} {count}" for reason, count in quality["quarantine_reasons"].items())
    if report.rows > report.skipped_known and not report.scored:
        fail(f"no row of {input_path} could be scored ({reasons}); see {report.quarantine}", code=1)
    limit = cfg.max_quarantine_share if max_quarantine_share is None else max_quarantine_share
    if quality["quarantine_share"] > limit:
        fail(
            f"{quality['quarantine_share']:.0%} of the rows of {input_path} were quarantined ({reasons}), "
            f"more than {limit:.0%}: check the input (see {report.quarantine}) or pass "
            "--max-quarantine-share to accept",
            code=1,
        )


@app.command(
    "rollup",
    epilog="Example: cx rollup outputs/scored/verbatims.parquet --by touchpoint --by month "
    "--out outputs/rollup\n\nA month of nightly files: cx rollup scored/ --by touchpoint --out rollup/\n\n"
    "On Spark: cx rollup s3a://cx/scored/2026-12-06.parquet --out rollup/ --engine spark --master yarn",
)
def rollup_cmd(
    scored: list[str] = typer.Argument(
        ...,
        help="outputs of `cx score`: files, Parquet folders of part files, or (local engine) folders of "
        "them; a comment in several counts once",
    ),
    by: list[str] = typer.Option(["touchpoint"], "--by", help="touchpoint (always) and optionally month"),
    out: Path = typer.Option(..., "--out", help="folder for the tables (CSV + Parquet) and summary.json"),
    touchpoint_col: str = typer.Option("touchpoint", help="touchpoint column of the scored file"),
    date_col: str = typer.Option("date", help="date column (for --by month)"),
    score_col: str = typer.Option("nps", help="NPS (0-10) or CSAT (1-5) column (`score` when absent)"),
    text_col: str = typer.Option("text", help="the (PII-masked) text column, for example quotes"),
    engine: str = typer.Option(
        "local", help="local (this process) or spark (Spark SQL over any URI Spark reads; the same tables)"
    ),
    master: str = typer.Option(
        "local[*]", help="Spark master for --engine spark: local[4], yarn, spark://host:7077"
    ),
) -> None:
    """Touchpoint x TERMS and x Force: volume, shares, negative share, net sentiment, pain index (Wilson
    CIs), NPS/CSAT per touchpoint, NPS drivers with bootstrap CIs, and example quotes.

    Several files (or a folder) are rolled up together; a comment id found in more than one file counts once
    (the last file's row). Exit codes: 0 done, 2 bad input (no scored rows, unreadable file)."""
    from pipeline.jobs.rollup import run_rollup
    from pipeline.rollup.tables import RollupOptions
    from pipeline.tables import TableError

    unknown = set(by) - {"touchpoint", "month"}
    if unknown:
        fail(f"--by takes touchpoint and/or month, not {sorted(unknown)}")
    check_engine(engine)
    params = load_params()
    opts = RollupOptions.from_params(
        params, by_month="month" in by, touchpoint_col=touchpoint_col, date_col=date_col, score_col=score_col
    )
    try:
        result = run_rollup(
            params.tracking, scored, out, opts, text_col, master=master if engine == "spark" else None
        )
    except TableError as exc:
        fail(str(exc))
    dropped = result["summary"].get("duplicates_dropped", 0)
    if dropped:
        console.print(f"note: {dropped} rows repeated an id of a later file and were counted once")
    quality = result["summary"]["data_quality"]
    problems = {
        "scores_unparsed": f"{score_col} values that are not numbers",
        "scores_out_of_range": f"{score_col} values outside 0-10",
        "dates_unparsed": f"{date_col} values that are not dates (month 'unknown')",
    }
    for key, what in problems.items():
        if quality[key]:
            console.print(
                f"[yellow]warning:[/] {quality[key]} {what}: left out, see summary.json data_quality"
            )
    overall = result["summary"]["overall"]
    nps_text = f", NPS {overall['nps']:.1f}" if overall["nps"] is not None else ""
    console.print(f"{overall['comments']} comments, negative share {overall['negative_share']:.1%}{nps_text}")
    typer.echo(f"rollup: {out.resolve()}")


@app.command(
    "report", epilog="Example: cx report outputs/rollup --themes outputs/themes --out outputs/report.html"
)
def report_cmd(
    rollup_dir: Path = typer.Argument(..., help="folder written by `cx rollup`"),
    out: Path = typer.Option(..., "--out", help="the HTML file to write (self-contained, works offline)"),
    themes: Path = typer.Option(
        None, help="folder written by `cx themes`: a heat-map cell shows its themes when clicked"
    ),
) -> None:
    """The journey report: heat map, Forces profile, monthly trend, NPS drivers, quotes - one HTML file;
    with --themes, each cell's themes on click and the emerging issues at the top."""
    from pipeline.jobs.report import run_report
    from pipeline.rollup.report import ReportError

    if not (rollup_dir / "summary.json").is_file():
        fail(f"{rollup_dir}: no summary.json - run `cx rollup` first")
    try:
        path = run_report(load_params().tracking, rollup_dir, out, themes)
    except ReportError as exc:
        fail(str(exc))
    typer.echo(f"report: {path.resolve()}")

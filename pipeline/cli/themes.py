"""`cx themes`: what exactly each touchpoint x TERMS / Force cell is about, and what is emerging."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli._util import app, console, fail, load_params


@app.command(
    "themes",
    epilog="Example: cx themes outputs/scored/verbatims.parquet --by touchpoint --by month "
    "--out outputs/themes\n\n"
    "Then: cx report outputs/rollup --themes outputs/themes --out outputs/report.html",
)
def themes_cmd(
    scored: list[Path] = typer.Argument(
        ..., help="outputs of `cx score` (files or folders, as for cx rollup)"
    ),
    by: list[str] = typer.Option(["touchpoint"], "--by", help="touchpoint (always) and optionally month"),
    out: Path = typer.Option(
        ..., "--out", help="folder for the theme tables (CSV + Parquet) and summary.json"
    ),
    model: Path = typer.Option(
        None, help="a bundle folder, needed only when params themes.encoder is `tagger`"
    ),
    touchpoint_col: str = typer.Option("touchpoint", help="touchpoint column of the scored file"),
    date_col: str = typer.Option("date", help="date column (for --by month)"),
    score_col: str = typer.Option("nps", help="NPS (0-10) column for each theme's NPS impact"),
    text_col: str = typer.Option(
        "text", help="the (PII-masked) text column, used where no sentence labels are"
    ),
) -> None:
    """Themes inside each touchpoint x TERMS and x Force cell: the cell's negative and positive comments are
    clustered by the meaning of their sentences (one encoder for ru, bg and en), each theme named by its key
    phrases per language, with its size, share of the cell, negative share (Wilson interval), NPS impact
    and quotes nearest its centre. With --by month: each theme's monthly share, and the themes whose share
    rose significantly in the last month (Benjamini-Hochberg). Exit codes: 0 done, 2 bad input."""
    from pipeline.jobs.themes import run_themes
    from pipeline.rollup.tables import RollupOptions
    from pipeline.tables import TableError

    unknown = set(by) - {"touchpoint", "month"}
    if unknown:
        fail(f"--by takes touchpoint and/or month, not {sorted(unknown)}")
    params = load_params()
    opts = RollupOptions.from_params(
        params, by_month="month" in by, touchpoint_col=touchpoint_col, date_col=date_col, score_col=score_col
    )
    try:
        result = run_themes(params, scored, out, opts, text_col, model, log=console.print)
    except (TableError, ValueError) as exc:
        fail(str(exc))
    summary = result["summary"]
    emerging = f", {summary['emerging']} emerging" if "month" in by else ""
    console.print(
        f"{summary['themes']} themes in {summary['comments']} comments{emerging} ({result['seconds']:.0f} s)"
    )
    typer.echo(f"themes: {out.resolve()}")

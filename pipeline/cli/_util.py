"""What every `cx` command shares: the Typer apps, the console, one-line errors, `--set` overrides."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any, NoReturn

import typer
from rich.console import Console

from pipeline.config import load_params
from pipeline.progress import on_terminal, quiet_library_bars_off_terminal
from pipeline.settings import ConfigError, Params, with_changes

# Offline-safe defaults for every command (users with a hub can override them in their environment).
os.environ.setdefault("HF_UPDATE_DOWNLOAD_COUNTS", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
quiet_library_bars_off_terminal()
if not on_terminal():  # MLflow's artifact bars (registering, loading a model) take a word, not a flag
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

EXIT_CODES = {
    0: "done (rows may be quarantined: see OUT.quarantine.<ext>)",
    1: "nothing could be done (e.g. no row of the input could be scored)",
    2: "bad input, arguments or params.yaml (the message names the file, line or key and the fix)",
    3: "model not found or not readable by this version",
    130: "interrupted (Ctrl-C or SIGTERM); rerun the same command to resume",
}

app = typer.Typer(
    name="cx",
    help="cx-terms: clean, tag and roll up ru/bg/en customer comments (TERMS, Ipsos Forces, sentiment).",
    epilog="Exit codes: " + " | ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()),
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"cx-terms {version('cx-terms')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """cx-terms: clean, tag and roll up ru/bg/en customer comments (TERMS, Ipsos Forces, sentiment)."""


data_app = typer.Typer(
    help="The labelled corpus: validate, statistics, frozen splits, agreement.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
label_app = typer.Typer(
    help="The annotation loop: export what the model is unsure of to Label Studio, import the labels.",
    no_args_is_help=True,
)
app.add_typer(label_app, name="label")


def interrupt_on_sigterm() -> None:
    """A scheduler's SIGTERM becomes KeyboardInterrupt: MLflow runs end as FAILED instead of staying
    RUNNING, and `cx score` keeps its finished chunks for the rerun."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def with_overrides(pairs: list[str]) -> Params:
    """params.yaml plus `section.key=value` overrides (values parsed as YAML: 3, 1e-4, true, [1, 2])."""
    import yaml

    changes: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep:
            fail(f"--set expects section.key=value, got {pair!r}")
        value = yaml.safe_load(raw)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string; a CLI user means the number
            with contextlib.suppress(ValueError):
                value = float(value)
        changes[key] = value
    try:
        return with_changes(load_params(), changes)
    except ConfigError as exc:
        fail(str(exc))

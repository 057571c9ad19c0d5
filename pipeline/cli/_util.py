"""What every `cx` command shares: the Typer apps, the console, one-line errors, `--set` overrides."""

from __future__ import annotations

import contextlib
import os

import typer
from rich.console import Console

from pipeline.config import load_params
from pipeline.progress import quiet_library_bars_off_terminal
from pipeline.settings import ConfigError, check_params

# Offline-safe defaults for every command (users with a hub can override them in their environment).
os.environ.setdefault("HF_UPDATE_DOWNLOAD_COUNTS", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
quiet_library_bars_off_terminal()

app = typer.Typer(
    name="cx",
    help="cx-terms: clean, tag and roll up ru/bg/en customer comments (TERMS, Ipsos Forces, sentiment).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)
data_app = typer.Typer(
    help="The labelled corpus: validate, statistics, frozen splits, agreement.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def with_overrides(pairs: list[str]) -> dict:
    """params.yaml plus `section.key=value` overrides (values parsed as YAML: 3, 1e-4, true, [1, 2])."""
    import copy

    import yaml

    params = copy.deepcopy(load_params())
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep:
            fail(f"--set expects section.key=value, got {pair!r}")
        *path, leaf = key.split(".")
        node = params
        for part in path:
            node = node.setdefault(part, {})
        value = yaml.safe_load(raw)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string; a CLI user means the number
            with contextlib.suppress(ValueError):
                value = float(value)
        node[leaf] = value
    try:
        check_params(params, "--set")
    except ConfigError as exc:
        fail(str(exc))
    return params

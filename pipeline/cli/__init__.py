"""`cx`: the command-line face of cx-terms, the top layer (it may import training and evaluation; nothing
imports it). One module per command group, as spaCy's `cli/`; each command is a thin wrapper over an
importable function."""

from __future__ import annotations

import importlib

from pipeline.cli._util import ConfigError, app, console, interrupt_on_sigterm

# importing a module registers its commands; this order is the order of `cx --help` (the main job's)
COMMAND_MODULES = ("prepare", "data", "train", "evaluate", "export", "batch", "themes", "label", "status")
for _name in COMMAND_MODULES:
    importlib.import_module(f"pipeline.cli.{_name}")

__all__ = ["app", "main"]


def main() -> None:
    """The `cx` entry point: a params.yaml that does not fit the schema is one clear line, exit 2."""
    interrupt_on_sigterm()
    try:
        app()
    except ConfigError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None

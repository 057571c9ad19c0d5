"""`cx evaluate`: the test reports and the champion gate."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.bundle import ModelKind
from pipeline.cli._util import app, console, fail
from pipeline.config import load_params
from pipeline.settings import ConfigError


@app.command("evaluate", epilog="Example: cx evaluate --candidate transformer")
def evaluate_cmd(
    candidate: ModelKind = typer.Option(
        ModelKind.TRANSFORMER.value, help="which bundle competes for the champion alias"
    ),
    out: Path = typer.Option(None, "--out", help="report folder (default: params evaluation.out_dir)"),
) -> None:
    """Test-split report (Markdown + JSON) with the baseline beside the transformer; promotion gate."""
    from evaluation.run import evaluate_and_gate
    from pipeline.registry import ModelNotFound

    params = load_params()
    out = out or Path(params.evaluation.out_dir)
    try:
        decision, md = evaluate_and_gate(params, candidate.value, out, log=lambda m: console.print(m))
    except (FileNotFoundError, ModelNotFound) as exc:  # no bundle to evaluate, or it was never registered
        fail(str(exc), 3)
    except ConfigError as exc:
        fail(str(exc))
    console.print(
        ("[green]promoted[/] " if decision.promoted else "[yellow]not promoted[/] ") + decision.reason
    )
    typer.echo(f"report: {md.resolve()}")

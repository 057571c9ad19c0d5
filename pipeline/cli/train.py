"""`cx train`: train a model kind, calibrate, log to MLflow, register."""

from __future__ import annotations

import typer

from pipeline.cli._util import app, console, fail, with_overrides


@app.command("train", epilog="Example: cx train --model baseline;  cx train --epochs 3 --set train.lr=3e-5")
def train_cmd(
    model: str = typer.Option("transformer", help="transformer | baseline"),
    epochs: int = typer.Option(None, help="override train.epochs"),
    encoder: str = typer.Option(None, help="override model.encoder (a folder or a Hugging Face name)"),
    set_: list[str] = typer.Option(None, "--set", help="override any param: section.key=value (repeatable)"),
) -> None:
    """Train on the corpus train split, calibrate on dev, log the run to MLflow and register the model."""
    from training.run import BASELINE, TRANSFORMER, train_and_log

    if model not in {TRANSFORMER, BASELINE}:
        fail(f"--model must be transformer or baseline, got {model!r}")
    overrides = list(set_ or [])
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    if encoder:
        overrides.append(f"model.encoder={encoder}")
    params = with_overrides(overrides)
    result, version = train_and_log(params, model, log=lambda m: console.print(m))
    heads = "  ".join(
        f"{h} {result.dev['overall'][h]['macro_f1']:.3f}" for h in ("sentiment", "terms", "forces")
    )
    console.print(f"dev macro-F1: {heads}  ({result.seconds:.0f} s)")
    typer.echo(f"model bundle: {result.bundle_dir.resolve()}")
    typer.echo(f"registered: models:/{params.model.name}/{version}")

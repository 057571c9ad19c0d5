"""`cx export`: a trained bundle as an int8 ONNX bundle for fast CPU scoring."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli._util import app, fail, with_overrides


@app.command(
    "export",
    epilog="Example: cx export models/cx-terms --out models/cx-terms-int8\n\n"
    "Then: cx score tickets.csv --out scored.parquet --model models/cx-terms-int8",
)
def export_cmd(
    bundle: Path = typer.Argument(..., help="a trained transformer bundle folder"),
    out: Path = typer.Option(
        None, "--out", help="the exported bundle folder (default: params export.out_dir)"
    ),
    tracking: bool = typer.Option(
        True, help="log the export to MLflow and tag the registered version it came from"
    ),
    set_: list[str] = typer.Option(
        None, "--set", help="override an export param, e.g. export.fp32_layers=12 (repeatable)"
    ),
) -> None:
    """Export the network to ONNX (graph fused for CPU, weights int8) as a bundle of its own: metadata,
    cleaning config, tokenizer and `model.onnx`, scored by onnxruntime without torch. The registered
    version it came from is tagged, so `cx score --model models:/cx-terms@champion` then runs the export."""
    from pipeline.bundle import BundleError
    from pipeline.jobs.export import run_export

    params = with_overrides(list(set_ or []))
    try:
        path = run_export(params, bundle, out or Path(params.export.out_dir), track=tracking, log=typer.echo)
    except BundleError as exc:
        fail(str(exc))
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    typer.echo(f"exported: {path.resolve()} ({size:.0f} MB)")

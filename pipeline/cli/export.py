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
    set_: list[str] = typer.Option(
        None, "--set", help="override an export param, e.g. export.embeddings=fp32 (repeatable)"
    ),
) -> None:
    """Export the network to ONNX (graph fused for CPU, weights int8) as a bundle of its own: metadata,
    cleaning config, tokenizer and `model.onnx`, scored by onnxruntime without torch."""
    from pipeline.bundle import BundleError
    from pipeline.export import export_bundle

    params = with_overrides(list(set_ or []))
    try:
        path = export_bundle(bundle, out or Path(params.export.out_dir), params.export)
    except BundleError as exc:
        fail(str(exc))
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    typer.echo(f"exported: {path.resolve()} ({size:.0f} MB)")

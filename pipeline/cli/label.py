"""`cx label export` / `cx label import`: one annotation round, out to Label Studio and back."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli._util import console, fail, label_app
from pipeline.config import load_params
from pipeline.labels import HEADS

HEAD_CHOICES = ("all", *HEADS)


def _defaults(industry: str | None, channel: str | None, touchpoint: str | None) -> dict[str, str]:
    """The context values given on the command line, for comments that do not carry their own."""
    given = {"industry": industry, "channel": channel, "touchpoint": touchpoint}
    return {k: v for k, v in given.items() if v}


@label_app.command(
    "export",
    epilog="Example: cx label export outputs/scored/verbatims.parquet --n 300 --strategy uncertain "
    "--out annotation/round1.json   (then import round1.json and round1.config.xml into Label Studio)",
)
def label_export_cmd(
    input_path: Path = typer.Argument(
        ..., help="a `cx score` output (its probabilities are reused) or raw comments (any `cx score` input)"
    ),
    out: Path = typer.Option(..., "--out", help="tasks file: .json for Label Studio, .csv for a sheet"),
    n: int = typer.Option(300, "--n", min=1, help="how many comments to pick"),
    strategy: str = typer.Option("uncertain", help="uncertain | disagree | diverse | random"),
    head: str = typer.Option(
        "all", help="for uncertain: all (mean of the heads) | sentiment | terms | forces"
    ),
    fmt: str = typer.Option(None, "--format", help="labelstudio | csv (default: from the --out extension)"),
    predictions: bool = typer.Option(
        True, "--predictions/--no-predictions", help="pre-fill the model's labels (off: a blind sample)"
    ),
    model: str = typer.Option(None, help="registry URI or bundle folder (default: params score.model)"),
    text_col: str = typer.Option("text", help="column with the comment text"),
    id_col: str = typer.Option("id", help="column with a unique id (row numbers when absent)"),
    sep: str = typer.Option(None, "--sep", help="CSV delimiter (default: sniffed from the header)"),
    encoding: str = typer.Option(None, "--encoding", help="encoding of a text input (default: utf-8)"),
    industry: str = typer.Option(None, help="industry of every comment, where the input has no such column"),
    channel: str = typer.Option(None, help="channel of every comment, where the input has no such column"),
    touchpoint: str = typer.Option(None, help="touchpoint, where the input has no such column"),
) -> None:
    """Pick the comments worth labelling (stratified by language) and write them with the model's labels
    as pre-annotations: Label Studio tasks plus the labelling configuration (OUT.config.xml), or a sheet.

    Exit codes: 0 written, 2 bad input or arguments, 3 model not found."""
    from pipeline.annotation.loop import FORMATS, ExportOptions, export_tasks
    from pipeline.annotation.select import STRATEGIES
    from pipeline.bundle import BundleError
    from pipeline.inference import Tagger, preferred_backend
    from pipeline.preflight import check_input, check_output
    from pipeline.registry import ModelNotFound, resolve_model
    from pipeline.tables import TableError

    fmt = fmt or ("csv" if out.suffix.lower() == ".csv" else "labelstudio")
    for name, value, allowed in (
        ("--strategy", strategy, STRATEGIES),
        ("--format", fmt, FORMATS),
        ("--head", head, HEAD_CHOICES),
    ):
        if value not in allowed:
            fail(f"{name} {value}: use one of {', '.join(allowed)}")
    params = load_params()
    opts = ExportOptions(
        seed=params.seed,
        n=n,
        strategy=strategy,
        head=head,
        fmt=fmt,
        text_col=text_col,
        id_col=id_col,
        predictions=predictions,
        sep=sep,
        encoding=encoding,
        defaults=_defaults(industry, channel, touchpoint),
    )
    try:
        check_input(input_path, encoding)  # before the model loads
        check_output(out, extensions=(".json", ".csv"))
        # the backend and precision `cx score` uses, so that a scored file and fresh scoring pick alike
        backend = preferred_backend("auto", params.score.precision)
        bundle, version = resolve_model(model or params.score.model, params.tracking, backend)
        tagger = Tagger(bundle, batch_tokens=params.score.batch_tokens, precision=params.score.precision)
        baseline = None
        if strategy == "disagree":
            path = Path(params.baseline.out_dir)
            if not path.is_dir():
                fail(
                    f"--strategy disagree needs the baseline: {path} not found (cx train --model baseline)", 3
                )
            baseline = Tagger(path)
        report = export_tasks(input_path, out, tagger, version, opts, baseline, log=console.print)
    except TableError as exc:
        fail(str(exc))
    except (ModelNotFound, BundleError) as exc:
        fail(str(exc), code=3)
    except PermissionError as exc:
        fail(f"{exc.filename}: permission denied; its owner can fix that with `chmod -R a+rX` on the folder")
    langs = ", ".join(f"{k} {v}" for k, v in report.by_lang.items())
    left_out = ", ".join(f"{v} {k}" for k, v in report.left_out.items())
    console.print(
        f"picked {report.picked} of {report.pool} comments by {strategy} ({langs})"
        + (f"; left out: {left_out}" if left_out else "")
        + ("; the file's own probabilities were used" if report.reused_scores else "")
    )
    for path in report.outputs:
        typer.echo(path)


@label_app.command(
    "import",
    epilog="Example: cx label import project-1-export.json --out data/labelled/labelstudio_round1.jsonl "
    "--industry telecom --channel survey",
)
def label_import_cmd(
    export: Path = typer.Argument(..., help="a Label Studio JSON export, or the filled-in sheet (.csv)"),
    out: Path = typer.Option(..., "--out", help="the new corpus chunk (.jsonl); never overwritten"),
    industry: str = typer.Option(None, help="industry for tasks that do not carry one"),
    channel: str = typer.Option(None, help="channel for tasks that do not carry one"),
    touchpoint: str = typer.Option(None, help="touchpoint for tasks that do not carry one"),
) -> None:
    """Check the labels against the corpus contract (with the existing corpus: duplicate ids and texts
    are caught) and write them, with who labelled each, as a new chunk. Then `cx data split` places the
    new rows without moving the existing ones, and `make run` retrains.

    Exit codes: 0 imported, 1 some rows have problems (listed as file:line; nothing written), 2 bad input."""
    from pipeline.annotation.labelstudio import ExportError
    from pipeline.annotation.loop import import_labels
    from pipeline.tables import TableError

    try:
        report = import_labels(export, out, load_params().data, _defaults(industry, channel, touchpoint))
    except (TableError, ExportError, FileExistsError) as exc:
        fail(str(exc))
    for problem in report.problems:
        typer.echo(str(problem))
    if report.problems:
        fail(f"{len(report.problems)} problem(s) in {export}; nothing written", code=1)
    who = ", ".join(f"{k} {v}" for k, v in sorted(report.annotators.items()))
    skipped = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.skipped.items() if v)
    console.print(
        f"imported {report.imported} labelled comments ({who})" + (f"; skipped {skipped}" if skipped else "")
    )
    typer.echo(report.out)

"""`cx data ...`: the labelled corpus and our real-text labels (validate, stats, splits, agreement)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.cli._util import console, data_app, fail
from pipeline.config import load_params

if TYPE_CHECKING:  # the CLI imports pandas only inside the commands that need it (fast --help)
    import pandas as pd


def _corpus_path(path: Path | None) -> Path:
    return path or Path(load_params().data.labelled)


@data_app.command("validate", epilog="Example: cx data validate data/labelled")
def data_validate_cmd(
    path: Path = typer.Argument(None, help="a corpus file (CSV/JSONL/Parquet) or a folder of them"),
    no_lang_check: bool = typer.Option(False, "--no-lang-check", help="skip the language-mismatch check"),
) -> None:
    """Check every record against the data contract; list each bad row with its line and reason.

    Exit code 1 when any row is bad.
    """
    from pipeline.cleaning.cleaner import Cleaner
    from pipeline.dataset.corpus.contract import validate_corpus

    path = _corpus_path(path)
    cleaner = None if no_lang_check else Cleaner()
    try:
        frame, problems = validate_corpus(path, load_params().data, cleaner=cleaner)
    except FileNotFoundError as exc:
        fail(str(exc))
    for problem in problems:
        typer.echo(str(problem))
    status = "[green]valid[/]" if not problems else f"[red]{len(problems)} problem(s)[/]"
    console.print(f"{path}: {len(frame)} valid record(s), {status}")
    if problems:
        raise typer.Exit(1)


@data_app.command("stats", epilog="Example: cx data stats data/labelled --markdown")
def data_stats_cmd(
    path: Path = typer.Argument(None, help="corpus file or folder (default: params data.labelled)"),
    markdown: bool = typer.Option(False, "--markdown", help="print Markdown tables (for data/README.md)"),
) -> None:
    """Counts and shares per language x label, variety, and the coverage minimums of the corpus brief."""
    from pipeline.dataset.corpus.contract import load_corpus
    from pipeline.dataset.corpus.split import read_splits
    from pipeline.dataset.corpus.stats import coverage_failures, coverage_table, split_table, variety

    corpus = load_corpus(_corpus_path(path), load_params().data)
    tables = [("Coverage per language", coverage_table(corpus)), ("Variety", variety(corpus))]
    splits = read_splits(load_params().data.splits)
    if splits is not None:
        tables.append(("Split sizes", split_table(corpus, splits)))
    for title, table in tables:
        typer.echo(f"\n### {title}\n")
        typer.echo(table.to_markdown() if markdown else table.to_string())
    failures = coverage_failures(corpus)
    typer.echo("\ncoverage minimums: " + ("all met" if not failures else "; ".join(failures)))


@data_app.command("split", epilog="Example: cx data split   (then commit data/splits.csv)")
def data_split_cmd(
    path: Path = typer.Argument(None, help="corpus file or folder (default: params data.labelled)"),
    out: Path = typer.Option(None, "--out", help="assignment file (default: params data.splits)"),
    rebuild: bool = typer.Option(False, "--rebuild", help="ignore the stored assignment and split afresh"),
) -> None:
    """Stratified 70/15/15 split by language x primary TERMS; near-duplicates share a split.

    Ids already in the stored assignment keep their split; only new ids are placed.
    """
    from pipeline.dataset.corpus.contract import load_corpus
    from pipeline.dataset.corpus.split import assign_splits, read_splits, write_splits

    cfg = load_params().data
    out = out or Path(cfg.splits)
    corpus = load_corpus(_corpus_path(path), cfg)
    existing = None if rebuild else read_splits(out)
    assignment = assign_splits(
        corpus, cfg.split_fractions, cfg.near_duplicate_cosine, load_params().seed, existing
    )
    write_splits(assignment, out)
    counts = assignment["split"].value_counts().reindex(["train", "dev", "test"]).fillna(0).astype(int)
    kept = 0 if existing is None else int(assignment["id"].isin(existing["id"]).sum())
    console.print(
        f"{len(assignment)} ids ({kept} kept from {out}): " + ", ".join(f"{k}={v}" for k, v in counts.items())
    )
    typer.echo(f"splits: {out.resolve()}")


@data_app.command("real-split", epilog="Example: cx data real-split   (then commit data/real/splits.csv)")
def data_real_split_cmd() -> None:
    """Place newly labelled real comments (data/real/labels) in train/dev/test and store the assignment.

    Second-pass rows are the test split; later labelling rounds are train; stored rows never move.
    """
    from pipeline.dataset.frames import real_frame

    cfg = load_params().real
    import pandas as pd

    from pipeline.dataset.corpus.split import read_splits

    frame = real_frame(cfg, load_params().seed, log=lambda m: console.print(m))
    assignment = frame[["id", "split"]].rename(columns={"id": "rid"})
    stored = read_splits(cfg.splits)
    if stored is not None:  # rows of a source file missing on this machine keep their stored split
        assignment = pd.concat([assignment, stored[~stored["rid"].isin(assignment["rid"])]])
    assignment.sort_values("rid").to_csv(cfg.splits, index=False)
    counts = frame["split"].value_counts().reindex(["train", "dev", "test"]).fillna(0).astype(int)
    console.print(f"{len(frame)} labelled real comments: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    typer.echo(f"splits: {Path(cfg.splits).resolve()}")


@data_app.command(
    "agreement",
    epilog="Example: cx data agreement data/quality/second_pass.jsonl;  cx data agreement --real;  "
    "cx data agreement export-b.json --corpus export-a.json   (two Label Studio exports of the same tasks)",
)
def data_agreement_cmd(
    second: Path = typer.Argument(
        None, help="blind second-pass labels (id, sentiment, terms, forces), or a Label Studio export"
    ),
    path: Path = typer.Option(
        None,
        "--corpus",
        help="first pass: the corpus (default: params data.labelled) or a Label Studio export",
    ),
    real: bool = typer.Option(
        False, "--real", help="the real-text passes: params real.labels vs real.second_pass"
    ),
    markdown: bool = typer.Option(False, "--markdown", help="print a Markdown table"),
) -> None:
    """Cohen's kappa per head between the first labels and a blind relabelling of a sample."""
    from evaluation.agreement import agreement
    from pipeline.dataset.realtext.labels import read_labels

    if real:
        cfg = load_params().real
        first, relabel = (
            read_labels(getattr(cfg, k)).assign(id=lambda f: f["rid"]) for k in ("labels", "second_pass")
        )
    else:
        if second is None:
            fail("give the second-pass file, or --real for the real-text passes")
        first, relabel = _labelled_pass(_corpus_path(path)), _labelled_pass(second)
    table = agreement(first, relabel).round(3)
    typer.echo(table.to_markdown(index=False) if markdown else table.to_string(index=False))


def _labelled_pass(path: Path) -> pd.DataFrame:
    """id, sentiment, terms, forces of one labelling pass: a Label Studio export (the first valid
    annotation of each task), the corpus, or a table."""
    import pandas as pd

    from pipeline.annotation.loop import read_annotations
    from pipeline.dataset.corpus.contract import load_corpus
    from pipeline.labels import parse_list
    from pipeline.tables import read_table

    if path.suffix.lower() == ".json":
        annotations, _ = read_annotations(path)
        rows = [
            {
                "id": str(a.data.get("id") or a.task_id),
                "sentiment": a.sentiment,
                "terms": a.terms,
                "forces": a.forces,
            }
            for a in annotations
        ]
        return pd.DataFrame(rows).drop_duplicates("id")
    if path.is_dir() or path == Path(load_params().data.labelled):
        return load_corpus(path, load_params().data)
    frame = read_table(path)
    for col in ("terms", "forces"):
        frame[col] = frame[col].map(parse_list)
    return frame


@data_app.command("distant", epilog="Example: cx data distant --markdown")
def data_distant_cmd(
    markdown: bool = typer.Option(False, "--markdown", help="print a Markdown table"),
) -> None:
    """Precision of each distant-label rule (data/real/distant.yaml) against our hand labels of the real
    train split; rules below real.distant_min_precision are not used in training."""
    import pandas as pd

    from pipeline.dataset.frames import real_train_labels
    from pipeline.dataset.realtext.public import distant_precision

    cfg = load_params().real
    splits = pd.read_csv(cfg.splits, dtype=str)
    table = distant_precision(
        cfg, real_train_labels(cfg, dict(zip(splits["rid"], splits["split"], strict=True)))
    )
    table["used"] = table["precision"] >= cfg.distant_min_precision
    table = table.round(3)
    typer.echo(table.to_markdown(index=False) if markdown else table.to_string(index=False))

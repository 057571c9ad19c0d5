"""`cx themes` as an MLflow run: the scored input's checksum, the encoder, the theme tables."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from pipeline.jobs.inputs import tables_sha256
from pipeline.jobs.rollup import read_scored, scored_files
from pipeline.rollup.tables import RollupOptions, count_rows, prepare, score_kind
from pipeline.settings import Params
from pipeline.tables import TableError
from pipeline.themes.build import ThemeOptions, find_themes, sentence_table
from pipeline.themes.naming import content_lemmas
from pipeline.themes.vectors import TAGGER, SentenceVectors
from pipeline.tracking import configure, tracked_run

TABLES = ("themes", "assignments", "theme_months", "emerging")


def theme_options(params: Params, by_month: bool) -> ThemeOptions:
    cfg = params.themes
    return ThemeOptions(
        ward_threshold=cfg.ward_threshold,
        min_comments=cfg.min_comments,
        name_terms=cfg.name_terms,
        name_candidates=cfg.name_candidates,
        quotes=cfg.quotes,
        min_n=params.rollup.min_n,
        alpha=cfg.alpha,
        seed=params.seed,
        by_month=by_month,
    )


def run_themes(
    params: Params,
    inputs: list[Path],
    out_dir: Path,
    rollup_opts: RollupOptions,
    text_col: str = "text",
    bundle: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Theme the scored `inputs` into `out_dir` (one CSV + Parquet per table, `summary.json`)."""
    started = time.perf_counter()
    files = scored_files(inputs)
    scored, _, _ = read_scored(files)
    if "lang" not in scored or text_col not in scored:
        raise TableError(f"{files[0]}: no `lang` / `{text_col}` column: is this a `cx score` output?")
    prepared = prepare(scored, rollup_opts)
    opts = theme_options(params, rollup_opts.by_month)
    log(f"loading the sentence encoder ({params.themes.encoder}) ...")
    embed = SentenceVectors(params.themes, bundle)
    tables = find_themes(
        prepared,
        sentence_table(scored, text_col),
        embed,
        content_lemmas,
        opts,
        score_kind(count_rows(prepared)),
        progress=log,
    )
    digest = tables_sha256(files)
    summary = {
        "input": [str(f) for f in files],
        "input_sha256": digest,
        "comments": len(scored),
        "by": ["touchpoint", *(["month"] if rollup_opts.by_month else [])],
        "encoder": params.themes.encoder if params.themes.encoder != TAGGER else f"tagger:{bundle}",
        "themes": len(tables["themes"]),
        "emerging": int(tables["emerging"]["emerging"].sum()) if "emerging" in tables else 0,
        "settings": params.themes.model_dump(mode="json", exclude={"out_dir"}),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        if name in tables:
            frame: pd.DataFrame = tables[name]
            frame.to_csv(out_dir / f"{name}.csv", index=False)
            frame.to_parquet(out_dir / f"{name}.parquet", index=False)
            written += [out_dir / f"{name}.csv", out_dir / f"{name}.parquet"]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    written.append(out_dir / "summary.json")
    configure(params.tracking)
    with tracked_run(f"themes-{files[0].name if len(files) == 1 else f'{len(files)}-files'}", "themes"):
        mlflow.log_params(
            {"input_sha256": digest, "encoder": summary["encoder"], "by": ",".join(summary["by"])}
        )
        mlflow.log_metrics(
            {
                "themes": summary["themes"],
                "emerging": summary["emerging"],
                "seconds": time.perf_counter() - started,
            }
        )
        for path in written:
            mlflow.log_artifact(str(path), artifact_path="themes")
    return {"tables": tables, "summary": summary, "seconds": time.perf_counter() - started}

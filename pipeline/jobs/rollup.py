"""`cx rollup` as an MLflow run: the scored input's checksum, the headline figures and the tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow

from pipeline.rollup import RollupOptions, rollup, write_rollup
from pipeline.tables import file_sha256, quarantine_path, read_table
from pipeline.tracking import configure, git_commit


def run_rollup(
    params: dict[str, Any], scored_path: Path, out_dir: Path, opts: RollupOptions, text_col: str = "text"
) -> dict[str, Any]:
    scored = read_table(scored_path)
    result = rollup(scored, opts, text_col)
    quarantine = quarantine_path(scored_path)
    quarantined = len(read_table(quarantine)) if quarantine.is_file() and quarantine.stat().st_size else 0
    configure(params)
    with mlflow.start_run(run_name=f"rollup-{scored_path.name}") as run:
        mlflow.set_tags({"stage": "rollup", "git_commit": git_commit()})
        mlflow.log_params(
            {
                "input": str(scored_path),
                "input_sha256": file_sha256(scored_path),
                "by": ",".join(result["summary"]["by"]),
                "touchpoint_col": opts.touchpoint_col,
                "date_col": opts.date_col,
                "score_col": opts.score_col,
                "model_version": result["summary"]["model_version"],
            }
        )
        extra = {
            "input": str(scored_path),
            "rows": len(scored) + quarantined,
            "scored_rows": len(scored),
            "quarantined": quarantined,
            "run_id": run.info.run_id,
        }
        written = write_rollup(result, out_dir, extra)
        overall = result["summary"]["overall"]
        mlflow.log_metrics(
            {
                "comments": overall["comments"],
                "negative_share": overall["negative_share"],
                **({"nps": overall["nps"]} if overall["nps"] is not None else {}),
            }
        )
        for path in written:
            mlflow.log_artifact(str(path), artifact_path="rollup")
    return result

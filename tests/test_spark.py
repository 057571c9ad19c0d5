"""The Spark engine on `local[2]` gives the local engine's labels, columns, quarantine and rollup tables on
the same input (2,000 rows with bad rows, bad scores and bad dates among them), and keeps the `--state`
semantics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.batch import ScoreOptions, score_file
from pipeline.inference import Tagger
from pipeline.paths import quarantine_path
from tests.rollup_options import options
from tests.tiny import build_tiny_bundle, sentences

pytest.importorskip("pyspark", reason="the Spark engine is an optional extra: pip install -e '.[spark]'")

BAD = [None, "", "   ", "\u200b\u200b", "<br><br>"]  # missing, empty, blank, invisible, markup only
DATES = ["2026-{month:02d}-14", "14.{month:02d}.2026", "2026-{month:02d}-03T09:30:00+03:00", "soon", None]


@pytest.fixture(scope="module")
def spark():
    from pipeline.spark.io import spark_session

    session = spark_session("local[2]", "cx-terms-tests", chunk_size=300)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, params):
    return build_tiny_bundle(tmp_path_factory.mktemp("spark") / "bundle", params)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    texts = [t for _, t in sentences()]
    rows = []
    for i in range(2_000):
        text = (
            BAD[i // 7 % len(BAD)] if i % 7 == 3 else f"{texts[i % len(texts)]} {texts[(i * 5) % len(texts)]}"
        )
        rows.append(
            {
                "id": f"t{i:05d}",
                "touchpoint": ["delivery", "app", "call_center"][i % 3],
                "date": DATES[i % len(DATES)] and DATES[i % len(DATES)].format(month=1 + i % 12),
                "nps": ["x", "12"][i % 2] if i % 97 == 5 else str(i % 11),
                "text": text,
            }
        )
    path = tmp_path_factory.mktemp("spark-in") / "tickets.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def scored_both(spark, bundle, source, tmp_path_factory):
    """(local report, Spark report, folder holding local.parquet and the Spark folder spark.parquet)."""
    from pipeline.spark.score import score_on_spark

    out = tmp_path_factory.mktemp("scored")
    opts = ScoreOptions(chunk_size=300, precision="fp32")  # the engines agree; bf16: tests/test_export.py
    local = score_file(source, out / "local.parquet", Tagger(bundle), "tiny/0", opts, progress=False)
    remote = score_on_spark(spark, str(source), out / "spark.parquet", bundle, "tiny/0", opts)
    return local, remote, out


def test_spark_and_local_engines_agree_row_for_row(scored_both):
    local, remote, tmp_path = scored_both
    assert (remote.rows, remote.scored, remote.quarantined) == (local.rows, local.scored, local.quarantined)
    assert remote.rows == remote.scored + remote.quarantined == 2_000 and remote.quarantined == 286
    assert remote.reasons == local.reasons
    ours = pd.read_parquet(tmp_path / "local.parquet").sort_values("id").reset_index(drop=True)
    theirs = pd.read_parquet(tmp_path / "spark.parquet").sort_values("id").reset_index(drop=True)
    assert list(theirs.columns) == list(ours.columns)
    assert dict(theirs.dtypes) == dict(ours.dtypes)
    probs = [c for c in ours.columns if c.startswith("p_") or c == "sentiment_prob"]
    labels = [c for c in ours.columns if c not in probs]
    pd.testing.assert_frame_equal(theirs[labels], ours[labels])
    assert np.abs(theirs[probs].to_numpy() - ours[probs].to_numpy()).max() < 1e-3  # batch padding only
    q_local = pd.read_parquet(quarantine_path(tmp_path / "local.parquet")).sort_values("source_row")
    q_spark = pd.read_parquet(quarantine_path(tmp_path / "spark.parquet")).sort_values("source_row")
    pd.testing.assert_frame_equal(q_spark.reset_index(drop=True), q_local.reset_index(drop=True))


def test_spark_and_local_rollups_give_identical_tables(spark, scored_both, tmp_path):
    from pipeline.jobs.rollup import read_scored
    from pipeline.rollup.tables import rollup
    from pipeline.spark.rollup import rollup_on_spark

    _, _, scored = scored_both
    opts = options(by_month=True, bootstrap=200, min_n=5)
    spark_folder = scored / "spark.parquet"  # a folder of part files, its quarantine beside it
    frame, quarantined, _ = read_scored([spark_folder])
    ours = rollup(frame, opts)
    theirs, n_scored, q_spark, _ = rollup_on_spark(spark, [str(spark_folder)], opts)
    assert (n_scored, q_spark) == (len(frame), quarantined) and n_scored + q_spark == 2_000
    for name, table in ours["tables"].items():
        pd.testing.assert_frame_equal(theirs["tables"][name], table, obj=name)
    assert theirs["summary"] == ours["summary"]
    assert ours["summary"]["data_quality"]["scores_out_of_range"] > 0
    assert ours["summary"]["data_quality"]["dates_unparsed"] > 0
    assert set(ours["tables"]["touchpoints"]["month"]) > {"2026-01", "2026-12", "unknown"}

    # each engine over its own scored output: the same counts (probabilities differ by batch padding only)
    local_frame, _, _ = read_scored([scored / "local.parquet"])
    alone = rollup(local_frame, opts)
    for name in ("touchpoints", "cells", "drivers"):
        pd.testing.assert_frame_equal(theirs["tables"][name], alone["tables"][name], obj=name)

    # several nights: a repeated id counts once, the later input's row
    local_frame.iloc[:1_200].to_parquet(tmp_path / "mon.parquet", index=False)
    local_frame.iloc[1_000:].to_parquet(tmp_path / "tue.parquet", index=False)
    nights = [tmp_path / "mon.parquet", tmp_path / "tue.parquet"]
    frame, _, dropped = read_scored(nights)
    theirs, n_scored, _, dropped_spark = rollup_on_spark(spark, [str(p) for p in nights], opts)
    assert dropped == dropped_spark == 200 and n_scored == len(frame) == len(local_frame)
    for name, table in rollup(frame, opts)["tables"].items():
        pd.testing.assert_frame_equal(theirs["tables"][name], table, obj=name)


def test_a_nightly_spark_job_scores_only_new_ids(spark, bundle, source, tmp_path):
    from pipeline.spark.score import score_on_spark

    state = tmp_path / "state.json"
    first = pd.read_parquet(source).iloc[:1_200]
    first.to_parquet(tmp_path / "monday.parquet", index=False)
    opts = ScoreOptions(chunk_size=300, state=state)
    score_on_spark(spark, str(tmp_path / "monday.parquet"), tmp_path / "mon", bundle, "tiny/0", opts)
    tuesday = score_on_spark(spark, str(source), tmp_path / "tue", bundle, "tiny/0", opts)
    assert tuesday.skipped_known == 1_200 and tuesday.scored + tuesday.quarantined == 800
    scored_ids = set(pd.read_parquet(tmp_path / "tue")["id"])
    assert scored_ids and min(scored_ids) >= "t01200"
    assert len(json.loads(state.read_text())["ids"]) == 2_000


def test_cx_score_runs_on_spark_from_the_command_line(spark, bundle, source, tmp_path, params, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from tests.tiny import logged_params, tmp_store, write_params

    monkeypatch.setenv("CX_PARAMS", str(write_params(params, tmp_path / "params.yaml", tmp_store(tmp_path))))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # set by an earlier test's MLflow client
    parts = tmp_path / "tickets"  # a folder of part files, as Spark jobs upstream write them
    parts.mkdir()
    for i, rows in enumerate((slice(0, 25), slice(25, 40))):
        pd.read_parquet(source).iloc[rows].to_parquet(parts / f"part-{i:05d}.parquet", index=False)
    args = [
        "score",
        str(parts),
        "--out",
        str(tmp_path / "out.parquet"),
        "--model",
        str(bundle),
    ]
    wrong = CliRunner().invoke(app, [*args, "--engine", "flink"])
    assert wrong.exit_code == 2 and "use local or spark" in wrong.output
    done = CliRunner().invoke(app, [*args, "--engine", "spark", "--master", "local[2]"])
    assert done.exit_code == 0, done.output
    quality = json.loads((tmp_path / "out.quality.json").read_text())
    assert quality["input_rows"] == 40 == quality["scored"] + quality["quarantined"]
    logged = logged_params(tmp_path, "score")
    assert len(logged["input_sha256"]) == 64 and logged["engine"] == "spark local[2]"
    assert logged["arithmetic"] == "torch, bf16 where the executor has native bf16"  # precision: auto
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == quality["scored"]
    assert (tmp_path / "out.parquet").is_dir()  # Spark's part files
    rolled = ["rollup", str(tmp_path / "out.parquet"), "--out", str(tmp_path / "rollup")]
    done = CliRunner().invoke(app, [*rolled, "--engine", "spark", "--master", "local[2]"])
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "rollup" / "summary.json").read_text())
    assert summary["rows"] == 40 and summary["quarantined"] == quality["quarantined"]
    assert len(summary["input_sha256"]) == 64  # the digest of the part files

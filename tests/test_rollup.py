"""Rollup numbers checked by hand on a fixture small enough to count on fingers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.rollup.tables import nps, rollup, wilson, write_rollup
from tests.rollup_options import options
from tests.tiny import tmp_store, write_params

# 6 comments at delivery, 4 at call_center; scores chosen so every NPS can be counted by hand
ROWS = [
    # id, touchpoint, date, nps, sentiment, terms, forces
    ("d1", "delivery", "2026-07-03", 2, "negative", "time", "certainty"),
    ("d2", "delivery", "2026-07-09", 3, "negative", "time;risk", "certainty;control"),
    ("d3", "delivery", "2026-08-01", 10, "positive", "emotion", "status"),
    ("d4", "delivery", "2026-08-15", 9, "positive", "time", ""),
    ("d5", "delivery", "2026-08-20", 7, "neutral", "", ""),
    ("d6", "delivery", "2026-08-30", None, "negative", "risk", "certainty"),
    ("c1", "call_center", "2026-07-01", 0, "negative", "time;emotion", "control"),
    ("c2", "call_center", "2026-07-02", 6, "negative", "emotion", "status"),
    ("c3", "call_center", "2026-08-05", 9, "positive", "emotion", "status"),
    ("c4", "call_center", "not a date", 8, "neutral", "money", "fairness"),
]


@pytest.fixture
def scored() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["id", "touchpoint", "date", "nps", "sentiment", "terms", "forces"])
    frame["text"] = [f"comment {i}" for i in frame["id"]]
    for label in ("time", "emotion", "risk", "money", "situation"):
        frame[f"p_terms_{label}"] = frame["terms"].str.contains(label).astype(float) * 0.9
    for label in ("fairness", "control", "certainty", "status", "belonging", "enjoyment"):
        frame[f"p_forces_{label}"] = frame["forces"].str.contains(label).astype(float) * 0.8
    frame["model_version"] = "cx-terms/7"
    return frame


def test_nps_formula():
    value, lo, hi = nps(5, 2, 3)  # scores 10 9 9 8 7 6 0 3 10 9
    assert value == pytest.approx(20.0)  # 50% promoters - 30% detractors
    assert lo < 20 < hi and lo >= -100 and hi <= 100
    assert nps(2, 0, 0)[0] == 100


def test_touchpoint_numbers_by_hand(scored):
    result = rollup(scored, options(min_n=1, by_month=True, bootstrap=200))
    tp = result["tables"]["touchpoints"].set_index(["touchpoint", "month"])
    delivery = tp.loc[("delivery", "all")]
    assert delivery["comments"] == 6
    assert delivery["negative_share"] == pytest.approx(3 / 6)
    assert delivery["net_sentiment"] == pytest.approx((2 - 3) / 6)
    # scored: 2,3,10,9,7 -> 2 promoters, 1 passive, 2 detractors of 5
    assert (delivery["promoters"], delivery["passives"], delivery["detractors"]) == (2, 1, 2)
    assert delivery["nps"] == pytest.approx(0.0)
    assert tp.loc[("call_center", "all"), "nps"] == pytest.approx(100 * (1 - 2) / 4)
    assert tp.loc[("all", "all"), "comments"] == 10
    assert tp.loc[("delivery", "2026-08"), "comments"] == 4
    assert tp.loc[("call_center", "unknown"), "comments"] == 1  # an unparseable date is not dropped
    lo, hi = wilson(3, 6)
    assert (delivery["negative_share_lo"], delivery["negative_share_hi"]) == pytest.approx((lo, hi))
    assert 0.18 < lo < 0.19 and 0.81 < hi < 0.82  # Wilson 95% for 3/6


def test_cells_and_pain_index_by_hand(scored):
    cells = rollup(scored, options(min_n=1, bootstrap=200))["tables"]["cells"]
    row = cells.query("dimension == 'terms' and touchpoint == 'delivery' and label == 'time'").iloc[0]
    # time at delivery: d1, d2, d4 -> volume 3 of 6; negative d1, d2; positive d4
    assert (row["volume"], row["negative"]) == (3, 2)
    assert row["share"] == pytest.approx(0.5)
    assert row["negative_share"] == pytest.approx(2 / 3)
    assert row["net_sentiment"] == pytest.approx((1 - 2) / 3)
    assert row["pain_index"] == pytest.approx(100 * 2 / 6)
    force = cells.query("dimension == 'forces' and touchpoint == 'call_center' and label == 'status'").iloc[0]
    assert (force["volume"], force["negative"], force["pain_index"]) == (2, 1, pytest.approx(25.0))
    empty = cells.query("dimension == 'terms' and touchpoint == 'call_center' and label == 'situation'").iloc[
        0
    ]
    assert empty["volume"] == 0 and pd.isna(empty["negative_share"]) and empty["pain_index"] == 0


def test_drivers_by_hand(scored):
    drivers = rollup(scored, options(min_n=1, bootstrap=500))["tables"]["drivers"].set_index(
        ["dimension", "label"]
    )
    # scored comments with `emotion`: d3 (10), c1 (0), c2 (6), c3 (9) -> +100, -100, -100, +100 -> NPS 0
    # without: d1 (2), d2 (3), d4 (9), d5 (7), c4 (8) -> -100, -100, +100, 0, 0 -> NPS -20
    emotion = drivers.loc[("terms", "emotion")]
    assert (emotion["n_with"], emotion["n_without"]) == (4, 5)
    assert emotion["nps_with"] == pytest.approx(0.0) and emotion["nps_without"] == pytest.approx(-20.0)
    assert emotion["impact"] == pytest.approx(20.0)
    assert emotion["impact_lo"] < 20 < emotion["impact_hi"]


def test_csat_scale_is_detected(scored):
    scored["nps"] = [1, 2, 5, 4, 3, None, 1, 2, 5, 4]
    tp = rollup(scored, options(min_n=1, bootstrap=50))["tables"]["touchpoints"].set_index(
        ["touchpoint", "month"]
    )
    assert tp.loc[("delivery", "all"), "csat"] == pytest.approx(2 / 5)
    assert pd.isna(tp.loc[("delivery", "all"), "nps"])


def test_quotes_and_written_files(scored, tmp_path):
    result = rollup(scored, options(min_n=1, quotes_per_cell=2, bootstrap=50))
    quotes = result["tables"]["quotes"]
    cell = quotes.query("touchpoint == 'delivery' and label == 'time'")
    assert cell["id"].tolist() == ["d1", "d2"]  # negatives first, then by probability and id
    write_rollup(
        result,
        tmp_path,
        {"input": "x", "rows": 10, "scored_rows": 10, "quarantined": 0, "input_sha256": "0" * 64},
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["model_version"] == "cx-terms/7" and summary["overall"]["comments"] == 10
    assert summary["top_pain"][0]["pain_index"] >= summary["top_pain"][-1]["pain_index"]
    for name in ("cells", "touchpoints", "drivers", "quotes"):
        assert (tmp_path / f"{name}.csv").is_file() and (tmp_path / f"{name}.parquet").is_file()


def test_months_from_iso_offsets_and_day_first_dates():
    from pipeline.rollup.tables import months

    values = pd.Series(
        [
            "2026-03-29T10:00:00+02:00",
            "2026-10-26T10:00:00+03:00",
            "05.03.2024",
            "25.03.2024",
            "2024-01-05 10:00",
            "2024-02-05",
            "not a date",
            None,
        ]
    )
    assert months(values).tolist() == [
        "2026-03",
        "2026-10",
        "2024-03",
        "2024-03",
        "2024-01",
        "2024-02",
        "unknown",
        "unknown",
    ]


def test_empty_scored_file_gives_empty_tables(tmp_path):
    result = rollup(pd.DataFrame(), options(min_n=1, by_month=True, bootstrap=10))
    assert result["summary"]["overall"]["comments"] == 0 and result["summary"]["top_pain"] == []
    write_rollup(
        result,
        tmp_path,
        {"input": "x", "rows": 0, "scored_rows": 0, "quarantined": 3, "input_sha256": "0" * 64},
    )
    assert json.loads((tmp_path / "summary.json").read_text())["overall"]["negative_share"] is None


def test_missing_text_column_is_explained(scored):
    from pipeline.tables import TableError

    with pytest.raises(TableError, match="--text-col"):
        rollup(scored.rename(columns={"text": "comment"}), options(min_n=1, bootstrap=10))
    assert (
        len(
            rollup(
                scored.rename(columns={"text": "comment"}), options(min_n=1, bootstrap=10), text_col="comment"
            )["tables"]["quotes"]
        )
        > 0
    )


def test_a_file_scored_under_the_old_force_column_names_keeps_its_force_quotes(scored, tmp_path):
    from pipeline.jobs.rollup import read_scored

    old = scored.rename(columns=lambda c: c.replace("p_forces_", "p_force_"))
    old.to_parquet(tmp_path / "old.parquet", index=False)
    frame, _, _ = read_scored([tmp_path / "old.parquet"])
    quotes = rollup(frame, options(min_n=1, bootstrap=10))["tables"]["quotes"]
    assert (quotes["dimension"] == "forces").any()


def test_cli_rollup_and_report(scored, tmp_path, params, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app

    params_file = write_params(params, tmp_path / "params.yaml", tmp_store(tmp_path))
    monkeypatch.setenv("CX_PARAMS", str(params_file))  # MLflow writes under tmp_path only
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    scored.rename(columns={"text": "comment"}).to_csv(tmp_path / "scored.csv", index=False)
    runner = CliRunner()
    args = [
        "rollup",
        str(tmp_path / "scored.csv"),
        "--by",
        "touchpoint",
        "--by",
        "month",
        "--out",
        str(tmp_path / "rollup"),
    ]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2 and "--text-col" in missing.output
    done = runner.invoke(app, [*args, "--text-col", "comment"])
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "rollup" / "summary.json").read_text())["overall"]["comments"] == 10
    assert list((tmp_path / "mlartifacts").rglob("summary.json"))  # the run's artifacts landed here
    report_args = ["report", str(tmp_path / "rollup"), "--out", str(tmp_path / "r.html")]
    report = runner.invoke(app, report_args)
    assert report.exit_code == 0, report.output
    assert "cx-terms/7" in (tmp_path / "r.html").read_text(encoding="utf-8")

    def outputs() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in [*(tmp_path / "rollup").iterdir(), tmp_path / "r.html"]}

    first = outputs()  # a rerun on the same input writes the same bytes (else DVC sees new outputs every run)
    assert runner.invoke(app, [*args, "--text-col", "comment"]).exit_code == 0
    assert runner.invoke(app, report_args).exit_code == 0
    assert outputs() == first


def test_a_month_of_nightly_files_rolls_up_with_each_comment_once(scored, tmp_path, params, monkeypatch):
    """A folder of scored files (plus their quarantine and quality files): ids repeated across files count
    once, the later file's row wins; an empty scored file is a clear error, not an MLflow traceback."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    params_file = write_params(params, tmp_path / "params.yaml", tmp_store(tmp_path))
    monkeypatch.setenv("CX_PARAMS", str(params_file))  # MLflow writes under tmp_path only
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nightly = tmp_path / "scored"
    nightly.mkdir()
    first, second = scored.iloc[:7].copy(), scored.iloc[4:].copy()  # rows 4-6 re-scored the next night
    second.loc[second.index[0], "sentiment"] = "positive"
    first.to_parquet(nightly / "2026-11-01.parquet", index=False)
    second.to_parquet(nightly / "2026-11-02.parquet", index=False)
    scored.iloc[:0].to_parquet(nightly / "2026-11-02.quarantine.parquet", index=False)
    (nightly / "2026-11-02.quality.json").write_text("{}")
    result = CliRunner().invoke(app, ["rollup", str(nightly), "--out", str(tmp_path / "rollup")])
    assert result.exit_code == 0, result.output
    assert "3 rows repeated an id" in result.output
    summary = json.loads((tmp_path / "rollup" / "summary.json").read_text())
    assert summary["overall"]["comments"] == 10 and summary["duplicates_dropped"] == 3
    expected = rollup(
        scored.assign(sentiment=scored["sentiment"].where(scored.index != 4, "positive")),
        options(min_n=1, bootstrap=10),
    )["summary"]["overall"]["negative_share"]
    assert summary["overall"]["negative_share"] == pytest.approx(expected)
    (tmp_path / "empty.parquet").write_bytes((nightly / "2026-11-02.quarantine.parquet").read_bytes())
    empty = CliRunner().invoke(
        app, ["rollup", str(tmp_path / "empty.parquet"), "--out", str(tmp_path / "r2")]
    )
    assert empty.exit_code == 2 and "no scored rows to roll up" in empty.output


def test_out_of_range_scores_and_bad_dates_are_counted_not_guessed(scored):
    """NPS 11 or -3 is a data error, not a promoter or a detractor; an unparseable date is counted."""
    clean = rollup(scored, options(min_n=1, bootstrap=10))["summary"]
    bad = scored.copy().astype({"nps": object, "date": object})
    extra = bad.iloc[:3].copy()
    extra["id"] = ["x1", "x2", "x3"]
    extra["nps"] = [11, -3, "abc"]
    extra["date"] = ["yesterday", "2026-13-45", "2026-01-05"]
    summary = rollup(pd.concat([bad, extra], ignore_index=True), options(min_n=1, bootstrap=10))["summary"]
    assert clean["data_quality"] == {"scores_unparsed": 0, "scores_out_of_range": 0, "dates_unparsed": 1}
    assert summary["data_quality"] == {"scores_unparsed": 1, "scores_out_of_range": 2, "dates_unparsed": 3}
    assert summary["overall"]["n_scored"] == clean["overall"]["n_scored"]  # the bad scores are left out
    assert summary["overall"]["nps"] == pytest.approx(clean["overall"]["nps"])


def test_small_groups_get_no_interval_no_nps_and_are_marked(scored):
    """Below rollup.min_n comments (or scores) an NPS of -100 from one detractor is not reported."""
    result = rollup(scored, options(bootstrap=10, min_n=5))
    tp = result["tables"]["touchpoints"].set_index("touchpoint")
    assert tp.loc["call_center", "small"] and pd.isna(tp.loc["call_center", "nps"])  # 4 comments
    assert pd.isna(tp.loc["call_center", "negative_share_lo"]) and tp.loc["call_center", "detractors"] == 2
    assert not tp.loc["delivery", "small"] and tp.loc["delivery", "nps"] == pytest.approx(0.0)  # 5 scores
    cells = result["tables"]["cells"]
    tiny = cells[(cells["volume"] > 0) & (cells["volume"] < 5)]
    assert len(tiny) and tiny["small"].all() and tiny["negative_share_lo"].isna().all()
    assert result["summary"]["min_n"] == 5


def test_nps_counts_weigh_each_score_and_skip_missing_ones():
    from pipeline.rollup.tables import nps_counts

    # 10 and 9 promote, 7 is passive, 6 and 0 detract; a row standing for 3 comments counts 3 times
    assert nps_counts([10, 9, 7, 6, 0, float("nan")]) == (2, 1, 2)
    assert nps_counts([10, 7, 3, float("nan")], [3, 1, 2, 5]) == (3, 1, 2)

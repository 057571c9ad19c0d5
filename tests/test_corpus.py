"""The data contract (each error kind), the splitter (deterministic, stratified, near-duplicates
together, stored assignment never drifts), coverage stats and the agreement table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.dataset.corpus.contract import validate_corpus
from pipeline.dataset.corpus.split import assign_splits, near_duplicate_groups

GOOD = {
    "lang": "ru",
    "industry": "telecom",
    "touchpoint": "call_center",
    "channel": "survey",
    "sentiment": "negative",
    "terms": ["time"],
    "forces": ["control"],
}


def _write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write((rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False)) + "\n")
    return path


@pytest.fixture
def bad_corpus(tmp_path):
    return _write_jsonl(
        tmp_path / "chunk.jsonl",
        [
            {**GOOD, "id": "r1", "text": "Оператор не отвечал сорок минут, связь оборвалась"},  # 1 ok
            {**GOOD, "id": "r2", "text": "Ждал мастера три дня", "terms": ["speed"]},  # 2 unknown label
            {**GOOD, "id": "r3", "text": "   "},  # 3 empty text
            {
                **GOOD,
                "id": "r4",
                "text": "The courier never showed up and nobody called me back",
            },  # 4 lang mismatch
            {**GOOD, "id": "r1", "text": "Деньги списали дважды, а вернуть отказываются"},  # 5 duplicate id
            {
                **GOOD,
                "id": "r6",
                "text": "Оператор не отвечал сорок минут,  связь оборвалась!",
            },  # 6 duplicate text
            '{"id": "r7", "lang": "ru", broken',  # 7 invalid JSON
            {**GOOD, "id": "r8", "text": "Приложение вылетает", "industry": "casino"},  # 8 unknown industry
            {
                **GOOD,
                "id": "r9",
                "text": "Курьер опоздал",
                "forces": ["control", "control"],
            },  # 9 repeated label
            {**GOOD, "id": "r10", "text": "Курьер опоздал на час", "sentiment": "angry"},  # 10 bad sentiment
        ],
    )


def test_validator_reports_each_error_kind_with_line(bad_corpus, params, cleaner):
    frame, problems = validate_corpus(bad_corpus, params.data, cleaner=cleaner)
    by_line = {p.line: p.reason for p in problems}
    assert frame["id"].tolist() == ["r1"]
    assert "terms.0" in by_line[2] and "speed" in by_line[2]
    assert "text" in by_line[3] and "empty" in by_line[3]
    assert "language mismatch" in by_line[4] and "en" in by_line[4]
    assert "duplicate id" in by_line[5] and ":1" in by_line[5]
    assert "duplicate text" in by_line[6] and "r1" in by_line[6]
    assert "invalid JSON" in by_line[7]
    assert "unknown industry" in by_line[8]
    assert "listed twice" in by_line[9]
    assert "sentiment" in by_line[10]
    assert all(p.source.endswith("chunk.jsonl") for p in problems)


def test_validator_reads_csv_with_joined_lists(tmp_path, params):
    path = tmp_path / "c.csv"
    pd.DataFrame(
        [
            {**GOOD, "id": "c1", "text": "Курьер опоздал", "terms": "time;money", "forces": ""},
            {**GOOD, "id": "c2", "text": "Всё хорошо", "terms": '["situation"]', "forces": "enjoyment"},
        ]
    ).to_csv(path, index=False)
    frame, problems = validate_corpus(path, params.data)
    assert not problems
    assert frame["terms"].tolist() == [["time", "money"], ["situation"]]
    assert frame["forces"].tolist() == [[], ["enjoyment"]]


def test_cli_validate_exit_codes(bad_corpus, tmp_path):
    from pipeline.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["data", "validate", str(bad_corpus)])
    assert result.exit_code == 1
    assert "chunk.jsonl:2 [r2]" in result.output
    good = _write_jsonl(
        tmp_path / "good.jsonl", [{**GOOD, "id": "g1", "text": "Оператор не отвечал сорок минут"}]
    )
    assert runner.invoke(app, ["data", "validate", str(good)]).exit_code == 0


FAMILIES = [
    "courier late again waited whole evening nobody called",
    "refund still missing after three weeks of emails",
    "app crashed twice during checkout lost my basket",
    "branch queue took an hour with one desk open",
    "engineer never arrived for the booked installation slot",
    "hidden delivery fee appeared only at the final payment step",
]


def _synthetic_corpus(n_per_stratum: int = 40) -> pd.DataFrame:
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
        "november",
        "oscar",
        "papa",
        "quebec",
        "romeo",
        "sierra",
        "tango",
        "uniform",
        "victor",
        "whiskey",
        "xray",
        "yankee",
        "zulu",
    ]
    rows = []
    for lang in ("ru", "bg", "en"):
        for label in ("time", "money", "none"):
            for i in range(n_per_stratum):
                k = len(rows)
                text = " ".join(
                    words[(k * 7 + j * 3) % len(words)] + str((k * 31 + j) % 97) for j in range(6)
                )
                rows.append(
                    {
                        "id": f"{lang}-{label}-{i:03d}",
                        "lang": lang,
                        "text": text,
                        "terms": [] if label == "none" else [label],
                    }
                )
    # near-duplicate families: the same complaint with a different number
    for f in range(6):
        for v in range(4):
            rows.append(
                {
                    "id": f"dup-{f}-{v}",
                    "lang": "en",
                    "terms": ["time"],
                    "text": f"family {f} courier late again waited whole evening nobody called order {v}",
                }
            )
    return pd.DataFrame(rows)


def test_split_is_deterministic_stratified_and_keeps_near_duplicates_together():
    corpus = _synthetic_corpus()
    fractions = {"train": 0.7, "dev": 0.15, "test": 0.15}
    a = assign_splits(corpus, fractions, threshold=0.9, seed=13)
    b = assign_splits(corpus.sample(frac=1, random_state=1), fractions, threshold=0.9, seed=13)
    assert a.set_index("id")["split"].sort_index().equals(b.set_index("id")["split"].sort_index())
    for _, part in a.groupby("stratum"):
        share = part["split"].value_counts(normalize=True)
        assert abs(share.get("train", 0) - 0.7) <= 0.05
        assert abs(share.get("dev", 0) - 0.15) <= 0.05 and abs(share.get("test", 0) - 0.15) <= 0.05
    dups = a[a["id"].str.startswith("dup")].assign(family=lambda d: d["id"].str.split("-").str[1])
    assert (dups.groupby("family")["split"].nunique() == 1).all()


def test_stored_assignment_never_drifts_and_new_near_duplicates_follow():
    corpus = _synthetic_corpus()
    fractions = {"train": 0.7, "dev": 0.15, "test": 0.15}
    first = assign_splits(corpus, fractions, threshold=0.9, seed=13)
    stored = first[["id", "split"]]
    extra = pd.DataFrame(
        [
            {
                "id": "new-1",
                "lang": "en",
                "terms": ["time"],
                "text": "family 2 courier late again waited whole evening nobody called order 9",
            }
        ]
    )
    second = assign_splits(pd.concat([corpus, extra]), fractions, threshold=0.9, seed=99, existing=stored)
    merged = stored.merge(second, on="id", suffixes=("_old", "_new"))
    assert (merged["split_old"] == merged["split_new"]).all()
    family_split = stored.set_index("id").loc["dup-2-0", "split"]
    assert second.set_index("id").loc["new-1", "split"] == family_split


def test_near_duplicate_groups_threshold():
    groups = near_duplicate_groups(
        ["the courier was late again today", "the courier was late again today!", "great friendly staff"], 0.9
    )
    assert groups[0] == groups[1] != groups[2]


def test_agreement_table():
    from evaluation.agreement import agreement

    first = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "sentiment": ["negative", "positive", "neutral", "negative"],
            "terms": [["time"], ["emotion"], [], ["money", "time"]],
            "forces": [["control"], ["status"], [], ["fairness"]],
        }
    )
    table = agreement(first, first.copy()).set_index(["head", "view"])
    assert table.loc[("sentiment", "label"), "kappa"] == pytest.approx(1.0)
    assert table.loc[("terms", "primary"), "kappa"] == pytest.approx(1.0)
    second = first.copy()
    second.loc[0, "sentiment"] = "neutral"
    table2 = agreement(first, second).set_index(["head", "view"])
    assert table2.loc[("sentiment", "label"), "kappa"] < 1.0
    assert table2.loc[("sentiment", "label"), "agreement"] == pytest.approx(0.75)


def test_labelled_rows_the_cleaner_refuses_are_counted_with_their_reason(cleaner):
    from pipeline.dataset.frames import clean_frame

    said: list[str] = []
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["Курьер опоздал на два часа", "   "]})
    kept = clean_frame(frame, cleaner, said.append)
    assert kept["id"].tolist() == ["a"] and kept.loc[0, "text_raw"] == "Курьер опоздал на два часа"
    assert len(said) == 1 and said[0].startswith("1 of 2 labelled rows left out by the cleaner: 1 ")

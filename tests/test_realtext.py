"""Real-text data: label files (ids + labels only), texts resolved in place, the two-pass consensus,
distant labels and their measured precision, and the frozen public partition."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.dataset.realtext.labels import attach_texts, consensus, read_labels
from pipeline.dataset.realtext.public import (
    distant_labels,
    distant_precision,
    partition,
    public_rows,
    usable_rules,
)
from pipeline.dataset.realtext.sources import SOURCES
from pipeline.settings import with_changes


def _write_labels(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")


def _label(i, sentiment="negative", terms=("time",), forces=("certainty",), source="airline_tweets_en"):
    return {
        "source": source,
        "id": str(i),
        "sentiment": sentiment,
        "terms": list(terms),
        "forces": list(forces),
    }


@pytest.fixture()
def external(tmp_path):
    """A fake ../shared/external with an airline-style file (the real files are never copied)."""
    folder = tmp_path / "external"
    folder.mkdir()
    rows = [
        ("1", "@air flight delayed 3 hours again", "negative", "Late Flight"),
        ("2", "@air lost my bag, nobody answers", "negative", "Lost Luggage"),
        ("3", "@air thanks for the upgrade!", "positive", ""),
        ("4", "@air flight delayed 3 hours again!!", "negative", "Late Flight"),  # near-duplicate of 1
        ("5", "@air what time does boarding start", "neutral", ""),
        ("6", "@air rude agent at the gate", "negative", "Flight Attendant Complaints"),
        ("7", "@air sat on the tarmac for ninety minutes", "negative", "Late Flight"),
    ]
    pd.DataFrame(rows, columns=["id", "text", "sentiment", "negative_reason"]).to_csv(
        folder / SOURCES["airline_tweets_en"].file, index=False
    )
    return folder


def test_bad_label_records_are_reported_with_file_and_line(tmp_path):
    _write_labels(tmp_path / "labels" / "a.jsonl", [_label(1), _label(2, terms=["speed"])])
    with pytest.raises(ValueError, match=r"a.jsonl:2 \[2\]: terms"):
        read_labels(tmp_path / "labels")


def test_the_same_comment_labelled_twice_is_refused(tmp_path):
    _write_labels(tmp_path / "labels" / "a.jsonl", [_label(1)])
    _write_labels(tmp_path / "labels" / "b.jsonl", [_label(1, sentiment="positive")])
    with pytest.raises(ValueError, match="labelled twice"):
        read_labels(tmp_path / "labels")


def test_texts_are_resolved_in_place_and_missing_sources_are_skipped_loudly(tmp_path, external):
    _write_labels(
        tmp_path / "labels" / "a.jsonl",
        [_label(1), _label(99), _label(7, source="cinexio_bg", terms=["situation"], forces=["enjoyment"])],
    )
    messages = []
    frame = attach_texts(read_labels(tmp_path / "labels"), external, messages.append)
    assert frame["rid"].tolist() == ["airline_tweets_en:1"]
    assert frame.loc[0, "text"].startswith("@air flight delayed") and frame.loc[0, "lang"] == "en"
    assert any("cinexio" in m and "not found" in m for m in messages)
    assert any("1 labelled ids not in" in m for m in messages)


def test_consensus_keeps_agreement_uses_the_adjudicator_and_never_guesses():
    first = pd.DataFrame(
        {
            "rid": ["a", "b", "c"],
            "sentiment": ["negative", "negative", "neutral"],
            "terms": [["time", "money"], ["risk"], []],
            "forces": [["certainty"], ["certainty"], []],
        }
    )
    second = first.copy()
    second["sentiment"] = ["negative", "positive", "negative"]
    second["terms"] = [["time"], ["emotion"], []]
    adjudicated = pd.DataFrame(
        {"rid": ["b"], "sentiment": ["negative"], "terms": [["emotion"]], "forces": [["status"]]}
    )
    agreed = consensus(first, second, adjudicated).set_index("rid")
    assert agreed.loc["a", "terms"] == ["time", "money"]  # same primary: the first pass's full list
    assert agreed.loc["b", "sentiment"] == "negative" and agreed.loc["b", "terms"] == ["emotion"]
    assert agreed.loc["c", "sentiment"] is None  # disagreement without an adjudicator: left out
    without = consensus(first, second, None).set_index("rid")
    assert without.loc["b", "terms"] is None


def test_distant_rules_map_the_sets_own_annotations(external):
    frame = pd.read_csv(external / SOURCES["airline_tweets_en"].file, dtype=str, keep_default_na=False)
    rules = {
        "airline_tweets_en": {
            "column": "negative_reason",
            "rules": {
                "Late Flight": {"terms": ["time"], "forces": ["certainty"]},
                "Lost Luggage": {"terms": ["risk"]},
            },
        }
    }
    labels = distant_labels(frame, SOURCES["airline_tweets_en"], rules)
    assert labels.loc[0, "terms"] == ["time"] and labels.loc[0, "forces"] == ["certainty"]
    assert labels.loc[1, "terms"] == ["risk"] and labels.loc[1, "forces"] is None  # no Force rule
    assert labels.loc[2, "terms"] is None  # no reason: TERMS stay unlabelled (masked), not "no label"


def test_distant_precision_is_measured_on_hand_labels_and_weak_rules_are_dropped(tmp_path, external, params):
    rules = tmp_path / "distant.yaml"
    rules.write_text(
        "airline_tweets_en:\n  column: negative_reason\n  rules:\n"
        "    Late Flight: {terms: [time], forces: [certainty]}\n"
        "    Flight Attendant Complaints: {terms: [situation]}\n",
        encoding="utf-8",
    )
    cfg = with_changes(
        params,
        {
            "real.distant_rules": str(rules),
            "real.external_dir": str(external),
            "real.distant_min_precision": 0.6,
        },
    ).real
    hand = pd.DataFrame(
        {
            "rid": ["airline_tweets_en:1", "airline_tweets_en:4", "airline_tweets_en:6"],
            "terms": [["time"], ["time"], ["emotion"]],
            "forces": [["control"], ["certainty"], ["status"]],
        }
    )
    table = distant_precision(cfg, hand).set_index(["rule", "head"])
    assert table.loc[("Late Flight", "terms"), "precision"] == 1.0
    assert table.loc[("Late Flight", "forces"), "precision"] == 0.5
    assert table.loc[("Flight Attendant Complaints", "terms"), "precision"] == 0.0
    kept = usable_rules(cfg, table.reset_index())["airline_tweets_en"]["rules"]
    assert kept["Late Flight"] == {"terms": ["time"]} and kept["Flight Attendant Complaints"] == {}


def test_partition_keeps_near_duplicates_together_and_follows_labelled_rows(external):
    frame = pd.read_csv(external / SOURCES["airline_tweets_en"].file, dtype=str, keep_default_na=False)
    frame["rid"] = "airline_tweets_en:" + frame["id"]
    fractions = {"train": 0.5, "dev": 0.2, "test": 0.3}
    split = partition(frame, {"airline_tweets_en:1": "test"}, fractions, 0.5)
    assert split[0] == "test" and split[3] == "test"  # the near-duplicate follows its labelled twin
    assert split.tolist() == partition(frame, {"airline_tweets_en:1": "test"}, fractions, 0.5).tolist()


def test_public_rows_leave_out_our_labelled_rows_and_report_missing_sets(external, params):
    changes = {
        "real.external_dir": str(external),
        "real.public_fractions": {"train": 1.0, "dev": 0.0, "test": 0.0},
        "real.near_duplicate_cosine": 0.99,
    }
    cfg = with_changes(params, changes).real
    messages = []
    rows = public_rows(cfg, {"airline_tweets_en:3": "dev"}, "train", 100, 0, None, messages.append)
    assert "airline_tweets_en:3" not in set(rows["id"]) and len(rows) == 6
    assert rows["terms"].isna().all() and set(rows["sentiment"]) == {"negative", "neutral"}
    assert any("cinexio" in m for m in messages)
    blocked = public_rows(cfg, {"airline_tweets_en:3": "dev"}, "train", 2, 0, None, messages.append, blocks=3)
    assert len(blocked) == 6 and sorted(blocked["block"]) == [0, 0, 1, 1, 2, 2]  # 2 per epoch, 3 epochs


def _small_project(tmp_path, external, params, monkeypatch):
    """A three-comment corpus, three labelled real tweets (rounds 1, 1 and 2; tweet 6 with a second pass)
    and the fake airline set: params pointing at them, and the corpus frame."""
    import pipeline.dataset.frames as data

    corpus = pd.DataFrame(
        {
            "id": ["c1", "c2", "c3"],
            "origin": "corpus",
            "source": "corpus",
            "lang": "en",
            "text": ["The courier was two hours late.", "Lovely staff, thank you.", "Prices went up again."],
            "sentiment": ["negative", "positive", "negative"],
            "terms": [["time"], ["emotion"], ["money"]],
            "forces": [["certainty"], ["status"], ["fairness"]],
            "split": ["train", "train", "test"],
        }
    )
    monkeypatch.setattr(data, "corpus_frame", lambda _data: corpus)
    _write_labels(tmp_path / "labels" / "a.jsonl", [_label(1), _label(2, terms=["risk"]), _label(6)])
    _write_labels(tmp_path / "second" / "b.jsonl", [_label(6, sentiment="neutral", terms=[], forces=[])])
    pd.DataFrame(
        {
            "source": "airline_tweets_en",
            "id": ["1", "2", "6"],
            "second_pass": [False, False, True],
            "round": [2, 1, 1],
        }
    ).to_csv(tmp_path / "sample.csv", index=False)
    p = with_changes(
        params,
        {
            "real.external_dir": str(external),
            "real.sample": str(tmp_path / "sample.csv"),
            "real.labels": str(tmp_path / "labels"),
            "real.second_pass": str(tmp_path / "second"),
            "real.adjudicated": str(tmp_path / "none.jsonl"),
            "real.splits": str(tmp_path / "splits.csv"),
            "real.split_fractions": {
                "train": 0.0,
                "dev": 1.0,
            },  # round 1 outside test -> dev; round 2 -> train
            "real.train_only_rounds": [2],
            "real.exclude_rounds": [],
            "real.public_fractions": {"train": 1.0, "dev": 0.0, "test": 0.0},
            "real.public_rows_per_set": {"train": 10, "dev": 0, "test": 0},
            "real.augment_share": 1.0,
        },
    )
    return p, corpus


def test_training_frames_join_corpus_real_and_public_text(tmp_path, external, params, cleaner, monkeypatch):
    """load_splits: origins kept apart, test rows scored against the consensus, public TERMS masked unless
    a measured distant rule applies, noise only on corpus train rows."""
    import pipeline.dataset.frames as data

    p, corpus = _small_project(tmp_path, external, params, monkeypatch)
    frames = data.load_splits(p, cleaner, which=("train", "dev", "test"), log=lambda m: None)
    train, test = frames["train"], frames["test"]
    assert frames["dev"].loc[frames["dev"]["origin"] == "real", "id"].tolist() == ["airline_tweets_en:2"]
    assert train.loc[train["origin"] == "real", "id"].tolist() == ["airline_tweets_en:1"]
    assert set(train["origin"]) == {"corpus", "real", "public"}
    real_test = test[test["origin"] == "real"].iloc[0]
    # the passes disagree on every head and nobody adjudicated: the row has no reference labels
    assert real_test["sentiment"] is None and real_test["terms"] is None
    public = train[train["origin"] == "public"].set_index("id")
    # Late Flight is measured on our train labels (row 1) and used; row 4, row 1's twin, follows it to train
    assert public.loc["airline_tweets_en:7", "terms"] == ["time"]
    assert public.loc["airline_tweets_en:4", "terms"] == ["time"]
    assert public.loc["airline_tweets_en:3", "terms"] is None
    corpus_train = train[train["origin"] == "corpus"]
    assert (corpus_train["text_raw"] != corpus.loc[:1, "text"].to_numpy()).all()  # noisy copies
    assert train.loc[train["origin"] == "real", "text_raw"].str.startswith("@air").all()


def test_reposts_with_other_links_are_one_text_and_conflicting_ids_are_dropped(tmp_path):
    from pipeline.dataset.realtext.sources import grouping_text, read_source

    a = grouping_text("Сбербанк и ВТБ попадут под санкции ЕС: http://t.co/AbC123 #новости")
    b = grouping_text("RT @news: Сбербанк и ВТБ попадут под санкции ЕС: http://t.co/XyZ789")
    import re

    words = ["сбербанк", "и", "втб", "попадут", "под", "санкции", "ес"]
    assert re.findall(r"\w+", a) == re.findall(r"\w+", b) == words
    folder = tmp_path / "ext"
    folder.mkdir()
    pd.DataFrame(
        {
            "id": ["1", "1", "2", "2", "3"],
            "text": ["a", "a", "b", "b", "c"],
            "sentiment": ["negative"] * 3 + ["positive"] * 2,
        }
    ).to_csv(folder / SOURCES["airline_tweets_en"].file, index=False)
    messages = []
    frame = read_source(SOURCES["airline_tweets_en"], folder, messages.append)
    assert frame["id"].tolist() == ["1", "3"] and "1 ids with conflicting labels dropped" in messages[0]


def test_an_excluded_round_is_trained_on_only_as_a_plain_public_row(
    tmp_path, external, params, cleaner, monkeypatch
):
    """A labelling round held out of training (`real.exclude_rounds`) leaves no trace: its comments are
    ordinary public rows again (the set's own sentiment, no hand TERMS), exactly as before they were drawn."""
    import pipeline.dataset.frames as data

    p, _ = _small_project(tmp_path, external, params, monkeypatch)
    p = with_changes(p, {"real.exclude_rounds": [2]})
    train = data.load_splits(p, cleaner, which=("train",), log=lambda m: None)["train"]
    assert "airline_tweets_en:1" not in set(train.loc[train["origin"] == "real", "id"])
    row = train[train["id"] == "airline_tweets_en:1"].iloc[0]
    assert row["origin"] == "public" and row["sentiment"] == "negative"

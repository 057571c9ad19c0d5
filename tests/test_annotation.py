"""The annotation loop: picking what to label, Label Studio tasks out, a Label Studio export back in."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.annotation import select
from pipeline.annotation.labelstudio import as_results, read_export
from pipeline.annotation.loop import ExportOptions, export_tasks, import_labels
from pipeline.labels import HEADS
from pipeline.settings import with_changes
from tests.tiny import build_tiny_bundle, sentences

FIXTURE = Path(__file__).parent / "data" / "labelstudio_export.json"
THRESHOLDS = {"terms": [0.5] * 5, "forces": [0.5] * 6}


def _task_lines(path: Path) -> list[int]:
    """Where each task of a Label Studio export starts (its opening brace)."""
    return [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line == "  {"]


@pytest.fixture
def data_cfg(params, tmp_path):
    return params.data.model_copy(update={"labelled": str(tmp_path / "corpus")})


# --------------------------------------------------------------------------- picking
def _probs(sentiment, terms, forces) -> dict[str, np.ndarray]:
    return {"sentiment": np.array(sentiment), "terms": np.array(terms), "forces": np.array(forces)}


def test_uncertainty_ranks_a_coin_toss_above_a_clear_case():
    probs = _probs(
        [[0.98, 0.01, 0.01], [0.45, 0.10, 0.45]],
        [[0.99, 0.01, 0.01, 0.01, 0.01], [0.52, 0.01, 0.01, 0.01, 0.01]],
        [[0.01] * 6, [0.49] + [0.01] * 5],
    )
    for head in HEADS:  # per head, the coin toss is the least sure, the clear case near zero
        u = select.uncertainty(probs, THRESHOLDS, head)
        assert u[1] == pytest.approx(1.0) and u[0] < 0.2
    u = select.uncertainty(probs, THRESHOLDS)  # all heads: by rank
    assert u[1] > u[0]


def test_expected_errors_follow_the_calibrated_probabilities():
    probs = _probs([[0.7, 0.2, 0.1]], [[0.9, 0.2, 0.5, 0.5, 0.0]], [[0.0] * 6])
    errors = select.expected_errors(probs, THRESHOLDS)
    assert errors["sentiment"][0] == pytest.approx(0.3)
    assert errors["terms"][0] == pytest.approx((0.1 + 0.2 + 0.5 + 0.5 + 0.0) / 5)  # kept 0.9, 0.5, 0.5
    assert errors["forces"][0] == 0.0


def test_quotas_follow_the_pool_languages():
    langs = np.array(["ru"] * 50 + ["bg"] * 30 + ["en"] * 20)
    assert select.quotas(langs, 10) == {"bg": 3, "en": 2, "ru": 5}
    picked = select.pick_top(np.arange(100, dtype=float), langs, 10)
    assert sorted(langs[picked].tolist()).count("ru") == 5
    assert set(picked[langs[picked] == "ru"]) == set(range(45, 50))  # the highest scores of each language


def test_disagreement_puts_conflicting_decisions_first():
    a = _probs([[0.9, 0.05, 0.05]] * 2, [[0.9, 0.1, 0.1, 0.1, 0.1]] * 2, [[0.9] + [0.1] * 5] * 2)
    b = copy.deepcopy(a)
    b["sentiment"][1] = [0.05, 0.05, 0.9]  # the two models disagree on comment 1 only
    scores = select.disagreement(a, THRESHOLDS, b, THRESHOLDS)
    assert scores[1] >= 1 > scores[0]


def test_diverse_takes_one_comment_from_each_cluster():
    texts = [f"delivery courier late parcel {i}" for i in range(10)]
    texts += [f"банковская карта заблокирована {i}" for i in range(10)]
    texts += [f"wifi router broken internet {i}" for i in range(10)]
    picked = select.pick_diverse(texts, np.array(["x"] * 30), 3, seed=1)
    assert sorted(i // 10 for i in picked) == [0, 1, 2]


def test_a_language_with_no_quota_and_a_request_beyond_the_pool_are_handled():
    langs = np.array(["ru"] * 40 + ["bg"] * 2 + ["en"] * 2)
    texts = [f"текст номер {i} про доставку" for i in range(44)]
    picked = select.pick_diverse(texts, langs, 5, seed=1)  # quotas: ru 5, bg 0, en 0
    assert len(picked) == 5 and set(langs[picked]) == {"ru"}
    assert len(select.pick_diverse(texts, langs, 100, seed=1)) == 44
    assert len(select.pick_top(np.zeros(44), langs, 100)) == 44


# --------------------------------------------------------------------------- Label Studio
def test_the_labeling_config_has_every_label_of_every_control():
    from pipeline.annotation.labelstudio import CONTROLS, labeling_config

    root = ET.fromstring(labeling_config())
    for name, (labels, single) in CONTROLS.items():
        control = root.find(f"Choices[@name='{name}']")
        assert [c.get("value") for c in control] == list(labels)
        assert control.get("choice") == ("single" if single else "multiple")


def test_a_label_studio_export_is_read_as_documented():
    annotations, skipped = read_export(FIXTURE)
    assert skipped == {
        "unlabelled_tasks": 2,
        "cancelled_annotations": 1,
    }  # task 4 was skipped by its annotator
    got = {a.data["id"]: (a.sentiment, a.terms, a.forces, a.annotator) for a in annotations}
    assert got == {
        "ls-001": ("negative", ["time"], ["control", "certainty"], "maria@cx.example"),
        "ls-002": ("negative", ["money", "emotion"], ["fairness"], "maria@cx.example"),  # user 3 by id
        "ls-003": ("neutral", [], [], "sam@cx.example"),
    }
    assert [a.line for a in annotations] == _task_lines(FIXTURE)[:3]


def test_import_writes_a_chunk_that_passes_the_contract_and_keeps_the_annotators(data_cfg, tmp_path):
    out = tmp_path / "corpus" / "ls_round1.jsonl"
    report = import_labels(FIXTURE, out, data_cfg)
    assert report.problems == [] and report.imported == 3
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["terms"], r["forces"], r["annotator"]) for r in records] == [
        ("ls-001", ["time"], ["control", "certainty"], "maria@cx.example"),
        ("ls-002", ["money", "emotion"], ["fairness"], "maria@cx.example"),
        ("ls-003", [], [], "sam@cx.example"),
    ]
    from pipeline.dataset.corpus.contract import validate_corpus

    frame, problems = validate_corpus(out, data_cfg)
    assert problems == [] and len(frame) == 3
    with pytest.raises(FileExistsError, match="never overwrites"):
        import_labels(FIXTURE, out, data_cfg)


def test_bad_labels_are_rejected_with_file_and_line_and_nothing_is_written(data_cfg, tmp_path):
    tasks = json.loads(FIXTURE.read_text(encoding="utf-8"))
    tasks[0]["annotations"][0]["result"][0]["value"]["choices"] = ["furious"]  # not a sentiment
    tasks[1]["annotations"][0]["result"] = [  # a second factor without the main one
        r for r in tasks[1]["annotations"][0]["result"] if r["from_name"] != "terms_primary"
    ]
    second = copy.deepcopy(tasks[2]["annotations"][0])
    second["result"][0]["value"]["choices"] = ["negative"]
    second["completed_by"] = {"id": 9, "email": "lee@cx.example"}
    tasks[2]["annotations"].append(second)  # two annotators who disagree
    tasks[3]["data"]["touchpoint"] = "helpdesk"  # not in the vocabulary
    tasks[3]["annotations"][0]["was_cancelled"] = False
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    out = tmp_path / "corpus" / "new.jsonl"
    report = import_labels(export, out, data_cfg)
    lines = _task_lines(export)
    found = [(p.line, p.id, p.reason) for p in report.problems]
    assert (
        lines[0],
        "ls-001",
        "sentiment: Input should be 'negative', 'neutral' or 'positive' (got 'furious')",
    ) in found
    assert any(
        line == lines[1] and "terms_more is set but terms_primary is empty" in r for line, _, r in found
    )
    assert any(
        line == lines[2] and "annotations disagree (sam@cx.example, lee@cx.example)" in r
        for line, _, r in found
    )
    assert any(line == lines[3] and "unknown touchpoint 'helpdesk'" in r for line, _, r in found)
    assert all(str(p).startswith(f"{export.as_posix()}:") for p in report.problems)
    assert not out.exists() and report.imported == 0


def test_exports_that_cannot_be_imported_say_why(data_cfg, tmp_path):
    from pipeline.annotation.labelstudio import ExportError
    from pipeline.tables import TableError

    minimal = tmp_path / "min.json"  # Label Studio's JSON-MIN export: flat records, no annotations
    minimal.write_text(json.dumps([{"text": "a", "sentiment": "negative"}]), encoding="utf-8")
    with pytest.raises(ExportError, match='export the project as "JSON"'):
        import_labels(minimal, tmp_path / "out.jsonl", data_cfg)
    tasks = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for t in tasks:
        t["annotations"] = []
    nothing = tmp_path / "nothing.json"
    nothing.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(TableError, match="no finished annotation"):
        import_labels(nothing, tmp_path / "out.jsonl", data_cfg)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_task_made_in_label_studio_gets_an_id_from_the_task(data_cfg, tmp_path):
    tasks = json.loads(FIXTURE.read_text(encoding="utf-8"))[:1]
    del tasks[0]["data"]["id"]
    del tasks[0]["annotations"][0]["completed_by"]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    Path(data_cfg.labelled).mkdir()  # an empty corpus folder
    report = import_labels(export, Path(data_cfg.labelled) / "new.jsonl", data_cfg)
    assert report.problems == [] and report.annotators == {"unknown": 1}
    record = json.loads((Path(data_cfg.labelled) / "new.jsonl").read_text(encoding="utf-8"))
    assert record["id"] == "labelstudio-1"


def test_a_duplicate_of_an_existing_corpus_text_is_caught(data_cfg, tmp_path):
    corpus = Path(data_cfg.labelled)
    corpus.mkdir()
    existing = {
        "id": "old-1",
        "lang": "en",
        "industry": "telecom",
        "touchpoint": "chat_support",
        "channel": "chat",
        "text": "How do I switch my plan to the cheaper one?",
        "sentiment": "neutral",
        "terms": [],
        "forces": [],
    }
    (corpus / "old.jsonl").write_text(json.dumps(existing) + "\n", encoding="utf-8")
    report = import_labels(FIXTURE, corpus / "new.jsonl", data_cfg)
    assert [(p.id, p.reason) for p in report.problems] == [("ls-003", "duplicate text (same as old-1)")]


# --------------------------------------------------------------------------- round trip
@pytest.fixture(scope="module")
def tagger(tmp_path_factory, params):
    from pipeline.inference import Tagger

    return Tagger(build_tiny_bundle(tmp_path_factory.mktemp("label") / "bundle", params))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, params):
    """A real TF-IDF baseline bundle (lemma and character features), so `disagree` compares two models."""
    from pipeline.inference import Tagger
    from tests.tiny import tiny_frames
    from training.baseline import fit_baseline

    out = tmp_path_factory.mktemp("label") / "baseline"
    local = with_changes(params, {"baseline.out_dir": str(out), "baseline.min_df": 1})
    return Tagger(fit_baseline(local, tiny_frames()).bundle_dir)


@pytest.fixture
def pool(tmp_path):
    rows = [
        {"id": f"c{i:03d}", "text": t, "touchpoint": "delivery"} for i, (_, t) in enumerate(sentences()[:60])
    ]
    rows.append(
        {
            "id": "c999",
            "text": "Das Paket kam leider viel zu spät an, sehr ärgerlich.",
            "touchpoint": "delivery",
        }
    )
    rows.append({"id": "c000", "text": "Доставка пришла вовремя, спасибо большое!", "touchpoint": "delivery"})
    path = tmp_path / "pool.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("strategy", select.STRATEGIES)
def test_export_then_import_brings_every_task_back_with_its_labels(
    tagger, baseline, pool, data_cfg, tmp_path, strategy
):
    tasks_path = tmp_path / "tasks.json"
    opts = ExportOptions(
        seed=13, n=12, strategy=strategy, defaults={"industry": "retail", "channel": "survey"}
    )
    report = export_tasks(pool, tasks_path, tagger, "tiny/0", opts, baseline=baseline, log=lambda _: None)
    assert report.picked == 12 and report.pool == 62
    assert report.left_out == {"not ru/bg/en": 1, "repeated id": 1}  # German; c000 twice
    assert report.by_lang == select.quotas(np.array([lang for lang, _ in sentences()[:60]]), 12)
    assert ET.fromstring(tasks_path.with_name("tasks.config.xml").read_text(encoding="utf-8")).tag == "View"
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert len({t["data"]["id"] for t in tasks}) == 12
    # annotators change some pre-annotations, as Label Studio would export them
    wanted = {}
    for k, t in enumerate(tasks):
        terms = ["money", "time"] if k % 2 else []
        forces = ["fairness"] if k % 3 else []
        wanted[t["data"]["id"]] = (("positive", "negative")[k % 2], terms, forces)
        t["id"] = k + 1
        t["annotations"] = [
            {
                "id": 500 + k,
                "result": as_results(*wanted[t["data"]["id"]]),
                "was_cancelled": False,
                "completed_by": {"id": 1, "email": "ann@cx.example"},
            }
        ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False, indent=2), encoding="utf-8")
    result = import_labels(export, Path(data_cfg.labelled) / "round.jsonl", data_cfg)
    assert result.problems == [] and result.imported == 12
    records = [json.loads(x) for x in (Path(data_cfg.labelled) / "round.jsonl").read_text().splitlines()]
    assert {r["id"]: (r["sentiment"], r["terms"], r["forces"]) for r in records} == wanted
    assert {r["touchpoint"] for r in records} == {"delivery"} and {r["industry"] for r in records} == {
        "retail"
    }


def test_the_sheet_round_trip(tagger, pool, data_cfg, tmp_path):
    sheet = tmp_path / "tasks.csv"
    opts = ExportOptions(
        seed=13, n=6, strategy="uncertain", fmt="csv", defaults={"industry": "retail", "channel": "survey"}
    )
    export_tasks(pool, sheet, tagger, "tiny/0", opts, log=lambda _: None)
    frame = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    assert frame["model_sentiment"].ne("").all() and frame["sentiment"].eq("").all()
    frame.loc[:3, "sentiment"] = "negative"
    frame.loc[:3, "terms"] = "risk;money"
    frame.loc[:3, "annotator"] = "kim"
    frame.to_csv(sheet, index=False, sep=";", encoding="utf-8-sig")  # as a spreadsheet program saves it
    report = import_labels(sheet, tmp_path / "corpus" / "sheet.jsonl", data_cfg)
    assert report.problems == [] and report.imported == 4 and report.skipped == {"unlabelled_tasks": 2}
    first = json.loads((tmp_path / "corpus" / "sheet.jsonl").read_text().splitlines()[0])
    assert first["terms"] == ["risk", "money"] and first["annotator"] == "kim"
    frame.loc[0, "sentiment"] = "angry"
    frame.to_csv(sheet, index=False)
    bad = import_labels(sheet, tmp_path / "corpus" / "again.jsonl", data_cfg)
    first_problem = bad.problems[0]  # the others: the rows imported above are now duplicates
    assert first_problem.line == 2 and first_problem.reason.startswith(
        "sentiment:"
    )  # the row under the header


def test_a_scored_file_reuses_its_probabilities_only_from_the_same_model(tagger, pool, tmp_path):
    from pipeline.batch import ScoreOptions, score_file

    scored = tmp_path / "scored.parquet"
    score_file(pool, scored, tagger, "tiny/0", ScoreOptions(), progress=False)
    opts = ExportOptions(seed=13, n=5, defaults={"industry": "retail", "channel": "survey"})
    same = export_tasks(scored, tmp_path / "a.json", tagger, "tiny/0", opts, log=lambda _: None)
    other = export_tasks(scored, tmp_path / "b.json", tagger, "tiny/1", opts, log=lambda _: None)
    assert same.reused_scores and not other.reused_scores
    picked = [t["data"]["id"] for t in json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))]
    rescored = [t["data"]["id"] for t in json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))]
    assert picked == rescored  # the stored probabilities are the model's own


def test_agreement_between_two_label_studio_exports(tmp_path):
    from pipeline.cli import app

    tasks = json.loads(FIXTURE.read_text(encoding="utf-8"))
    tasks[1]["annotations"][0]["result"][0]["value"]["choices"] = ["neutral"]  # one sentiment differs
    second = tmp_path / "second.json"
    second.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "agreement", str(second), "--corpus", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    sentiment = next(
        line for line in result.output.splitlines() if line.split()[:2] == ["sentiment", "label"]
    )
    assert sentiment.split()[2:4] == ["3", "0.667"]  # n, raw agreement

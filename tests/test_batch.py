"""Batch scoring: nothing lost, quarantine reasons, kill-and-resume byte identity, incremental state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from pipeline.batch import ScoreOptions, score_file
from pipeline.paths import quarantine_path
from pipeline.tables import TableError, read_table
from tests.tiny import build_tiny_bundle, sentences


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, params):
    return build_tiny_bundle(tmp_path_factory.mktemp("tiny") / "bundle", params)


@pytest.fixture(scope="module")
def tagger(bundle):
    from pipeline.inference import Tagger

    return Tagger(bundle)


def _comments(n: int) -> pd.DataFrame:
    texts = [t for _, t in sentences()]
    return pd.DataFrame(
        {
            "id": [f"c{i:04d}" for i in range(n)],
            "touchpoint": ["delivery", "call_center"] * (n // 2),
            "date": ["2026-03-01"] * n,
            "nps": [str(i % 11) for i in range(n)],
            "text": [f"{texts[i % len(texts)]}. Второе предложение {i}." for i in range(n)],
        }
    )


def test_every_row_lands_in_exactly_one_file(tmp_path, tagger):
    frame = _comments(40)
    frame.loc[[3, 17], "text"] = ""
    frame.loc[[5], "text"] = None
    frame.loc[[22], "text"] = "    "
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    raw = src.read_bytes().replace(b"c0030,delivery", b"c0030,deli\xffvery", 1)  # bad bytes outside the text
    (tmp_path / "bad.csv").write_bytes(raw + b"c0040,delivery,2026-03-01,5,\xff\xfe broken\n")
    out = tmp_path / "out.parquet"
    report = score_file(
        tmp_path / "bad.csv", out, tagger, "tiny/0", ScoreOptions(chunk_size=7), progress=False
    )
    scored, rejected = read_table(out), read_table(quarantine_path(out))
    assert report.rows == 41 and report.scored + report.quarantined == 41
    assert sorted(scored["id"].tolist() + rejected["id"].tolist()) == [*sorted(frame["id"].tolist()), "c0040"]
    assert dict(zip(rejected["id"], rejected["reason"], strict=True)) == {
        "c0003": "missing",
        "c0005": "missing",
        "c0017": "missing",
        "c0022": "empty",
        "c0040": "invalid_utf8",
    }
    assert report.reasons == {"missing": 3, "empty": 1, "invalid_utf8": 1}  # an empty CSV field is missing
    rows = dict(zip(rejected["id"], rejected["source_row"], strict=True))
    assert rows["c0022"] == "23"  # the 1-based data row, read back as text
    assert scored.set_index("id").loc["c0030", "touchpoint"] == "deli\\xffvery"  # kept, visibly escaped
    assert {
        "p_terms_time",
        "p_forces_enjoyment",
        "p_sentiment_negative",
        "sentences",
        "model_version",
        "touchpoint",
        "nps",
    } <= set(scored.columns)
    first = json.loads(scored["sentences"].iloc[0])
    assert len(first) == 2 and {"text", "sentiment", "terms", "forces"} <= set(first[0])
    assert not (tmp_path / "out.parquet.parts").exists()


def test_pii_never_reaches_the_output(tmp_path, tagger):
    src = tmp_path / "pii.csv"
    pd.DataFrame({"id": ["1"], "text": ["Звоните +7 912 345-67-89 или пишите ivan@mail.ru"]}).to_csv(
        src, index=False
    )
    score_file(src, tmp_path / "pii.out.csv", tagger, "tiny/0", ScoreOptions(), progress=False)
    text = (tmp_path / "pii.out.csv").read_text(encoding="utf-8")
    assert "ivan@mail.ru" not in text and "345-67-89" not in text and "<EMAIL>" in text
    written = [f for f in tmp_path.rglob("*") if f.is_file() and f != src]
    assert all(b"ivan@mail.ru" not in f.read_bytes() for f in written)  # nor in any other file it wrote


def test_wrong_encoding_stops_with_a_fix(tmp_path, tagger):
    src = tmp_path / "cp1251.csv"
    src.write_bytes(
        b"id,text\n" + "".join(f"{i},Доставка опоздала {i}\n" for i in range(20)).encode("cp1251")
    )
    with pytest.raises(TableError, match="it reads as cp1251: pass --encoding cp1251"):
        score_file(src, tmp_path / "o.parquet", tagger, "tiny/0", ScoreOptions(), progress=False)


def test_another_encoding_past_the_sniffed_head_stops_with_a_fix(tmp_path, tagger):
    """Preflight reads 64 KB; a chunk further down that is mostly undecodable still stops the run."""
    src = tmp_path / "late.csv"
    head = "".join(f"{i},Доставка пришла вовремя спасибо {i}\n" for i in range(1500)).encode()
    tail = "".join(f"{i},Доставка опоздала {i}\n" for i in range(1500, 2000)).encode("cp1251")
    src.write_bytes(b"id,text\n" + head + tail)
    assert len(head) > 65_536
    with pytest.raises(TableError, match=r"rows from row 1501 do not decode.*pass --encoding"):
        score_file(
            src, tmp_path / "o.parquet", tagger, "tiny/0", ScoreOptions(chunk_size=500), progress=False
        )
    assert not (tmp_path / "o.parquet").exists() and not (tmp_path / "o.parquet.parts").exists()


def test_incremental_state_scores_only_new_ids(tmp_path, tagger):
    state = tmp_path / "state.json"
    first = _comments(10)
    first.to_csv(tmp_path / "a.csv", index=False)
    r1 = score_file(
        tmp_path / "a.csv",
        tmp_path / "a.out.csv",
        tagger,
        "tiny/0",
        ScoreOptions(state=state),
        progress=False,
    )
    second = pd.concat([first, _comments(14).iloc[10:]])
    second.to_csv(tmp_path / "b.csv", index=False)
    r2 = score_file(
        tmp_path / "b.csv",
        tmp_path / "b.out.csv",
        tagger,
        "tiny/0",
        ScoreOptions(state=state),
        progress=False,
    )
    assert (r1.scored, r2.scored, r2.skipped_known) == (10, 4, 10)
    assert read_table(tmp_path / "b.out.csv")["id"].tolist() == ["c0010", "c0011", "c0012", "c0013"]
    assert len(json.loads(state.read_text())["ids"]) == 14


def test_row_numbers_survive_state_filtering_and_custom_id_columns(tmp_path, tagger):
    state = tmp_path / "state.json"
    frame = _comments(6).rename(columns={"id": "ticket"})
    frame.to_csv(tmp_path / "a.csv", index=False)
    opts = ScoreOptions(id_col="ticket", state=state)
    score_file(tmp_path / "a.csv", tmp_path / "a.out.csv", tagger, "tiny/0", opts, progress=False)
    frame.loc[6] = ["c0006", "delivery", "2026-03-01", "5", ""]  # a new, bad row at data row 7
    frame.to_csv(tmp_path / "b.csv", index=False)
    report = score_file(tmp_path / "b.csv", tmp_path / "b.out.csv", tagger, "tiny/0", opts, progress=False)
    rejected = read_table(quarantine_path(tmp_path / "b.out.csv"))
    assert (report.skipped_known, report.quarantined) == (6, 1)
    assert rejected["source_row"].tolist() == ["7"] and rejected["id"].tolist() == ["c0006"]
    scored = read_table(tmp_path / "a.out.csv")
    assert scored["id"].tolist() == scored["ticket"].tolist()
    assert len(json.loads(state.read_text())["ids"]) == 7


RUNNER = """
import sys, time
from pathlib import Path
from pipeline.batch import ScoreOptions, score_file
from pipeline.inference import Tagger
src, out, bundle, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
score_file(Path(src), Path(out), Tagger(bundle), "tiny/0", ScoreOptions(chunk_size=10), progress=False,
           on_chunk=lambda k: time.sleep(delay))
"""


def _run(args, **kw):
    return subprocess.Popen([sys.executable, "-c", RUNNER, *map(str, args)], cwd=os.getcwd(), **kw)


@pytest.mark.parametrize("ext", ["parquet", "csv"])
def test_killed_run_resumes_to_identical_bytes(tmp_path, bundle, ext):
    src = tmp_path / "in.csv"
    _comments(120).to_csv(src, index=False)
    reference = tmp_path / f"reference.{ext}"
    assert _run([src, reference, bundle, 0]).wait(timeout=300) == 0

    resumed = tmp_path / f"resumed.{ext}"
    parts = tmp_path / f"resumed.{ext}.parts"
    proc = _run([src, resumed, bundle, 0.4])
    deadline = time.time() + 240
    while time.time() < deadline and len(list(parts.glob("*.done"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = len(list(parts.glob("*.done")))
    assert 3 <= done_before < 12 and not resumed.exists()  # really killed mid-run
    assert _run([src, resumed, bundle, 0]).wait(timeout=300) == 0
    assert resumed.read_bytes() == reference.read_bytes()
    assert quarantine_path(resumed).read_bytes() == quarantine_path(reference).read_bytes()


def test_quarantine_and_outputs_never_hold_raw_pii(tmp_path, tagger):
    src = tmp_path / "bad.csv"
    src.write_bytes(
        b"id,lang,sentiment,text\n1,xx,angry,Call +44 7911 123456 or john.smith@example.com caf\xe9\n"
        b"2,xx,angry,Fine service\n"
    )
    out = tmp_path / "out.csv"
    score_file(src, out, tagger, "tiny/0", ScoreOptions(), progress=False)
    quarantined = quarantine_path(out).read_text(encoding="utf-8")
    assert "7911" not in quarantined and "john.smith" not in quarantined and "<EMAIL>" in quarantined
    scored = read_table(out)  # input columns named like ours are kept apart, not duplicated
    assert {"input_lang", "input_sentiment", "lang", "sentiment"} <= set(scored.columns)


def test_state_needs_an_id_column_and_never_remembers_missing_ids(tmp_path, tagger):
    state = tmp_path / "state.json"
    pd.DataFrame({"text": ["Курьер опоздал"]}).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(TableError, match="--id-col"):
        score_file(
            tmp_path / "noid.csv", tmp_path / "o.csv", tagger, "t", ScoreOptions(state=state), progress=False
        )
    frame = pd.DataFrame({"id": ["a", None], "text": ["Курьер опоздал", "Доставка вовремя"]})
    frame.to_csv(tmp_path / "one.csv", index=False)
    score_file(
        tmp_path / "one.csv", tmp_path / "one.out.csv", tagger, "t", ScoreOptions(state=state), progress=False
    )
    assert json.loads(state.read_text())["ids"] == ["a"]
    again = score_file(
        tmp_path / "one.csv", tmp_path / "two.out.csv", tagger, "t", ScoreOptions(state=state), progress=False
    )
    assert (again.skipped_known, again.scored) == (1, 1)  # the row without an id is scored again, not lost


def test_jsonl_keys_varying_between_chunks_keep_their_columns(tmp_path, tagger):
    src = tmp_path / "v.jsonl"
    rows = [
        {"id": "1", "text": "Курьер опоздал"},
        {"id": "2", "text": "Всё отлично"},
        {"id": "3", "text": "Долго ждал", "touchpoint": "delivery", "nps": "3"},
        {"id": "4", "text": "Хороший магазин", "touchpoint": "store_branch", "nps": "10"},
    ]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for ext in ("parquet", "csv"):
        out = tmp_path / f"v.{ext}"
        score_file(src, out, tagger, "t", ScoreOptions(chunk_size=2), progress=False)
        scored = read_table(out).set_index("id")
        assert scored.loc["4", "touchpoint"] == "store_branch" and scored.loc["3", "nps"] == "3"
        assert pd.isna(scored.loc["1", "touchpoint"])

"""Fault injection for `cx score` as an operator meets it: every bad input or location is one clear line
with a documented exit code, found before the model loads, and no row is lost or half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.paths import quarantine_path
from pipeline.precision import native_bf16
from pipeline.settings import with_changes
from pipeline.tables import read_table
from tests.tiny import build_tiny_bundle, logged_params, sentences, tmp_store, write_params

TEXTS = [t for _, t in sentences()][:12]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, params):
    return build_tiny_bundle(tmp_path_factory.mktemp("ops") / "bundle", params)


@pytest.fixture
def cx(tmp_path, params, monkeypatch, bundle):
    """Run `cx score ... --model <tiny bundle>` with MLflow kept under tmp_path."""
    from pipeline.cli import app

    monkeypatch.setenv("CX_PARAMS", str(write_params(params, tmp_path / "params.yaml", tmp_store(tmp_path))))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def run(*args: str, model_loads: bool = True):
        if not model_loads:  # the check must come first: loading the model here fails the test
            monkeypatch.setattr("pipeline.jobs.score.resolve_model", _must_not_load)
        return CliRunner().invoke(app, ["score", *map(str, args), "--model", str(bundle)])

    return run


def _must_not_load(*_args, **_kwargs):
    raise AssertionError("the model was loaded before the input and output were checked")


def _frame(n: int = 12, **extra) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": TEXTS[:n], **extra})


def _nothing_written(out) -> bool:
    return not out.exists() and not out.with_name(out.name + ".parts").exists()


def test_missing_input_is_one_line_before_the_model_loads(cx, tmp_path):
    out = tmp_path / "out.parquet"
    result = cx(tmp_path / "nope.csv", "--out", out, model_loads=False)
    assert result.exit_code == 2 and "nope.csv: no such file" in result.output
    assert "Traceback" not in result.output and _nothing_written(out)


def test_output_under_a_file_is_refused_before_the_model_loads(cx, tmp_path):
    src = tmp_path / "in.csv"
    _frame().to_csv(src, index=False)
    (tmp_path / "blocker").write_text("x")
    out = tmp_path / "blocker" / "out.parquet"
    result = cx(src, "--out", out, model_loads=False)
    assert result.exit_code == 2 and "is a file, not a folder" in result.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("utf16.csv", "id,text\n1,Курьер опоздал\n".encode("utf-16"), "UTF-16 text; pass --encoding utf-16"),
        (
            "cp1251.csv",
            "id,text\n1,Курьер опоздал\n2,Всё хорошо\n3,Спасибо\n".encode("cp1251"),
            "pass --encoding cp1251",
        ),
        ("zip.csv", b"PK\x03\x04\x14\x00\x00\x00\x08\x00binary", "binary data"),
        ("empty.csv", b"", "the file is empty"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style .xls workbook; save it as .xlsx"),
        ("fake.xlsx", b"id,text\n1,a\n", "not an .xlsx workbook"),
        ("fake.parquet", b"id,text\n1,a\n", "not a Parquet file"),
    ],
)
def test_unreadable_files_are_named_with_the_fix(cx, tmp_path, name, content, message):
    src = tmp_path / name
    src.write_bytes(content)
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out, model_loads=False)
    assert result.exit_code == 2 and message in result.output and _nothing_written(out)


def test_a_semicolon_csv_is_read_as_such_and_said_so(cx, tmp_path):
    src = tmp_path / "euro.csv"
    _frame(touchpoint=["delivery"] * 12).to_csv(src, index=False, sep=";")
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out)
    assert result.exit_code == 0, result.output
    assert "semicolon-separated" in result.output
    assert len(read_table(out)) == 12 and read_table(out)["touchpoint"].eq("delivery").all()


def test_a_run_that_scores_nothing_fails_loudly_but_keeps_every_row(cx, tmp_path):
    src = tmp_path / "blank.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["", "   ", ""]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = cx(src, "--out", out)
    assert result.exit_code == 1 and "no row of" in result.output and "could be scored" in result.output
    assert len(read_table(quarantine_path(out))) == 3 and len(read_table(out)) == 0


def test_duplicate_ids_are_counted_and_all_rows_scored(cx, tmp_path):
    src = tmp_path / "dups.csv"
    frame = _frame()
    frame.loc[[3, 7], "id"] = "r0"
    frame.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out)
    assert result.exit_code == 0 and "2 rows repeat an id" in result.output
    assert len(read_table(out)) == 12
    quality = json.loads((tmp_path / "out.quality.json").read_text())
    assert quality["duplicate_ids"] == 2 and quality["scored"] == 12 and quality["quarantined"] == 0
    logged = logged_params(tmp_path, "score")["arithmetic"]  # read off the scorer that ran (precision: auto)
    assert logged == f"torch {'bf16' if native_bf16() else 'fp32'}"


def test_too_many_quarantined_rows_fail_the_run_but_every_row_is_kept(cx, tmp_path):
    src = tmp_path / "noisy.csv"
    frame = _frame()
    frame.loc[[1, 4, 8, 10], "text"] = ""
    frame.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out)
    assert result.exit_code == 1 and "33% of the rows" in result.output and "more than 20%" in result.output
    assert len(read_table(out)) + len(read_table(quarantine_path(out))) == 12
    quality = json.loads((tmp_path / "out.quality.json").read_text())
    assert quality["quarantine_reasons"] == {"missing": 4} and quality["quarantine_share"] == pytest.approx(
        1 / 3, abs=1e-3
    )
    accepted = cx(src, "--out", tmp_path / "again.parquet", "--max-quarantine-share", "0.5", "--no-tracking")
    assert accepted.exit_code == 0, accepted.output
    assert (tmp_path / "again.quality.json").is_file()


def test_a_broken_line_mid_file_leaves_no_half_written_output(cx, tmp_path):
    src = tmp_path / "broken.jsonl"
    good = _frame(6).to_json(orient="records", lines=True, force_ascii=False)
    src.write_text(good + "{not json\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out, "--chunk-size", "2")
    assert result.exit_code == 2 and "broken.jsonl:7: not valid JSON" in result.output
    assert _nothing_written(out)


def test_the_store_is_found_from_any_directory(tmp_path, monkeypatch):
    from pipeline.tracking import anchored_uri

    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "params.yaml").write_text("seed: 1\n")
    monkeypatch.setenv("CX_PARAMS", str(tmp_path / "project" / "params.yaml"))
    monkeypatch.chdir(tmp_path)
    assert anchored_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'project' / 'mlflow.db'}"
    assert anchored_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    assert anchored_uri("http://mlflow:5000") == "http://mlflow:5000"


def test_help_documents_the_exit_codes():
    from pipeline.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert "Exit codes" in result.output and "130" in result.output
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("cx-terms 0.")


def test_an_overlong_comment_is_cut_and_flagged(cx, tmp_path):
    src = tmp_path / "long.csv"
    frame = _frame(3)
    frame.loc[1, "text"] = "Курьер опоздал. " * 800  # 12,800 characters > cleaning.max_chars
    frame.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    assert cx(src, "--out", out).exit_code == 0
    assert read_table(out)["truncated"].tolist() == ["false", "true", "false"]  # Parquet booleans as text
    assert json.loads((tmp_path / "out.quality.json").read_text())["truncated_texts"] == 1


def test_a_3_mb_comment_is_cut_before_the_nlp_and_costs_little_memory(bundle, tmp_path):
    """The cut happens before spaCy and the model see the text, so a 3 MB paste costs little memory
    (Python-level allocations, spaCy's included) and time; with the cut at 1 M characters instead, the
    same file took over 5 minutes."""
    import tracemalloc

    from pipeline.batch import ScoreOptions, score_file
    from pipeline.inference import Tagger

    tagger = Tagger(bundle)
    src = tmp_path / "paste.csv"
    frame = _frame()
    frame.loc[3, "text"] = ("Курьер опоздал на три часа, а оператор не отвечал. " * 60_000)[:3_000_000]
    frame.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    tracemalloc.start()
    try:
        report = score_file(src, out, tagger, "tiny/0", ScoreOptions(), progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.scored == 12 and report.truncated == 1
    assert peak < 80e6  # measured: ~32 MB (5 MB without the paste)
    scored = read_table(out)
    assert scored["truncated"].tolist().count("true") == 1


def test_numbers_in_a_typed_text_column_are_refused_not_scored(cx, tmp_path):
    """A Parquet or JSONL text column holding numbers or lists: those rows are `not_text`, not comments."""
    src = tmp_path / "typed.jsonl"
    rows = [{"id": "a", "text": TEXTS[0]}, {"id": "b", "text": 12345}, {"id": "c", "text": ["x", "y"]}]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    assert cx(src, "--out", out, "--max-quarantine-share", "1").exit_code == 0
    quarantined = read_table(quarantine_path(out))
    assert quarantined["reason"].tolist() == ["not_text", "not_text"]
    assert quarantined["text"].tolist() == ["12345", '["x", "y"]'] and read_table(out)["id"].tolist() == ["a"]
    pq_src = tmp_path / "typed.parquet"
    pd.DataFrame({"id": ["1", "2"], "text": [101, 202]}).to_parquet(pq_src, index=False)
    result = cx(pq_src, "--out", tmp_path / "p.parquet")
    assert result.exit_code == 1 and "not_text 2" in result.output


def test_a_run_killed_with_sigkill_is_ended_as_killed_by_the_next_command(tmp_path, params, monkeypatch):
    """SIGKILL cannot be handled, so the run stays RUNNING until the next command sees its owner is gone."""
    import subprocess
    import sys

    import mlflow
    from mlflow.tracking import MlflowClient

    from pipeline.tracking import configure

    local = with_changes(params, tmp_store(tmp_path))
    write_params(local, tmp_path / "params.yaml")
    child = (
        "import os, signal\n"
        "from pipeline.config import load_params\n"
        "from pipeline.tracking import configure, tracked_run\n"
        "configure(load_params().tracking)\n"
        "with tracked_run('score-doomed', 'score') as run:\n"
        f"    open({str(tmp_path / 'run_id')!r}, 'w').write(run.info.run_id)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "CX_PARAMS": str(tmp_path / "params.yaml")}
    env.pop("MLFLOW_TRACKING_URI", None)
    killed = subprocess.run([sys.executable, "-c", child], env=env, timeout=120)
    assert killed.returncode == -9
    run_id = (tmp_path / "run_id").read_text()
    store = MlflowClient(tracking_uri=local.tracking.uri)
    assert store.get_run(run_id).info.status == "RUNNING"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    previous = mlflow.get_tracking_uri()
    try:
        configure(local.tracking)  # what every tracked command does first
    finally:
        mlflow.set_tracking_uri(previous)
    assert store.get_run(run_id).info.status == "KILLED"


def test_only_runs_whose_owner_is_certainly_gone_are_closed():
    from pipeline.tracking import OWNER_BOOT, OWNER_PID, OWNER_PID_NS, is_orphaned, owner

    me = owner()
    dead = {**me, OWNER_PID: "999999999"}  # beyond any pid_max
    assert is_orphaned(dead, me)
    assert not is_orphaned({**me}, me)  # this very process
    assert not is_orphaned({**dead, OWNER_PID_NS: "another-container"}, me)  # its pids are not ours
    assert not is_orphaned({**dead, "cx.host": "another-host"}, me)
    assert is_orphaned({**me, OWNER_BOOT: "a-boot-before-the-last-reboot"}, me)  # even a reused pid
    assert not is_orphaned({}, me)  # a run started before the tags existed


@pytest.mark.parametrize("encoding", ["cp1251", "utf-16"])
def test_a_file_in_another_encoding_is_scored_with_encoding(cx, tmp_path, encoding):
    src = tmp_path / f"{encoding}.csv"
    src.write_bytes(_frame().to_csv(index=False).encode(encoding))
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out, "--encoding", encoding, "--no-tracking")
    assert result.exit_code == 0, result.output
    assert read_table(out)["id"].tolist() == [f"r{i}" for i in range(12)]
    assert len(read_table(quarantine_path(out))) == 0


def test_an_unknown_encoding_is_one_line(cx, tmp_path):
    src = tmp_path / "in.csv"
    _frame().to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out, "--encoding", "klingon", model_loads=False)
    assert result.exit_code == 2 and "--encoding klingon: unknown encoding" in result.output
    assert _nothing_written(out)


def test_mixed_encodings_are_reported_with_rows_and_previews(cx, tmp_path):
    src = tmp_path / "mixed.csv"
    frame = _frame()
    frame.loc[2, "text"] = "Курьер опоздал на два часа"
    data = frame.to_csv(index=False).encode()
    # that one row was saved by another program, in cp1251
    src.write_bytes(
        data.replace("Курьер опоздал на два часа".encode(), "Курьер опоздал на два часа".encode("cp1251"))
    )
    out = tmp_path / "out.parquet"
    result = cx(src, "--out", out, "--no-tracking")
    assert result.exit_code == 0, result.output
    assert "1 rows of" in result.output and "do not decode as utf-8" in result.output
    assert "row 3 reads in cp1251" in result.output
    quality = json.loads((tmp_path / "out.quality.json").read_text())
    assert quality["quarantine_reasons"] == {"invalid_utf8": 1}
    assert quality["undecodable_examples"] == [
        {"row": 3, "likely_encoding": "cp1251", "preview": "Курьер опоздал на два часа"}
    ]
    assert len(read_table(out)) + len(read_table(quarantine_path(out))) == 12


def test_an_excel_workbook_is_read_from_its_first_sheet(cx, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["id", "text", "nps"])
    for i, text in enumerate(TEXTS[:6]):
        sheet.append([100 + i, text, i])
    sheet.append([None, None, None])  # a blank layout row: not data
    sheet.append([106, 12345, 9])  # a number typed into the comment column
    book.create_sheet("notes").append(["ignored"])
    src = tmp_path / "export.xlsx"
    book.save(src)
    out = tmp_path / "out.csv"
    result = cx(src, "--out", out, "--no-tracking", "--max-quarantine-share", "0.5")
    assert result.exit_code == 0, result.output
    scored, rejected = read_table(out), read_table(quarantine_path(out))
    assert scored["id"].tolist() == [str(100 + i) for i in range(6)]
    assert scored["score"].tolist() == [str(i) for i in range(6)]
    assert rejected["id"].tolist() == ["106"] and rejected["reason"].tolist() == ["not_text"]


def test_saved_weights_are_readable_by_a_service_user(bundle):
    """safetensors writes 0600: a scoring service running as another user could not load the model."""
    import stat

    weights = [p for p in bundle.rglob("*.safetensors")]
    assert weights and all(p.stat().st_mode & stat.S_IROTH for p in weights)


def test_a_model_the_user_cannot_read_is_named_with_the_fix(cx, tmp_path, monkeypatch):
    src = tmp_path / "in.csv"
    _frame().to_csv(src, index=False)

    def unreadable(bundle_dir, *args, **kwargs):  # what loading a 0600 file of another user raises
        raise PermissionError(13, "Permission denied", str(bundle_dir / "heads.safetensors"))

    monkeypatch.setattr("pipeline.jobs.score.Tagger", unreadable)
    result = cx(src, "--out", tmp_path / "out.parquet", "--no-tracking")
    assert result.exit_code == 2 and "heads.safetensors: permission denied" in result.output
    assert "chmod -R a+rX" in result.output and "Train and evaluate" not in result.output


def test_an_unwritable_output_folder_is_refused_before_the_model_loads(cx, tmp_path, monkeypatch):
    src = tmp_path / "in.csv"
    _frame().to_csv(src, index=False)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # the tests run as root, which may write anywhere: the folder's mode is simulated
    monkeypatch.setattr("pipeline.preflight.os.access", lambda p, m: Path(p) != locked and real_access(p, m))
    out = locked / "sub" / "out.parquet"
    result = cx(src, "--out", out, model_loads=False)
    assert result.exit_code == 2 and f"no permission to write under {locked}" in result.output
    assert _nothing_written(out)


def test_evaluate_without_a_trained_bundle_is_one_line_with_exit_3(tmp_path, params, monkeypatch):
    from pipeline.cli import app

    missing = {"train.out_dir": str(tmp_path / "no-model"), "baseline.out_dir": str(tmp_path / "no-baseline")}
    written = write_params(params, tmp_path / "params.yaml", tmp_store(tmp_path) | missing)
    monkeypatch.setenv("CX_PARAMS", str(written))
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 3 and "no trained transformer bundle" in result.output
    assert "Traceback" not in result.output
    wrong = CliRunner().invoke(app, ["evaluate", "--candidate", "bert"])
    assert wrong.exit_code == 2 and "bert" in wrong.output


def test_cx_loads_no_model_library_until_a_command_needs_one():
    """`cx --help`, `cx status`, `cx report` start in a blink: torch, transformers and pandas load inside
    the commands that use them, not with the CLI or with `params.yaml` (whose schema derives paths)."""
    import subprocess
    import sys

    heavy = ("torch", "transformers", "pandas", "mlflow", "spacy")
    code = (
        "import sys, pipeline.cli; from pipeline.config import load_params; load_params(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_status_lists_every_stage_output_and_the_store_in_use(params, tmp_path, monkeypatch):
    from pipeline.cli.status import main_job_outputs

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    rows = {name: path for name, path, _ in main_job_outputs(params)}
    assert rows["themes"] == Path(params.themes.out_dir)
    assert rows["int8 export"] == Path(params.export.out_dir)
    assert rows["MLflow store"] == tmp_path / "elsewhere.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    server = {name: (path, detail) for name, path, detail in main_job_outputs(params)}["MLflow store"]
    assert server == (None, "tracking server http://mlflow.internal:5000")  # not a file to call missing

"""File-level cleaning: every row lands in exactly one of output and quarantine; clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cleaning.files import clean_file
from pipeline.paths import quarantine_path
from pipeline.tables import TableError, read_table

ROWS = [
    {"id": "1", "text": "Курьер опоздал на два часа"},
    {"id": "2", "text": ""},
    {"id": "3", "text": "Доставката закъсня с два дни"},
    {"id": "4", "text": None},
    {"id": "5", "text": "Great service, call me on +44 7911 123456"},
    {"id": "6", "text": "   "},
]


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "parquet"])
def test_row_count_invariant_in_every_format(tmp_path, cleaner, ext):
    src = tmp_path / f"in.{ext}"
    df = pd.DataFrame(ROWS)
    if ext == "csv":
        df.to_csv(src, index=False)
    elif ext == "tsv":
        df.to_csv(src, index=False, sep="\t")
    elif ext == "jsonl":
        df.to_json(src, orient="records", lines=True, force_ascii=False)
    else:
        df.to_parquet(src)
    out = tmp_path / f"out.{ext}"
    report = clean_file(src, out, cleaner=cleaner, progress=False, chunksize=4)
    cleaned, rejected = read_table(out), read_table(quarantine_path(out))
    assert report.rows == 6 and report.cleaned == 3 and report.quarantined == 3
    assert sorted(cleaned["id"].tolist() + rejected["id"].tolist()) == ["1", "2", "3", "4", "5", "6"]
    assert set(rejected["reason"]) == {"empty", "missing"}
    assert "<PHONE>" in cleaned.set_index("id").loc["5", "text_clean"]
    assert json.loads(cleaned.set_index("id").loc["5", "pii_masked"]) == {"phone": 1}


def test_undecodable_row_is_quarantined_not_fatal(tmp_path, cleaner):
    src = tmp_path / "mixed.csv"
    src.write_bytes("id,text\n1,Всё хорошо\n2,".encode() + b"\xff\xfe broken\n" + b"3,Fine\n")
    report = clean_file(src, tmp_path / "out.parquet", cleaner=cleaner, progress=False)
    rejected = read_table(quarantine_path(tmp_path / "out.parquet"))
    assert (report.cleaned, report.quarantined) == (2, 1)
    assert rejected["reason"].tolist() == ["invalid_utf8"] and rejected["id"].tolist() == ["2"]


def test_broken_quoting_names_file_line_and_fix(tmp_path, cleaner):
    src = tmp_path / "broken.csv"
    src.write_text('id,text\n1,"ok"\n2,"unterminated, with, commas\n3,x,y,z\n', encoding="utf-8")
    with pytest.raises(TableError) as err:
        clean_file(src, tmp_path / "out.csv", cleaner=cleaner, progress=False)
    assert "broken.csv" in str(err.value) and "quote" in str(err.value)


def test_missing_text_column_is_explained(tmp_path, cleaner):
    src = tmp_path / "no_text.csv"
    src.write_text("id,comment\n1,hello\n", encoding="utf-8")
    with pytest.raises(TableError, match=r"missing column\(s\) \['text'\].*--text-col"):
        clean_file(src, tmp_path / "out.csv", cleaner=cleaner, progress=False)


def test_unknown_extension(tmp_path, cleaner):
    src = tmp_path / "data.xls"
    src.write_text("x")
    with pytest.raises(TableError, match="unsupported extension"):
        clean_file(src, tmp_path / "out.csv", cleaner=cleaner, progress=False)


def test_cli_clean_and_help(tmp_path):
    from pipeline.cli import app

    runner = CliRunner()
    for args in (["--help"], ["clean", "--help"], ["base-model", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert args == ["--help"] or "Example" in result.output
    src = tmp_path / "in.csv"
    pd.DataFrame(ROWS).to_csv(src, index=False)
    result = runner.invoke(app, ["clean", str(src), "--out", str(tmp_path / "o.parquet")])
    assert result.exit_code == 0, result.output
    assert "o.parquet" in result.output and "o.quarantine.parquet" in result.output
    bad = runner.invoke(app, ["clean", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and "no such file" in bad.output


def test_clean_output_holds_masked_text_only(tmp_path, cleaner):
    src = tmp_path / "pii.csv"
    src.write_bytes(b"id,name,text\n1,Jos\xe9,call me +7 912 345-67-89 or ivan@mail.ru\n")
    out = tmp_path / "out.csv"
    clean_file(src, out, cleaner=cleaner, progress=False)
    written = out.read_text(encoding="utf-8")
    assert "345-67-89" not in written and "ivan@mail.ru" not in written
    assert read_table(out).loc[0, "name"] == "Jos\\xe9"


def test_tsv_stray_quotes_do_not_swallow_lines(tmp_path):
    src = tmp_path / "in.tsv"
    src.write_text('id\ttext\n1\t"late delivery\n2\tok\n3\tthey said "wait"\n4\tfine\n', encoding="utf-8")
    frame = read_table(src)
    assert frame["id"].tolist() == ["1", "2", "3", "4"]
    assert frame.loc[0, "text"] == '"late delivery'


def test_jsonl_and_parquet_keep_ids_and_text_as_written(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 5, "date": "2026-03-01", "text": "a"}\n{"id": null, "text": "b", "nps": 9}\n',
        encoding="utf-8",
    )
    frame = read_table(src)
    assert frame["id"].tolist() == ["5", None] and frame["date"].tolist() == ["2026-03-01", None]
    assert frame["nps"].tolist() == [None, "9"]
    pq_path = tmp_path / "in.parquet"
    pd.DataFrame({"id": pd.array([101, None], dtype="Int64"), "text": ["a", "b"]}).to_parquet(pq_path)
    assert read_table(pq_path)["id"].tolist() == ["101", None]
    (tmp_path / "broken.jsonl").write_text('{"id": 1}\n{"id": 2,\n', encoding="utf-8")
    with pytest.raises(TableError, match=r"broken.jsonl:2"):
        read_table(tmp_path / "broken.jsonl")

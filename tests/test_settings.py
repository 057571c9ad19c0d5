"""params.yaml is checked against a typed schema: typos and bad values stop with the key's path."""

from __future__ import annotations

import pydantic
import pytest
import yaml

from pipeline.config import REPO_ROOT
from pipeline.settings import ConfigError, parse_params, with_changes


def test_the_shipped_params_fit_the_schema():
    shipped = parse_params(yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8")))
    assert shipped.tracking.gate_metric and shipped.langid.candidates == ["ru", "bg", "en"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["train"].update(lrr=1e-4), "unknown key train.lrr (did you mean train.lr?)"),
        (lambda p: p["train"].update(epochs=0), "train.epochs: Input should be greater than or equal to 1"),
        (lambda p: p["train"].update(precision="fp16"), "train.precision"),
        (lambda p: p.update(evaluaton={}), "unknown key evaluaton (did you mean evaluation?)"),
        (lambda p: p["real"]["public_fractions"].update(test=0.5), "real.public_fractions must sum to 1"),
        (
            lambda p: p["sample"].update(clean_out="outputs/clean/v.parquet"),
            "clean_quarantine must be outputs/clean/v.quarantine.parquet",
        ),
    ],
)
def test_a_bad_key_or_value_is_named(params, edit, message):
    bad = params.model_dump()
    edit(bad)
    with pytest.raises(
        ConfigError, match="(?s).*" + message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        parse_params(bad)


def test_a_changed_knob_is_validated_and_the_loaded_params_stay_as_they_were(params):
    changed = with_changes(params, {"train.lr": "3e-5", "evaluation.behaviour.directional_tolerance": 0.1})
    assert changed.train.lr == 3e-5 and changed.evaluation.behaviour.directional_tolerance == 0.1
    assert params.train.lr != 3e-5  # a copy: the cached params are untouched
    with pytest.raises(ConfigError, match=r"unknown key train\.lrr \(did you mean train\.lr\?\)"):
        with_changes(params, {"train.lrr": 1e-4})
    with pytest.raises(ConfigError, match="seed is not a section"):
        with_changes(params, {"seed.value": 1})
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        params.train.lr = 1.0


def test_cli_refuses_a_mistyped_override_with_a_suggestion():
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, ["train", "--set", "train.lrr=1"])
    assert result.exit_code == 2 and "did you mean train.lr" in result.output
    result = CliRunner().invoke(app, ["train", "--epochs", "0"])
    assert result.exit_code == 2 and "train.epochs" in result.output


def test_a_broken_params_file_is_one_line_and_exit_2(params, tmp_path, monkeypatch, capsys):
    from pipeline import cli

    bad = params.model_dump(mode="json")
    bad["score"]["chunk_sise"] = 10
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    monkeypatch.setenv("CX_PARAMS", str(tmp_path / "params.yaml"))
    monkeypatch.setattr("sys.argv", ["cx", "status"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    assert "unknown key score.chunk_sise (did you mean score.chunk_size?)" in capsys.readouterr().err.replace(
        "\n", ""
    )

"""params.yaml is checked against a typed schema: typos and bad values stop with the key's path."""

from __future__ import annotations

import copy

import pytest
import yaml

from pipeline.settings import ConfigError, check_params


def test_the_shipped_params_fit_the_schema(params):
    check_params(params)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["train"].update(lrr=1e-4), "unknown key train.lrr (did you mean train.lr?)"),
        (lambda p: p["train"].update(epochs=0), "train.epochs: Input should be greater than or equal to 1"),
        (lambda p: p["train"].update(precision="fp16"), "train.precision"),
        (lambda p: p.update(evaluaton={}), "unknown key evaluaton (did you mean evaluation?)"),
        (lambda p: p["real"]["public_fractions"].update(test=0.5), "real.public_fractions must sum to 1"),
    ],
)
def test_a_bad_key_or_value_is_named(params, edit, message):
    bad = copy.deepcopy(params)
    edit(bad)
    with pytest.raises(
        ConfigError, match="(?s).*" + message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        check_params(bad)


def test_cli_refuses_a_mistyped_override_with_a_suggestion():
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, ["train", "--set", "train.lrr=1"])
    assert result.exit_code == 2 and "did you mean train.lr" in result.output
    result = CliRunner().invoke(app, ["train", "--epochs", "0"])
    assert result.exit_code == 2 and "train.epochs" in result.output


def test_a_broken_params_file_is_one_line_and_exit_2(params, tmp_path, monkeypatch, capsys):
    from pipeline import cli

    bad = copy.deepcopy(params)
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

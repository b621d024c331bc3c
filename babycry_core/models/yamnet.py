"""The `yamnet` registry model: a small dense head on pooled YAMNet clip embeddings (family "yamnet").

The head standardises its 2048-d input (mean + std of YAMNet's 1024-d frame embeddings; the buffers are set
from the training part and saved with the weights), then Linear-ReLU-Dropout-Linear -> logits. YAMNet itself
(the frozen TF Hub embedder) is features/yamnet.py; the head is trained by training/yamnet_head.py with training/loop.py's epoch loop.
"""
from __future__ import annotations

import torch
from torch import nn

from babycry_core.features.yamnet import EMBED_DIM
from babycry_core.models.spec import ModelSpec

FAMILY = "yamnet"
D_IN = 2 * EMBED_DIM  # pooled: mean and std of YAMNet's frame embeddings
HIDDEN = 128


class YamnetHead(nn.Module):
    """Standardised 2048-d clip embedding → Linear-ReLU-Dropout-Linear → logits."""

    def __init__(self, n_classes: int, d_in: int = D_IN, hidden: int = HIDDEN, dropout: float = 0.3):
        super().__init__()
        self.register_buffer("mean", torch.zeros(d_in))
        self.register_buffer("scale", torch.ones(d_in))
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def standardise_on(self, X: torch.Tensor) -> "YamnetHead":
        """Set the input standardisation from training embeddings X (n, d_in)."""
        with torch.no_grad():
            self.mean.copy_(X.mean(0))
            self.scale.copy_(X.std(0).clamp_min(1e-4) if len(X) > 1 else torch.ones(X.shape[1]))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.scale)


def build_head(n_classes: int, dropout: float = 0.3, hidden: int = HIDDEN, d_in: int = D_IN, **_) -> YamnetHead:
    return YamnetHead(n_classes, d_in, hidden, dropout)


SPECS = (ModelSpec("yamnet", FAMILY, build_head, "YAMNet (AudioSet, TF Hub) embeddings + small dense head; needs the "
                   "YAMNet weights (download once or BABYCRY_YAMNET_HANDLE)"),)

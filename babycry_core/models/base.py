"""The shared wrapper every log-mel network uses: input norm → backbone → dropout → linear head."""
from __future__ import annotations

import torch
from torch import nn


class LogMelNet(nn.Module):
    """(batch, 1, n_mels, frames) log-mel in dB → (batch, n_classes) logits.

    `embed()` returns the penultimate features (what SVM / XGBoost train on); `cam_layer` names the
    last convolutional block, the target for Grad-CAM.
    """

    def __init__(self, backbone: nn.Module, feat_dim: int, n_classes: int, dropout: float, cam_layer: str):
        super().__init__()
        self.norm = nn.BatchNorm2d(1)  # learns the dB offset/scale of the input
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feat_dim, n_classes))
        self.feat_dim = feat_dim
        self.cam_layer = cam_layer

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.norm(x))  # (batch, feat_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))  # (batch, n_classes)

    def cam_module(self) -> nn.Module:
        return self.get_submodule(self.cam_layer)

"""The YAMNet registry models (Google's AudioSet network; weights from its TFLite file, features/yamnet.py).

- `yamnet` (family "yamnet"): a small dense head on pooled, frozen YAMNet clip embeddings. The head standardises
  its 2048-d input (mean + std of YAMNet's 1024-d frame embeddings; the buffers are set from the training part
  and saved with the weights), then Linear-ReLU-Dropout-Linear -> logits; training/yamnet_head.py trains it.
- `yamnet_ft` (family "torch"): YAMNet fine-tuned end to end, as the seed did: its MobileNet body on its own
  log-mel (FeatureConfig frontend "yamnet"), one 1024-d embedding per 0.96 s patch, averaged, then a new linear
  head. The one epoch loop trains it, with a tenth of the learning rate for the pretrained body (`param_groups`).
"""
from __future__ import annotations

import torch
from torch import nn

from babycry_core.features.config import FeatureConfig
from babycry_core.features.yamnet import EMBED_DIM, LICENCE
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


# decoded at 8 kHz like every model (the corpus band), upsampled to 16 kHz by YAMNet's front end
YAMNET_FEATURES = FeatureConfig(frontend="yamnet", n_fft=512, hop_length=160, fmin=125.0, fmax=7500.0)
BODY_LR_FACTOR = 0.1  # the pretrained body learns at a tenth of the head's rate


class YamnetFinetune(nn.Module):
    """(batch, 1, 64, frames) YAMNet log-mel -> (batch, n_classes) logits: 96-frame patches every 48 frames through
    YAMNet's body, their 1024-d embeddings averaged, dropout, a linear head. `embed()` gives the averaged embedding."""

    def __init__(self, n_classes: int, dropout: float = 0.3):
        super().__init__()
        from babycry_core.features.yamnet_net import build_layers

        self.layers = build_layers()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(EMBED_DIM, n_classes))
        self.feat_dim = EMBED_DIM
        self.pretrained_status = "random initialisation"

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        from babycry_core.features.yamnet_net import PATCH_FRAMES, PATCH_HOP_FRAMES, embed_patches

        b = x.shape[0]
        patches = x[:, 0].transpose(1, 2).unfold(1, PATCH_FRAMES, PATCH_HOP_FRAMES)  # (batch, P, 64, 96)
        n = patches.shape[1]
        patches = patches.transpose(-1, -2).reshape(b * n, PATCH_FRAMES, x.shape[2])  # (batch*P, 96, 64)
        return embed_patches(self.layers, patches).reshape(b, n, -1).mean(1)  # (batch, 1024)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))  # (batch, n_classes)

    def param_groups(self, lr: float) -> list[dict]:
        """The optimiser's groups: the pretrained body at BODY_LR_FACTOR * lr, the new head at lr."""
        return [{"params": list(self.layers.parameters()), "lr": lr * BODY_LR_FACTOR},
                {"params": list(self.head.parameters()), "lr": lr}]


def build_finetune(n_classes: int, dropout: float = 0.3, pretrained: bool = True, **_) -> YamnetFinetune:
    """YAMNet's body with the weights of its TFLite file (features/yamnet.py finds it) and a new head. Without the
    file the body stays random and `pretrained_status` says why and how to fix it."""
    model = YamnetFinetune(n_classes, dropout)
    if pretrained:
        from babycry_core.features.yamnet import YamnetUnavailable, body_weights

        try:
            state, source = body_weights()
            model.layers.load_state_dict(state)
            model.pretrained_status = f"YAMNet AudioSet weights from {source} ({LICENCE})"
        except YamnetUnavailable as e:
            model.pretrained_status = f"random initialisation: {e}"
    return model


SPECS = (ModelSpec("yamnet", FAMILY, build_head, "YAMNet (AudioSet) frozen embeddings + small dense head; needs YAMNet's "
                   "weights (data link, or BABYCRY_YAMNET)"),
         ModelSpec("yamnet_ft", "torch", build_finetune, "YAMNet (AudioSet) fine-tuned end to end on its own log-mel, "
                   "body at a tenth of the head's learning rate; needs YAMNet's weights (data link, or BABYCRY_YAMNET)",
                   params={"features": YAMNET_FEATURES.to_dict(), "pretrained": True}))

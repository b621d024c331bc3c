"""The small CNN of our own: four conv blocks, ~0.1 M parameters, fast enough for a laptop CPU."""
from __future__ import annotations

from torch import nn

from babycry_core.models.base import LogMelNet
from babycry_core.models.spec import ModelSpec


def _block(c_in: int, c_out: int, p_drop: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout2d(p_drop),
    )


def build_cnn(n_classes: int, dropout: float = 0.3, pretrained: bool = False, **_) -> LogMelNet:
    widths = (16, 32, 64, 128)
    layers, c = [], 1
    for w in widths:
        layers.append(_block(c, w, dropout / 3))
        c = w
    backbone = nn.Sequential(
        nn.Sequential(*layers),  # (batch, 128, n_mels/16, frames/16)
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),  # (batch, 128)
    )
    net = LogMelNet(backbone, widths[-1], n_classes, dropout, cam_layer="backbone.0.3")
    net.pretrained_status = "not applicable"
    return net


SPECS = (ModelSpec("cnn", "torch", build_cnn, "Base CNN: 4 conv blocks (16-128 channels), ~0.1 M parameters"),)

"""The cry detector's network (`cry_detector`): the small CNN over 2 s normalised log-mel windows, five outputs
(cry, laugh, noise, silence, speech). Its data, training and threshold are in training/detector_fit.py
(training.fit picks it)."""
from __future__ import annotations

from babycry_core.features.config import FeatureConfig
from babycry_core.models.spec import ModelSpec

DETECTOR_FEATURES = FeatureConfig(clip_seconds=2.0, hop_seconds=0.5, normalize=True, hop_length=256)  # (64, 63) per window


def build_cry_detector(n_classes: int = 5, dropout: float = 0.2, pretrained: bool = False, **_):
    from babycry_core.models.cnn import build_cnn  # torch: only when a network is built (the ONNX engine never does)

    return build_cnn(n_classes, dropout=dropout)


SPECS = (ModelSpec("cry_detector", "detector", build_cry_detector,
                   "Cry detector: small CNN on 2 s level-normalised log-mel windows, "
                   "cry / speech / laugh / noise / silence every 0.5 s"),)

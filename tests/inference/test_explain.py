"""Saliency maps: shapes and ranges on a trained run, that occlusion finds the part that matters, stitching of
long clips, the non-torch paths, and the speed of occlusion on a 7 s clip."""
from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from babycry_core.inference import explain
from babycry_core.audio import synth
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import log_mel, windows
from babycry_core.inference.predictor import load_predictor
from tests.conftest import TINY_FEATURES, tiny_train_config


@pytest.fixture(scope="module")
def predictor(tiny_corpus, tmp_path_factory):
    from babycry_core.data import manifest as data
    from babycry_core.training.loop import fit

    base = tmp_path_factory.mktemp("explain_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BABYCRY_DATA", str(base / "data"))
        mp.setenv("BABYCRY_CHECKPOINTS", str(base / "checkpoints"))
        data.prepare("donateacry", source=tiny_corpus, seed=0, n_folds=3, progress=False)
        return load_predictor(fit(tiny_train_config(), progress=False))


class FirstHalfGate(nn.Module):
    """Zeroes the second half of the frames."""

    def forward(self, h):
        return torch.cat([h[..., : h.shape[-1] // 2], torch.zeros_like(h[..., h.shape[-1] // 2:])], dim=-1)


class FirstHalfNet(nn.Module):
    """Stand-in CNN: class 0's logit is the mean energy of the first half of the frames, class 1's is 0.
    Its Grad-CAM layer is the gate, whose activations are zero outside the first half."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[:, 0, 1, 1] = 1.0
            self.conv.bias.fill_(80.0)  # -80 dB (silence) -> 0
        self.gate = FirstHalfGate()

    def cam_module(self):
        return self.gate

    def forward(self, x):
        first = self.gate(torch.relu(self.conv(x))).mean(dim=(1, 2, 3)) / 10
        return torch.stack([first, torch.zeros_like(first)], dim=1)


def stand_in(scorer, cfg=FeatureConfig(**TINY_FEATURES)):
    return SimpleNamespace(scorer=scorer, cfg=cfg, labels=["a", "b"], loaded=SimpleNamespace(temperature=1.0))


@pytest.mark.parametrize("method", ["occlusion", "gradcam"])
def test_shape_and_range_on_trained_run(predictor, method):
    y = synth.cry_sweep(1.5, 8000)  # shorter than one window: explained on the padded window
    s = explain.saliency(predictor, y, method)
    assert s.shape == (predictor.cfg.n_mels, predictor.cfg.n_frames) == explain.model_input(y, predictor.cfg).shape
    assert s.dtype == np.float32 and np.isfinite(s).all()
    assert s.min() >= 0 and s.max() <= 1 and s.max() in (0.0, 1.0)
    assert explain.saliency(predictor, y, method, target="tired").shape == s.shape


def test_occlusion_ignores_silence_on_trained_run(predictor):
    """Tiles that are already silent cannot change the answer: the silent second half gets no saliency."""
    cfg = predictor.cfg
    y = np.concatenate([synth.cry_sweep(1.0, 8000, 350, 500), np.zeros(cfg.clip_samples - 8000, np.float32)])
    for label in predictor.labels:  # whatever the class, all evidence lies in the first half
        s = explain.saliency(predictor, y, "occlusion", target=label)
        # the tile that holds the signal's end (the STFT window spreads it by a frame) is the only slack
        first, second = s[:, : s.shape[1] // 2].sum(), s[:, s.shape[1] // 2 + 16:].sum()
        assert second == 0 and (first > 0 or s.max() == 0)


@pytest.mark.parametrize("method", ["occlusion", "gradcam"])
def test_saliency_highlights_the_part_that_matters(method):
    """The stand-in model only looks at the first half: nearly all saliency mass must be there."""
    p = stand_in(SimpleNamespace(model=FirstHalfNet().eval()))
    y = synth.cry_sweep(2.0, 8000)  # signal everywhere; only the model decides what matters
    s = explain.saliency(p, y, method, target="a")
    half = s.shape[1] // 2
    first, second = s[:, :half].sum(), s[:, half:].sum()
    assert s.max() == pytest.approx(1.0) and first > 10 * second


def test_long_clip_is_stitched_over_windows(predictor):
    cfg = predictor.cfg
    y = np.concatenate([synth.cry_sweep(3.0, 8000, seed=1), synth.cry_sweep(3.0, 8000, 900, 1200, seed=2)])
    assert len(windows(y, cfg)) > 2
    s = explain.saliency(predictor, y, "gradcam")
    assert s.shape == log_mel(y, cfg).shape == explain.model_input(y, cfg).shape
    assert s.min() >= 0 and s.max() == pytest.approx(1.0)
    capped = explain.saliency(predictor, y, "occlusion", max_windows=1)
    assert capped.shape == s.shape and capped[:, cfg.n_frames + 1:].sum() == 0  # frames after the cap stay 0
    assert explain.covered_seconds(y, cfg, 1) == cfg.clip_seconds and explain.covered_seconds(y, cfg) is None


def test_non_torch_models():
    cfg = FeatureConfig(**TINY_FEATURES)
    net = FirstHalfNet().eval()

    class FeatureScorer:  # a classical model that scores log-mel features
        def window_logits(self, wins, cfg):
            raise AssertionError("not used by saliency")

        def feature_logits(self, X, cfg):
            with torch.no_grad():
                return net(torch.from_numpy(X)).numpy()

    p = stand_in(FeatureScorer(), cfg)
    assert explain.available_methods(p) == ["occlusion"]
    assert explain.saliency(p, synth.cry_sweep(2.0), "gradcam") is None
    s = explain.saliency(p, synth.cry_sweep(2.0), "occlusion", target=0)
    assert s.shape == (cfg.n_mels, cfg.n_frames) and s[:, : s.shape[1] // 2].sum() > 10 * s[:, s.shape[1] // 2:].sum()

    opaque = stand_in(SimpleNamespace(window_logits=lambda wins, cfg: None), cfg)  # e.g. a waveform model
    assert explain.available_methods(opaque) == []
    assert explain.saliency(opaque, synth.cry_sweep(2.0), "occlusion") is None
    with pytest.raises(ValueError):
        explain.saliency(p, synth.cry_sweep(2.0), "lime")


def test_occlusion_is_fast_for_the_small_cnn_on_7_seconds():
    from babycry_core.models import build_model

    cfg = FeatureConfig()  # 7 s windows
    p = stand_in(SimpleNamespace(model=build_model("cnn", 5).eval()), cfg)
    p.labels = list("abcde")
    y = synth.cry_sweep(7.0, cfg.sample_rate)
    explain.saliency(p, y, "occlusion")  # warm-up (captum import, first conv)
    t = time.perf_counter()
    s = explain.saliency(p, y, "occlusion")
    elapsed = time.perf_counter() - t
    assert s.shape == (cfg.n_mels, cfg.n_frames)
    assert elapsed < 3.0, f"occlusion took {elapsed:.2f} s (target about 1 s on 2 shared cores)"

"""Distillation (training/distill.py): the teacher's targets, and the one loop training on soft targets."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from babycry_core.data.corpora import DETECTOR_CLASSES
from babycry_core.models.detector_net import DETECTOR_FEATURES
from babycry_core.training import distill

LABELS = list(DETECTOR_CLASSES)
CRY = LABELS.index("cry")
SR = DETECTOR_FEATURES.sample_rate


class Teacher:
    """A stand-in fused detector: P(cry) of a window is its peak amplitude."""

    cfg, cry_index = DETECTOR_FEATURES, CRY

    def feature_proba(self, X):
        return np.full((len(X), len(LABELS)), 1 / len(LABELS))

    fusion = SimpleNamespace(cry_proba=lambda W, p_cnn, sr: np.abs(np.asarray(W)).max(axis=1))


def test_targets_follow_the_teacher_and_keep_the_label():
    waves = {"train": [np.full(3 * SR, 0.8, np.float32)], "train_aug": [np.full(2 * SR, 0.2, np.float32)]}
    y = np.array([CRY, CRY, LABELS.index("speech")])  # two windows of the 3 s recording, one of the 2 s copy
    parts = {"train": (np.zeros((3, 1, 64, 63), np.float32), y, pd.DataFrame({"clip_id": ["a", "b", "c"]}))}
    T = distill.teacher_targets(Teacher(), parts, waves, LABELS)
    a = distill.ALPHA
    assert np.allclose(T.sum(1), 1)
    assert T[0, CRY] == pytest.approx(a + (1 - a) * 0.8)
    assert T[0, LABELS.index("noise")] == pytest.approx((1 - a) * 0.2 / 4)  # a cry window's rest: spread
    assert T[2, CRY] == pytest.approx((1 - a) * 0.2) and T[2, LABELS.index("speech")] == pytest.approx(a + (1 - a) * 0.8)


def test_a_window_count_mismatch_is_an_error():
    waves = {"train": [np.zeros(3 * SR, np.float32)], "train_aug": []}
    parts = {"train": (np.zeros((5, 1, 64, 63), np.float32), np.zeros(5, int), None)}
    with pytest.raises(RuntimeError, match="the training part has 5"):
        distill.teacher_targets(Teacher(), parts, waves, LABELS)


def test_the_loop_learns_the_soft_targets_not_the_labels(tmp_path):
    """Hard labels say class 0 for everything; the targets say class 1 for the loud half: the run follows them."""
    from babycry_core.training.detector_fit import default_config
    from babycry_core.training.loop import fit, predict_logits
    from babycry_core.runs.weights import load_torch_model

    rng = np.random.default_rng(0)
    n = 64
    X = rng.standard_normal((n, 1, 64, 63)).astype(np.float32)
    X[: n // 2] += 2.0
    y = np.zeros(n, int)
    y[-2:] = [1, 2]  # every class the sampler needs is present
    frame = pd.DataFrame({"clip_id": [f"c{i}" for i in range(n)]})
    T = np.zeros((n, len(LABELS)), np.float32)
    T[: n // 2, 1], T[n // 2 :, 0] = 1, 1
    parts = {p: (X, y, frame) for p in ("train", "val", "test")}
    parts["train_targets"] = T
    cfg = default_config(epochs=4, epoch_size=256, patience=10, balance="none")
    run = fit(cfg, tmp_path / "run", progress=False, data_parts=(LABELS, parts), extra_meta={"role": "detector"})
    pred = predict_logits(load_torch_model(run), X).argmax(1)
    assert (pred[: n // 2] == 1).mean() > 0.9 and (pred[n // 2 :] == 0).mean() > 0.9

"""Candidate (c), YAMNet fine-tuned at its top (training/yamnet_top.py): it starts from the file's own layer 14, so
before training its embedding is the interpreter's; training moves the head toward the labels."""
from __future__ import annotations

import numpy as np
import pytest

from babycry_core.audio import synth
from tests.conftest import shared_or_skip

SR = 8000


@pytest.fixture()
def tflite(monkeypatch):
    monkeypatch.setenv("BABYCRY_YAMNET", str(shared_or_skip("yamnet", "yamnet.tflite")))


def test_the_top_starts_as_the_files_layer_14(tflite):
    import torch

    from babycry_core.audio.signal import fix_length, resample
    from babycry_core.features.yamnet import load_yamnet
    from babycry_core.training.yamnet_top import build_top, window_activations

    y = synth.cry_sweep(2.0, SR)
    A = window_activations(y[None], SR)  # (1, 3, 1024, 3, 2)
    assert A.shape == (1, 3, 1024, 3, 2)
    _, emb, _ = load_yamnet().run(fix_length(resample(y[:7800], SR, 16000), 15600))
    with torch.inference_mode():
        e = build_top().layer14(torch.from_numpy(A[0, :1]).float()).mean(dim=(2, 3))[0].numpy()
    assert np.corrcoef(e, emb)[0, 1] > 0.999 and np.abs(e - emb).max() < 0.1  # the file's int8 rounding aside


def test_fine_tuning_separates_cries_from_noise(tflite):
    from babycry_core.training.yamnet_top import fit_top, predict_top, window_activations

    cries = [synth.cry_sweep(2.0, SR, f_lo=380 + 20 * i, f_hi=560 + 20 * i, seed=i) for i in range(6)]
    noise = [synth.white_noise(2.0, SR, level=0.05 + 0.02 * i, seed=i) for i in range(6)]
    A = window_activations(np.stack(cries + noise), SR)
    y = np.array([True] * 6 + [False] * 6)
    net = fit_top(A, y, A, y, seed=0)
    p = predict_top(net, A)
    assert p[:6].min() > p[6:].max()

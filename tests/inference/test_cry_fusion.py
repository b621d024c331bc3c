"""The fused cry detector (inference/cry_fusion.py, training/cry_fusion_fit.py) on the real YAMNet file.

A fusion is fitted on generated recordings (cry sweeps against low voice-like sweeps and noise) on top of the
shipped CNN detector, written as a run folder, and loaded back through the one CryDetector the app uses."""
from __future__ import annotations

import numpy as np
import pytest

from babycry_core import paths
from babycry_core.audio import synth
from babycry_core.inference.cry_fusion import YamnetFusion, sigmoid
from babycry_core.runs import run_registry as runs  # the shipped CNN detector
from tests.conftest import shared_or_skip

SR = 8000


def _fusion(mode="fusion", screen=None, n=4):
    rng = np.random.default_rng(0)
    return YamnetFusion(mode, np.zeros(n), np.ones(n), rng.standard_normal(n), 0.1, (1.0, 0.5, 0.2), -0.3, screen)


def test_apply_replaces_the_cry_column_and_keeps_a_distribution(monkeypatch):
    from babycry_core.features import yamnet_windows

    asked = []
    monkeypatch.setattr(yamnet_windows, "window_features",
                        lambda W, sr, handle=None: asked.append(len(W)) or np.full((len(W), 4), 0.5, np.float32))
    proba = np.array([[0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.02, 0.0, 0.98]])
    W = np.zeros((3, 2 * SR), np.float32)
    out = _fusion(screen=0.05).apply(W, proba, 0, SR)
    assert asked == [2]  # the screen kept YAMNet off the third window
    assert out[2, 0] == 0.0 and np.allclose(out.sum(1), 1, atol=1e-6)
    assert out[1, 1] / out[1, 2] == pytest.approx(2.0)  # the other classes keep their proportions
    f = _fusion()
    z = f.weights[0] * np.log(0.9 / 0.1) + f.weights[1] * f.head_logit(np.full((1, 4), 0.5))[0] + f.bias
    assert f.apply(W[:1], proba[:1], 0, SR)[0, 0] == pytest.approx(sigmoid(z), rel=1e-5)


def test_save_load_round_trip_and_a_damaged_head(tmp_path):
    f = _fusion("cascade", screen=0.2)
    f.save(tmp_path)
    g = YamnetFusion.load(tmp_path)
    assert g.mode == "cascade" and g.screen == 0.2 and np.allclose(g.coef, f.coef, atol=1e-6)
    (tmp_path / "yamnet_head.safetensors").write_bytes(b"0" * 64)
    with pytest.raises(ValueError, match="sha256"):
        YamnetFusion.load(tmp_path)


@pytest.fixture(scope="module")
def tflite():
    return str(shared_or_skip("yamnet", "yamnet.tflite"))


def test_consecutive_windows_share_their_patches(tflite):
    from babycry_core.features.yamnet_windows import PatchCache, window_features

    y = synth.cry_sweep(6.0, SR)
    W = np.stack([y[s : s + 2 * SR] for s in range(0, len(y) - 2 * SR + 1, SR // 2)])  # 9 windows, 0.5 s apart
    cache = PatchCache()
    F = window_features(W, SR, tflite, cache)
    assert F.shape == (9, 2049) and cache.calls == 9 + 2  # one new patch per window after the first
    noise = window_features(W[:2] * 0 + synth.white_noise(2.0, SR, level=0.1), SR, tflite, cache)
    assert F[:, 0].max() > 0.25 > noise[:, 0].max()  # YAMNet hears the sweep (not the noise) as a baby cry


def _recordings(kind: str, n: int):
    if kind == "cry":
        return [synth.cry_sweep(4.0, SR, f_lo=380 + 15 * i, f_hi=560 + 15 * i) for i in range(n)]
    return [synth.cry_sweep(4.0, SR, f_lo=95 + 5 * i, f_hi=130 + 5 * i) if i % 2 else
            synth.white_noise(4.0, SR, level=0.1, seed=i) for i in range(n)]


@pytest.mark.parametrize("mode", ["fusion", "cascade"])
def test_a_fused_run_loads_answers_and_falls_back_without_yamnet(tflite, tmp_path, monkeypatch, mode):
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.cry_fusion_fit import fit_fusion, fuse_run

    monkeypatch.setenv("BABYCRY_YAMNET", tflite)
    import shutil

    from babycry_core.runs.checkpoint import FUSION_FILES

    cnn = tmp_path / "cnn"  # the shipped detector's CNN alone (the shipped run may be fused already)
    shutil.copytree(runs.default_pair(paths.ROOT / "checkpoints")[0], cnn, ignore=shutil.ignore_patterns(*FUSION_FILES))
    det = CryDetector(load(cnn))
    assert det.fusion is None
    cries, others = _recordings("cry", 8), _recordings("other", 8)
    fusion = fit_fusion(det, cries[:5] + others[:5], [True] * 5 + [False] * 5, cries[5:] + others[5:],
                        [True] * 3 + [False] * 3, mode)
    run = fuse_run(cnn, tmp_path / "fused", fusion)
    fused = CryDetector(load(run))
    assert fused.fusion is not None and fused.threshold == pytest.approx(fusion.threshold)
    assert fused.kind == f"CNN + YAMNet ({mode})"
    cry = fused.detect(synth.cry_sweep(5.0, SR, f_lo=400, f_hi=600))
    assert cry.detected and cry.heard == "cry"
    assert not fused.detect(synth.white_noise(5.0, SR, level=0.1, seed=99)).detected
    monkeypatch.setenv("BABYCRY_YAMNET", str(tmp_path / "missing.tflite"))
    plain = CryDetector(load(run))
    assert plain.fusion is None and "CNN alone" in plain.fusion_error
    assert plain.threshold == pytest.approx(det.threshold)

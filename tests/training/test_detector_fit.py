"""detector_train: a cry detector trained end to end on generated recordings of the five kinds (one epoch).

Cries are harmonic sweeps at cry pitch, speech a low voice-like sweep, laughs a sweep gated into short calls,
noise white noise, silence faint hiss; each recording its own group. The generated household sounds and laughs are
cut to a few so that the run takes seconds. The run must describe itself: its threshold chosen on validation and
stored, the test figures, the training windows of every kind."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from babycry_core import fileio
from babycry_core.training import detector_fit as T
from babycry_core.audio import synth
from babycry_core.data.corpora import DETECTOR_CLASSES

SR = 8000


def _sound(kind: str, i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    if kind == "cry":
        return synth.cry_sweep(4.0, SR, f_lo=380 + 10 * i, f_hi=560 + 10 * i)
    if kind == "speech":
        return synth.cry_sweep(4.0, SR, f_lo=100 + 5 * i, f_hi=140 + 5 * i)
    if kind == "laugh":
        y = synth.cry_sweep(4.0, SR, f_lo=300, f_hi=400)
        return (y * (np.sin(2 * np.pi * 5 * np.arange(len(y)) / SR) > 0.3)).astype(np.float32)
    if kind == "noise":
        return synth.white_noise(4.0, SR, level=0.2, seed=i)
    return (0.003 * rng.standard_normal(4 * SR)).astype(np.float32)  # silence: a quiet room's hiss


@pytest.fixture()
def frames(tmp_path):
    rows = []
    for kind in DETECTOR_CLASSES:
        for i in range(6):
            p = tmp_path / f"{kind}_{i}.wav"
            sf.write(p, _sound(kind, i), SR)
            rows.append({"clip_id": f"{kind}_{i}", "path": str(p), "label": kind, "group": f"{kind}_{i}",
                         "source": "generated", "is_cry": kind == "cry", "duration": 4.0})
    df = pd.DataFrame(rows)
    part = df.groupby("label").cumcount().map(lambda j: "train" if j < 4 else ("val" if j == 4 else "test"))
    return {name: df[part == name].reset_index(drop=True) for name in ("train", "val", "test")}


def test_one_epoch_detector_run_describes_itself(frames, tmp_path, monkeypatch):
    from babycry_core.runs.checkpoint import load
    from babycry_core.inference.cry_detector import CryDetector

    monkeypatch.setattr(T, "N_HOUSEHOLD", 3)
    monkeypatch.setattr(T, "N_LAUGHS", (2, 2))
    cfg = T.default_config(epochs=1, epoch_size=64, batch_size=16, seed=0)
    run = T.fit_detector(cfg, tmp_path / "run", progress=False, frames=frames)

    assert fileio.read_json(run / "status.json")["status"] == "finished"
    config = fileio.read_json(run / "config.json")
    assert config["model"] == "cry_detector"
    windows = config["augmentation"]["train_windows_per_class"]
    assert set(windows) == set(DETECTOR_CLASSES) and all(n > 0 for n in windows.values())
    assert config["n_recordings"] == {"train": 20, "val": 5, "test": 5}

    cal = fileio.read_json(run / "calibration.json")
    assert 0.0 <= cal["cry_threshold"] <= 1.0 and "validation recordings (5)" in cal["fit_on"]
    assert cal["val_recall"] >= T.MIN_RECALL  # the validation cry and its quiet copy are both above it
    cry = fileio.read_json(run / "metrics.json")["cry"]
    assert {"f1", "recall", "precision", "false_alarm_rate", "quiet_recall"} <= set(cry)
    assert cry["n"] == 5 and cry["n_cry"] == 1

    det = CryDetector(load(run))
    assert det.threshold == pytest.approx(cal["cry_threshold"])
    res = det.detect(_sound("cry", 9))
    assert 0.0 <= res.probability <= 1.0 and res.heard in DETECTOR_CLASSES

"""Shared fixtures: generated audio, a tiny generated corpus, and isolated project folders.

Every test writes into tmp folders (BABYCRY_* env vars), never into the real data/ or checkpoints/.
Real corpus files are used where ../shared/data exists; tests that need them skip with a reason otherwise.
"""
from __future__ import annotations

import os
from pathlib import Path

# torch and torchvision before anything that could import TensorFlow (TF first segfaults the process)
import torch  # noqa: F401
import torchvision  # noqa: F401
import numpy as np
import pytest
import soundfile as sf

from babycry_core import paths
from babycry_core.audio import synth

SHARED = paths.shared_data_dir()
TINY_FEATURES = {"clip_seconds": 2.0}


def shared_or_skip(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present (the ../shared/data corpus is only beside the project in this workplace)")
    return p


def real_cry(seconds: float, sr: int = 8000) -> np.ndarray:
    """A real Donate-a-Cry cry (a hungry clip that cries throughout, looped, peak at half scale) of `seconds`: the
    shipped monitor raises an alert only once its upload verdict confirms a cry, and it does not take a generated
    sweep for one. (The first clips pause for breath longer than the alert rule allows in a few seconds.)"""
    from babycry_core.audio import decode as audio

    clip = sorted(shared_or_skip("donateacry", "hungry").glob("*.wav"))[2]
    y = audio.load(clip, sr)
    y = 0.5 * y / max(float(np.abs(y).max()), 1e-6)
    return np.tile(y, int(np.ceil(seconds * sr / len(y))))[: int(seconds * sr)].astype(np.float32)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    """Each test gets its own checkpoints/ and results/; data and feature cache are shared per session."""
    base = tmp_path_factory.mktemp("proj")
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(base / "checkpoints"))
    monkeypatch.setenv("BABYCRY_RESULTS", str(base / "results"))
    monkeypatch.setenv("BABYCRY_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path_factory.getbasetemp() / "data"))
    yield base


def _class_signal(label: str, i: int, sr: int, seconds: float) -> np.ndarray:
    """Separable synthetic 'reasons', so a tiny model can learn them in a few epochs."""
    if label == "hungry":
        return synth.cry_sweep(seconds, sr, 350 + 10 * i, 500 + 10 * i, seed=i)
    if label == "tired":
        return synth.cry_sweep(seconds, sr, 900 + 10 * i, 1200 + 10 * i, seed=i)
    return synth.white_noise(seconds, sr, level=0.05 + 0.01 * i, seed=i)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A folder-per-class corpus with Donate-a-Cry-style names: 3 classes x 8 babies x 2 clips, 2 s at 8 kHz."""
    root = tmp_path_factory.mktemp("tiny_corpus")
    for label, tag in (("hungry", "hu"), ("tired", "ti"), ("discomfort", "dc")):
        (root / label).mkdir()
        for b in range(8):
            uuid = f"{label[:2]}{b:06d}-0000-4000-8000-000000000000"
            for j in range(2):
                y = _class_signal(label, b * 2 + j, 8000, 2.0)
                sf.write(root / label / f"{uuid}-{1430000000 + j}-1.0-{'mf'[b % 2]}-26-{tag}.wav", y, 8000)
    return root


@pytest.fixture
def tiny_data(tiny_corpus, monkeypatch, tmp_path):
    """data/ built from the tiny corpus (manifest + grouped splits and folds) in this test's own data dir."""
    from babycry_core.data import manifest as data

    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "data"))
    manifest, splits = data.prepare("donateacry", source=tiny_corpus, seed=0, n_folds=3)
    return manifest, splits


@pytest.fixture
def wav_file(tmp_path) -> Path:
    p = tmp_path / "cry.wav"
    sf.write(p, synth.cry_sweep(3.0, 8000), 8000)
    return p


def tiny_train_config(**kw):
    from babycry_core.training.loop import TrainConfig
    from babycry_core.features.config import FeatureConfig

    base = dict(model="cnn", epochs=3, batch_size=8, patience=5, threads=1,
                features=FeatureConfig(**TINY_FEATURES).to_dict())
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture
def trained_run(tiny_data):
    """A finished small-CNN run on the tiny corpus (a few seconds)."""
    from babycry_core.training.loop import fit

    return fit(tiny_train_config(), progress=False)


def train_template(tiny_corpus: Path, base: Path, epochs: int = 1) -> Path:
    """A finished small-CNN run trained once (for a module) in its own data/ and checkpoints/ under base."""
    from babycry_core.data import manifest as data
    from babycry_core.training.loop import fit

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BABYCRY_DATA", str(base / "data"))
        mp.setenv("BABYCRY_CHECKPOINTS", str(base / "checkpoints"))
        data.prepare("donateacry", source=tiny_corpus, seed=0, n_folds=3, progress=False)
        return fit(tiny_train_config(epochs=epochs), progress=False)


@pytest.fixture
def fresh_env(tmp_path):
    """A machine without ../shared/data, for subprocesses: empty data/, checkpoints/ and shared-data folders in
    tmp_path, no BABYCRY_* settings from outside."""
    (tmp_path / "no-shared").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BABYCRY_")}
    env.update(BABYCRY_DATA=str(tmp_path / "data"), BABYCRY_SHARED_DATA=str(tmp_path / "no-shared"),
               BABYCRY_CHECKPOINTS=str(tmp_path / "checkpoints"), BABYCRY_RESULTS=str(tmp_path / "results"),
               BABYCRY_CACHE=str(tmp_path / "cache"), GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return env

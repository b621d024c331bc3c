"""YAMNet from its TFLite file: finding the weights, one line without them, AudioSet's view, and yamnet_ft."""
from __future__ import annotations

import glob
import os
import time

import numpy as np
import pytest
import soundfile as sf

from babycry_core.features import yamnet
from tests.conftest import shared_or_skip, tiny_train_config


@pytest.fixture
def no_env(monkeypatch):
    for k in (yamnet.WEIGHTS_ENV, yamnet.HANDLE_ENV):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def nowhere(no_env, monkeypatch, tmp_path):
    """A machine with no YAMNet file: neither linked, downloaded, nor in ../shared/data."""
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("BABYCRY_SHARED_DATA", str(tmp_path / "no-shared"))


@pytest.fixture
def tflite(no_env, monkeypatch, tmp_path):
    """The real file, linked as setup links it: <data>/corpus/yamnet -> ../shared/data/yamnet."""
    shared = shared_or_skip("yamnet", "yamnet.tflite").parent
    data = tmp_path / "data"
    (data / "corpus").mkdir(parents=True)
    os.symlink(shared, data / "corpus" / "yamnet")
    monkeypatch.setenv("BABYCRY_DATA", str(data))
    return data / "corpus" / "yamnet" / "yamnet.tflite"


def test_without_weights_one_line_says_how(nowhere):
    t0 = time.time()
    with pytest.raises(yamnet.YamnetUnavailable) as e:
        yamnet.load_yamnet()
    assert time.time() - t0 < 2
    assert str(e.value) == yamnet.NO_WEIGHTS and "data link" in str(e.value) and "\n" not in str(e.value)


def test_a_file_that_is_not_yamnet_is_refused_in_one_line(no_env, tmp_path):
    bad = tmp_path / "yamnet.tflite"
    bad.write_bytes(b"TFL3" + bytes(200))
    with pytest.raises(yamnet.YamnetUnavailable) as e:
        yamnet.load_yamnet(str(bad))
    assert str(e.value).startswith(f"YAMNet could not be loaded from {bad}") and "\n" not in str(e.value)


def test_the_linked_file_is_found_and_hears_cries_and_speech(tflite):
    assert yamnet.resolve_handle() == str(tflite)
    assert yamnet.model_key().startswith("yamnet.tflite#469be6a3")  # the sha256 in ../shared/data/README.md
    assert yamnet.class_names()[20] == yamnet.BABY_CRY
    cry = shared_or_skip("donateacry", "hungry", "035c6b30-a145-42b9-8d0f-445cd9003d2c-1435948197257-1.7-m-04-hu.wav")
    y, sr = sf.read(cry, dtype="float32")
    ev = yamnet.audioset_evidence(yamnet.to_16k(y, sr))
    assert ev["baby_cry_max"] > 0.5 and ev["frames"] == 14
    speech = sorted(glob.glob(str(shared_or_skip("fsdd", "recordings") / "0_*.wav")))[0]
    y, sr = sf.read(speech, dtype="float32")
    ev = yamnet.audioset_evidence(yamnet.to_16k(y, sr))
    assert ev["top"][0][0] == "Speech" and ev["baby_cry_max"] < 0.05


def test_env_points_at_a_tflite_file(tflite, monkeypatch):
    monkeypatch.setenv(yamnet.WEIGHTS_ENV, str(tflite.resolve()))
    monkeypatch.setenv("BABYCRY_DATA", "/nonexistent")  # the env wins over the linked copy
    assert yamnet.resolve_handle() == str(tflite.resolve())
    emb = yamnet.frame_embeddings(np.zeros(16000, np.float32))
    assert emb.shape == (2, 1024) and (emb >= 0).all()


def test_yamnet_ft_starts_from_the_files_body(tflite):
    import torch

    from babycry_core.features.logmel import log_mel
    from babycry_core.models import build_model
    from babycry_core.models.yamnet_transfer import BODY_LR_FACTOR, YAMNET_FEATURES

    model = build_model("yamnet_ft", 3, pretrained=True).eval()
    assert "yamnet.tflite#469be6a3" in model.pretrained_status
    net = yamnet.torch_yamnet()
    y = np.random.default_rng(0).normal(0, 0.05, 56000).astype(np.float32)  # 7 s at 8 kHz
    X = torch.from_numpy(log_mel(y, YAMNET_FEATURES))[None, None]  # (1, 1, 64, frames)
    assert X.shape[-1] == YAMNET_FEATURES.n_frames
    from babycry_core.features.yamnet_net import embed_patches

    with torch.inference_mode():
        patches = net.frontend(torch.from_numpy(yamnet.to_16k(y, 8000))[None])[0]  # (14, 96, 64): the file's front end
        reference = embed_patches(net.layers, patches, act_quant=None).mean(0)  # its body in float, as yamnet_ft's
        mine = model.embed(X)[0]
    assert patches.shape[0] == 14
    assert torch.allclose(mine, reference, atol=1e-4)  # the same body on the same patches
    groups = model.param_groups(1e-3)
    assert [g["lr"] for g in groups] == [pytest.approx(1e-3 * BODY_LR_FACTOR), 1e-3]


def test_yamnet_ft_without_weights_trains_from_scratch_and_says_why(nowhere):
    from babycry_core.models import build_model

    model = build_model("yamnet_ft", 2, pretrained=True)
    assert model.pretrained_status.startswith("random initialisation: YAMNet's weights are not here")


def test_yamnet_ft_trains_with_the_one_loop_and_answers(tflite, tiny_data, wav_file):
    from babycry_core.features.config import FeatureConfig
    from babycry_core.inference.predictor import load_predictor
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.fit import fit

    assert tflite.exists()  # tiny_data's corpus and the linked YAMNet share one data folder
    # the default features: fit() gives yamnet_ft its own front end and its pretrained body
    run = fit(tiny_train_config(model="yamnet_ft", epochs=1, features=FeatureConfig().to_dict()), progress=False)
    loaded = load(run)
    assert loaded.feature_config.frontend == "yamnet" and loaded.config["pretrained"] is True
    assert "YAMNet AudioSet weights" in loaded.config["pretrained_status"]
    pred = load_predictor(run).predict(wav_file, name="cry.wav")
    assert abs(sum(pred.probabilities.values()) - 1) < 1e-4 and pred.label in loaded.labels

"""YAMNet through the real `hub.load` path, fed by a tiny stand-in SavedModel with YAMNet's signature.

TF Hub cannot be reached here, so the tests build a SavedModel (tf.Module + tf.function taking a 16 kHz
waveform [None] float32, returning scores [frames, 521], embeddings [frames, 1024], log_mel [frames', 64]
with frames = 1 + N // 7680 like YAMNet's 0.48 s hop) and point BABYCRY_YAMNET_HANDLE at it.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from babycry_core import fileio
from babycry_core.runs import run_registry as runs
from babycry_core.audio import synth
from babycry_core.models import get_spec, model_names
from babycry_core.features import yamnet
from tests.conftest import tiny_train_config

HOP, WIN = 7680, 15360  # YAMNet: 0.48 s hop, 0.96 s frames at 16 kHz


def build_standin(folder, class_map: bool = True):
    """Save a deterministic YAMNet stand-in to `folder`: outputs are fixed functions of band energies."""
    from babycry_core.features import tf_import

    tf = tf_import.tensorflow()
    rng = np.random.default_rng(0)
    w_emb = rng.standard_normal((64, 1024)).astype(np.float32) / 4
    w_sc = rng.standard_normal((64, 521)).astype(np.float32) / 8
    csv_path = None
    if class_map:
        names = ["Speech"] + [f"Sound {i}" for i in range(1, 521)]
        names[20] = "Baby cry, infant cry"
        csv_path = folder.parent / f"{folder.name}_class_map.csv"
        csv_path.write_text("index,mid,display_name\n" + "".join(f'{i},/m/{i:04d},"{n}"\n' for i, n in enumerate(names)))

    class StandIn(tf.Module):
        def __init__(self):
            super().__init__()
            self.w_emb = tf.Variable(w_emb, trainable=False)
            self.w_sc = tf.Variable(w_sc, trainable=False)
            if csv_path is not None:
                self.class_map = tf.saved_model.Asset(str(csv_path))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, waveform):
            n = tf.shape(waveform)[0]
            frames = 1 + n // HOP
            padded = tf.pad(waveform, [[0, (frames - 1) * HOP + WIN - n]])
            fr = tf.signal.frame(padded, WIN, HOP)  # (frames, 15360)
            spec = tf.abs(tf.signal.rfft(fr))[:, :7680]  # 0-8 kHz
            bands = tf.math.log(tf.reduce_mean(tf.reshape(spec, [-1, 64, 120]), -1) + 1e-3)  # (frames, 64)
            emb = tf.nn.relu(tf.matmul(bands, self.w_emb))
            scores = tf.sigmoid(tf.matmul(bands, self.w_sc) / 10.0)
            stft = tf.abs(tf.signal.stft(padded, 400, 160, fft_length=512))[:, :256]
            log_mel = tf.math.log(tf.reduce_mean(tf.reshape(stft, [-1, 64, 4]), -1) + 1e-3)
            return scores, emb, log_mel

        if csv_path is not None:
            @tf.function(input_signature=[])
            def class_map_path(self):
                return self.class_map.asset_path

    tf.saved_model.save(StandIn(), str(folder))
    return folder


@pytest.fixture(scope="session")
def standin_yamnet(tmp_path_factory):
    return build_standin(tmp_path_factory.mktemp("yamnet") / "standin")


@pytest.fixture
def use_standin(standin_yamnet, monkeypatch):
    monkeypatch.setenv(yamnet.HANDLE_ENV, str(standin_yamnet))
    return standin_yamnet


def test_registered_without_importing_tensorflow():
    assert {"yamnet", "svm", "xgboost"} <= set(model_names())
    assert get_spec("yamnet").family == "yamnet"  # its tables: tests/models/test_families.py


def test_import_order_subprocess_is_safe():
    """Importing the model module, then TF through tf_import (then torchvision again) must not segfault."""
    code = ("import sys, babycry_core.models.yamnet_transfer, babycry_core.features.yamnet\n"
            "from babycry_core.models import model_names; model_names()\n"
            "assert 'tensorflow' not in sys.modules, 'TF imported before YAMNet was used'\n"
            "from babycry_core.features import tf_import\n"
            "hub = tf_import.tensorflow_hub()\n"
            "import torchvision, tensorflow as tf\n"
            "import streamlit_webrtc  # the Listen page, after TF: pylibsrtp was loaded before it\n"
            "print('ok', hub.__name__, tf.constant(1.0).numpy())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "ok tensorflow_hub 1.0" in r.stdout


def test_standin_has_yamnet_signature(use_standin):
    y = synth.cry_sweep(2.0, 16000)
    scores, emb, log_mel = yamnet.run(y)
    frames = 1 + len(y) // HOP
    assert scores.shape == (frames, 521) and emb.shape == (frames, 1024) and log_mel.shape[1] == 64
    assert np.array_equal(emb, yamnet.run(y)[1])  # deterministic
    assert yamnet.pool(emb).shape == (2048,)


@pytest.mark.parametrize("handle", ["https://tfhub.dev/does/not/exist", "missing-folder"])
def test_unreachable_handle_fails_fast_with_the_fix(handle, tmp_path):
    if handle == "missing-folder":
        handle = str(tmp_path / "no-such-yamnet")
    t0 = time.time()
    with pytest.raises(yamnet.YamnetUnavailable) as e:
        yamnet.load_yamnet(handle)
    assert time.time() - t0 < 10
    msg = str(e.value)
    assert msg.startswith(f"YAMNet could not be loaded from {handle} (")
    assert "BABYCRY_YAMNET" in msg and "\n" not in msg
    if handle.startswith("https"):
        assert "(no network?). Connect once to download it" in msg


def test_cli_train_without_weights_is_one_sentence(tiny_data, monkeypatch, capsys):
    from babycry_core.cli.main import main

    monkeypatch.setenv(yamnet.HANDLE_ENV, "https://tfhub.dev/does/not/exist")
    assert main(["train", "--model", "yamnet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: YAMNet could not be loaded from https://tfhub.dev/does/not/exist")
    assert "Traceback" not in err and len(err.splitlines()) == 1
    [run] = runs.list_runs()
    assert run.status == "failed" and "YAMNet could not be loaded" in run.message


def test_tfhub_cache_folder_is_a_valid_handle(standin_yamnet, tmp_path):
    import hashlib
    import shutil

    cache = tmp_path / "tfhub_cache"
    shutil.copytree(standin_yamnet, cache / hashlib.sha1(yamnet.DEFAULT_HANDLE.encode()).hexdigest())
    emb = yamnet.frame_embeddings(np.zeros(16000, np.float32), handle=str(cache))
    assert emb.shape == (3, 1024)


def test_audioset_evidence(use_standin, tmp_path):
    y = synth.cry_sweep(3.0, 16000)
    ev = yamnet.audioset_evidence(y)
    assert 0.0 <= ev["baby_cry"] <= 1.0 and ev["frames"] == 1 + len(y) // HOP
    names = [n for n, _ in ev["top"]]
    assert len(names) == 5 and all(n == "Speech" or n.startswith(("Sound ", "Baby cry")) for n in names)
    scores = [s for _, s in ev["top"]]
    assert scores == sorted(scores, reverse=True)
    assert yamnet.class_names()[20] == "Baby cry, infant cry"
    bare = build_standin(tmp_path / "bare", class_map=False)  # a stand-in without the class-map CSV
    ev2 = yamnet.audioset_evidence(y, handle=str(bare))
    assert all(n.startswith("class_") for n, _ in ev2["top"])
    assert ev2["baby_cry"] == pytest.approx(ev["baby_cry"], abs=1e-6)  # same weights, index 20


def test_train_and_predict_end_to_end(tiny_data, use_standin, wav_file):
    from babycry_core.runs.checkpoint import load
    from babycry_core.inference.predictor import Predictor
    from babycry_core.training.fit import fit

    manifest, splits = tiny_data
    run = fit(tiny_train_config(model="yamnet", epochs=25, patience=25, lr=3e-3), progress=False)
    for f in ("config.json", "feature_config.json", "labels.json", "model.safetensors", "calibration.json",
              "metrics.json", "status.json", "history.jsonl", "split.json"):
        assert (run / f).exists(), f
    info = runs.run_info(run)
    assert info.status == "finished", info.message
    cfg = fileio.read_json(run / "config.json")
    assert cfg["family"] == "yamnet" and cfg["yamnet"]["band_hz"] == [0.0, 4000.0]
    assert cfg["yamnet_handle"] == str(use_standin)
    events = runs.read_events(run)
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"
    assert any(e["event"] == "epoch" for e in events)
    # the saved split was used: the test clips are exactly the split's, none of them trained on
    split = fileio.read_json(run / "split.json")
    assert split == {p: splits["fixed"][p] for p in ("train", "val", "test")}
    m = fileio.read_json(run / "metrics.json")
    assert set(m["test_clip_ids"]) == set(split["test"]) and not set(split["test"]) & set(split["train"])
    assert m["macro_f1"] > m["baseline"]["macro_f1"]
    # frame embeddings were cached per clip
    from babycry_core import paths

    assert len(list((paths.cache_dir() / "yamnet").glob("*.npy"))) >= len(manifest)
    # round trip: the folder alone predicts; same answers as at training time
    loaded = load(run)
    pred = Predictor(loaded)
    p = pred.predict(wav_file)
    assert p.label in loaded.labels and sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    manifest_by_id = manifest.set_index("clip_id")
    from babycry_core.data.manifest import resolve_path

    for cid, conf, lab in list(zip(m["test_clip_ids"], m["test_confidence"], m["test_predictions"]))[:4]:
        q = pred.predict(resolve_path(manifest_by_id.loc[cid, "path"]))
        assert q.label == lab and q.confidence == pytest.approx(conf, abs=2e-4)
    # re-evaluation through evaluate_runs.evaluate_run gives the same metrics
    from babycry_core.training.evaluate_runs import evaluate_run

    assert evaluate_run(run)["macro_f1"] == pytest.approx(m["macro_f1"])
    # a damaged head is reported, not loaded
    (run / "model.safetensors").write_bytes(b"\0" * 10)
    assert runs.run_info(run).status == "corrupt"
    with pytest.raises(ValueError, match="damaged"):
        load(run)
    assert json.loads((run / "labels.json").read_text()) == ["discomfort", "hungry", "tired"]

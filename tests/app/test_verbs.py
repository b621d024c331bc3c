"""The application layer (babycry_core.app): importing it imports nothing; one place chooses the engine and caches
the model; a launched run is told its TrainConfig as JSON (no CLI flags) and trains it in its own process."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from babycry_core import paths
from babycry_core.audio import synth

SHIPPED = paths.ROOT / "checkpoints"


@pytest.fixture
def shipped(monkeypatch):
    if not (SHIPPED / "default.json").exists():
        pytest.skip("no shipped checkpoints")
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))


def test_importing_the_app_layer_imports_nothing_of_the_core():
    probe = ("import json, sys, babycry_core.app, babycry_core.app.answer, babycry_core.app.train; "
             "print(json.dumps(sorted(sys.modules)))")
    mods = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                     cwd=paths.ROOT).stdout)
    for heavy in ("torch", "onnxruntime", "pandas", "streamlit", "babycry_core.inference", "babycry_core.training",
                  "babycry_core.detection", "babycry_core.models"):
        assert not [m for m in mods if m == heavy or m.startswith(heavy + ".")], heavy


def test_engine_is_chosen_once_for_every_front_end(shipped):
    from babycry_core.app.answer import answerer, engine_for, engine_of

    assert engine_for(None, "auto") == "onnx"  # the shipped runs carry current exports
    assert engine_for(None, "auto", trust_pickle=True) == "torch"  # a pickle has no export
    assert engine_for(None, "torch") == "torch"
    with pytest.raises(ValueError, match="unknown engine"):
        engine_for(None, "tensorflow")
    a = answerer()
    assert engine_of(a) == "onnx" and answerer() is a  # loaded once, then shared
    assert engine_of(answerer(engine="torch")) == "torch"


def test_classify_answers_as_the_engine_chosen(shipped, tmp_path):
    from babycry_core.app.answer import classify

    f = tmp_path / "cry.wav"
    f.write_bytes(synth.to_wav_bytes(synth.cry_sweep(7.0, 8000), 8000))
    (onnx,), (torch_,) = classify([f]), classify([f], engine="torch")
    assert onnx.label == torch_.label and onnx.confidence == pytest.approx(torch_.confidence, abs=1e-4)
    bad = classify([tmp_path / "missing.wav"])
    assert isinstance(bad[0], dict) and "error" in bad[0]


def test_a_launch_request_is_a_train_config_as_json(tmp_path):
    from babycry_core.app import train as T
    from babycry_core.runs import run_registry as runs

    cfg = T.TrainConfig(model="svm", epochs=3, mixup=0.0, seed=7)
    run_dir = runs.new_run_dir(cfg.model, tmp_path)
    runs.set_status(run_dir, "launching", config=__import__("dataclasses").asdict(cfg), cv=True)
    assert T.request(run_dir) == (cfg, True)
    with pytest.raises(ValueError, match="no launch request"):
        T.request(runs.new_run_dir("cnn", tmp_path))


def test_launch_trains_the_config_in_its_own_process(tiny_data, monkeypatch):
    from babycry_core.app import catalog, train as T

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cfg = T.TrainConfig(model="cnn", epochs=1, batch_size=8, threads=1)
    t0 = time.time()
    run_dir = T.launch(cfg)
    assert time.time() - t0 < 10  # returns at once
    deadline = time.time() + 180
    while catalog.run_info(run_dir).status in ("launching", "running") and time.time() < deadline:
        time.sleep(0.5)
    info = catalog.run_info(run_dir)
    assert info.status == "finished", T.log_tail(run_dir)
    assert info.config["epochs"] == 1 and info.config["batch_size"] == 8 and info.metrics
    assert "macro" in T.log_tail(run_dir, 40).lower()  # the worker printed the run's metrics table
    assert T.stop(run_dir) == "finished"  # nothing left to stop

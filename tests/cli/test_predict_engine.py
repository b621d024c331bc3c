"""`predict`'s default engine: the shipped runs carry ONNX exports made from their current files, so the default
answer needs no torch and gives the torch answer; an export made from other files is not used."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from babycry_core import fileio, paths
from babycry_core.audio import synth

SHIPPED = paths.ROOT / "checkpoints"


def _predict(wav, *extra):
    env = {**os.environ, "BABYCRY_CHECKPOINTS": str(SHIPPED)}
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "babycry_core", "predict", str(wav), "--json",
                        *extra], capture_output=True, text=True, cwd=paths.ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    return json.loads(r.stdout), imported


def test_default_predict_answers_as_torch_does_without_importing_torch(tmp_path):
    wav = tmp_path / "cry.wav"
    wav.write_bytes(synth.to_wav_bytes(synth.cry_sweep(7.0, 8000)))
    (auto,), imported = _predict(wav)
    assert "torch" not in imported and "onnxruntime" in imported
    (torch_answer,), imported = _predict(wav, "--engine", "torch")
    assert "torch" in imported
    assert (auto["label"], auto["status"]) == (torch_answer["label"], torch_answer["status"])
    for c, p in torch_answer["probabilities"].items():
        assert auto["probabilities"][c] == pytest.approx(p, abs=1e-4)


def test_an_export_of_other_files_is_not_used(tmp_path, monkeypatch):
    from babycry_core.app.answer import engine_for as default_engine
    from babycry_core.inference.onnx_engine import current_export

    root = tmp_path / "checkpoints"
    pair = fileio.read_json(SHIPPED / "default.json")
    for k in ("detector", "reason", "default"):
        shutil.copytree(SHIPPED / pair[k], root / pair[k])
    shutil.copy(SHIPPED / "default.json", root / "default.json")
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(root))
    assert default_engine() == "onnx"
    card = root / pair["detector"] / "MODEL_CARD.md"
    card.write_text(card.read_text() + "\nbookkeeping changes nothing\n")
    assert current_export(pair["detector"]) is not None
    v = fileio.read_json(root / pair["detector"] / "verdict.json")
    fileio.write_json(root / pair["detector"] / "verdict.json", {**v, "cry_threshold": 0.5})  # the answer would change
    assert current_export(pair["detector"]) is None and default_engine() == "torch"
    assert default_engine(pair["reason"]) == "torch"  # a reason model answers with the default detector beside it

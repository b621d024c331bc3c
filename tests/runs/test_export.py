"""ONNX export (export.py) and the onnxruntime engine (onnx_engine.py): every torch network of the registry exports
with a dynamic batch axis; on real clips and generated signals the ONNX logits match torch's within 1e-4 and the
answers are identical; `predict --engine onnx` never imports torch; what does not export says so in one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from babycry_core import fileio, paths
from babycry_core.runs import export
from babycry_core.audio import synth
from babycry_core.cli.main import main
from tests.conftest import SHARED

SHIPPED = paths.ROOT / "checkpoints"
PAIR = fileio.read_json(SHIPPED / "default.json") if (SHIPPED / "default.json").exists() else {}
TOL = 1e-4


def signals() -> list[tuple[str, np.ndarray]]:
    """Generated signals (always): a cry, a quieter high cry, noise, a tone, speech-like bursts, a long recording."""
    sr = 8000
    rng = np.random.default_rng(7)
    bursts = (synth.white_noise(5.0, sr, 0.2, seed=2) * (np.sin(np.arange(5 * sr) / sr * 2 * np.pi * 3) > 0)).astype(np.float32)
    return [("cry", synth.cry_sweep(7.0, sr)), ("high_cry", synth.cry_sweep(4.0, sr, 900, 1300, level=0.1, seed=1)),
            ("noise", synth.white_noise(7.0, sr, 0.05, seed=3)), ("sine", synth.sine(3.0, sr, 700.0)),
            ("bursts", bursts), ("long", np.concatenate([synth.cry_sweep(9.0, sr), 0.02 * rng.standard_normal(6 * sr)
                                                         .astype(np.float32), synth.sine(5.0, sr, 300.0)]))]


def real_clips(n: int = 20) -> list:
    root = SHARED / "donateacry"
    if not root.is_dir():
        return []
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".caf", ".3gp", ".m4a", ".ogg"))
    return files[:: max(1, len(files) // n)][:n]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The shipped default runs (detector, reason SVM, two-stage) exported once into a temp folder."""
    if not PAIR:
        pytest.skip("no shipped checkpoints")
    root = tmp_path_factory.mktemp("exports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
        mp.setenv("BABYCRY_EXPORTS", str(root))
        made = {m["run_id"]: m for m in export.main("default")}
    return root, made


@pytest.fixture
def shipped_env(exports, monkeypatch):
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    monkeypatch.setenv("BABYCRY_EXPORTS", str(exports[0]))
    return exports


def test_export_folder_is_everything_a_device_needs(exports):
    root, made = exports
    assert set(made) == {PAIR["detector"], PAIR["reason"], PAIR["default"]}
    det = fileio.read_json(root / PAIR["detector"] / "model.json")
    cal = fileio.read_json(SHIPPED / PAIR["detector"] / "calibration.json")
    assert det["format"] == "babycry-onnx" and det["role"] == "detector"
    assert det["labels"] == fileio.read_json(SHIPPED / PAIR["detector"] / "labels.json")
    assert det["feature_config"] == fileio.read_json(SHIPPED / PAIR["detector"] / "feature_config.json")
    assert det["temperature"] == cal["temperature"] and det["cry_threshold"] == cal["cry_threshold"]
    assert det["threshold"] == cal["threshold"] and det["top_fraction"] == pytest.approx(1 / 3)
    assert det["files"]["model.onnx"] == fileio.sha256_file(root / PAIR["detector"] / "model.onnx")
    assert det["parity"]["max_abs_diff_logits"] <= TOL
    import onnxruntime as ort

    s = ort.InferenceSession(str(root / PAIR["detector"] / "model.onnx"), providers=["CPUExecutionProvider"])
    assert isinstance(s.get_inputs()[0].shape[0], str)  # the dynamic batch axis
    for n in (1, 3, 17):
        assert s.run(None, {"log_mel": np.zeros((n, 1, 64, 63), np.float32)})[0].shape == (n, len(det["labels"]))
    svm = fileio.read_json(root / PAIR["reason"] / "model.json")
    assert svm["exporter"] == "skl2onnx" and svm["embedding"]["kind"] == "handcrafted" and svm["role"] == "reason"
    assert (root / PAIR["reason"] / "reason_naming.json").read_bytes() == (SHIPPED / PAIR["reason"] / "reason_naming.json").read_bytes()
    two = fileio.read_json(root / PAIR["default"] / "model.json")
    assert set(two["files"]) == {"gate.onnx", "reason.onnx"}


def _answer(p):
    return (p.label, p.status, p.message, p.heard, (p.reason or {}).get("label"), p.cry["detected"] if p.cry else None)


def _compare(torch_pred, onnx_pred, inputs):
    n = 0
    for name, x in inputs:
        a = torch_pred.predict_waveform(x, name) if isinstance(x, np.ndarray) else torch_pred.predict(x, name=str(x))
        b = onnx_pred.predict_waveform(x, name) if isinstance(x, np.ndarray) else onnx_pred.predict(x, name=str(x))
        assert _answer(a) == _answer(b), name
        assert a.run == b.run
        for c in a.probabilities:
            assert abs(a.probabilities[c] - b.probabilities[c]) <= TOL, (name, c)
        n += 1
    return n


def test_parity_detector_logits_within_1e4(shipped_env):
    """The detector's logits, ONNX against torch, on every window of 20 real clips and the generated signals."""
    from babycry_core.audio import decode as audio
    from babycry_core.runs.checkpoint import load
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.runs.export import ort_run, torch_logits
    from babycry_core.features.logmel import windows

    det = CryDetector(load(SHIPPED / PAIR["detector"]))
    waves = [y for _, y in signals()] + [audio.load(f, det.cfg.sample_rate) for f in real_clips()]
    X = np.concatenate([det.features([w for _, w in windows(y, det.cfg)]) for y in waves])
    got = ort_run(shipped_env[0] / PAIR["detector"] / "model.onnx", X)
    want = torch_logits(det.net, X)
    assert got.shape == want.shape and len(X) > 50
    assert float(np.abs(got - want).max()) <= TOL


def test_parity_two_step_answers_identical(shipped_env):
    """The default two-step answer (detector + reason SVM): torch/scikit-learn against onnxruntime."""
    from babycry_core.inference.predictor import load_predictor
    from babycry_core.inference.onnx_engine import load_onnx_predictor

    a, b = load_predictor(), load_onnx_predictor()
    assert type(a).__name__ == type(b).__name__ == "TwoStepPredictor"
    real = [(str(f), f) for f in real_clips()]
    n = _compare(a, b, signals() + real)
    assert n == len(signals()) + len(real)  # real clips: 20 when ../shared/data is here, else none


def test_parity_two_stage_and_svm_alone(shipped_env):
    from babycry_core.inference.predictor import load_model
    from babycry_core.inference.onnx_engine import load_export

    for run in (PAIR["default"], PAIR["reason"]):  # each model alone
        _compare(load_model(SHIPPED / run), load_export(shipped_env[0] / run)[1], signals())


TORCH_MODELS = ["cnn", "cry_detector", "resnet18", "resnet50", "mobilenet_v3", "efficientnet_b0", "yamnet_ft"]


def test_every_torch_model_of_the_registry_is_covered():
    from babycry_core.models import get_spec, model_names

    assert sorted(n for n in model_names() if get_spec(n).family in ("torch", "detector")) == sorted(TORCH_MODELS)


# the three largest networks (15 s each) run with `-m slow`; the small ones keep every export step in the default suite
BIG = ("resnet50", "mobilenet_v3", "efficientnet_b0")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in TORCH_MODELS])
def test_every_torch_network_exports(name, tmp_path):
    import torch

    from babycry_core.runs.export import export_torch_net, ort_run, torch_logits
    from babycry_core.models import build_model

    torch.manual_seed(0)
    net = build_model(name, 5, pretrained=False).eval()
    for m in net.modules():  # trained-looking batch-norm statistics, so the check is not on zeros
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    X = np.random.default_rng(0).normal(-40, 15, (3, 1, 64, 63)).astype(np.float32)
    if name == "yamnet_ft":  # YAMNet's own log-mel (natural log), two 0.96 s patches
        X = np.random.default_rng(0).normal(-3, 2, (3, 1, 64, 144)).astype(np.float32)
    path = tmp_path / f"{name}.onnx"
    export_torch_net(net, path, X)
    got, want = ort_run(path, X), torch_logits(net, X)
    assert np.abs(want).max() > 1e-3  # a real signal through the network
    assert float(np.abs(got - want).max()) <= TOL * max(1.0, float(np.abs(want).max()))
    assert ort_run(path, X[:1]).shape == (1, 5)  # any batch size


def test_xgboost_exports_and_answers_the_same(tiny_data, tmp_path, monkeypatch):
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.fit import fit
    from babycry_core.inference.predictor import Predictor
    from babycry_core.inference.onnx_engine import load_onnx_predictor
    from tests.conftest import tiny_train_config

    run = fit(tiny_train_config(model="xgboost"), progress=False)
    m = export.export_run(run, out=tmp_path / "xgb")
    assert m["exporter"] == "onnxmltools" and m["scaler"] and m["parity"]["max_abs_diff_probabilities"] <= TOL
    sr = 8000
    sigs = [("a", synth.cry_sweep(2.0, sr, 350, 500)), ("b", synth.cry_sweep(2.0, sr, 900, 1200)),
            ("c", synth.white_noise(2.0, sr, 0.06)), ("d", synth.cry_sweep(5.0, sr, 400, 700, seed=4))]
    _compare(Predictor(load(run)), load_onnx_predictor(tmp_path / "xgb"), sigs)  # no detector here: the run alone


def test_what_does_not_export_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    run = tmp_path / "checkpoints" / "20260101-000000-yamnet-abcd"
    run.mkdir(parents=True)
    fileio.write_json(run / "config.json", {"model": "yamnet", "family": "yamnet"})
    with pytest.raises(export.NotExportable, match="does not export to ONNX"):
        export.export_run(run)
    assert main(["export", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "YAMNet" in err and "\n" not in err
    cnn_emb = tmp_path / "checkpoints" / "20260101-000000-svm-abcd"
    cnn_emb.mkdir()
    fileio.write_json(cnn_emb / "config.json", {"model": "svm", "family": "classical",
                                                "embedding_source": {"kind": "cnn"}})
    with pytest.raises(export.NotExportable, match="only classical models on the handcrafted embedding"):
        export.export_run(cnn_emb)


@pytest.mark.parametrize("command", ["predict", "detect"])
def test_onnx_engine_without_an_export_names_the_fix(command, monkeypatch, tmp_path, capsys, wav_file):
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    monkeypatch.setenv("BABYCRY_EXPORTS", str(tmp_path / "none"))
    assert main([command, str(wav_file), "--engine", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no ONNX export" in err and "python -m babycry_core export" in err and "\n" not in err


def test_damaged_export_is_refused(shipped_env, tmp_path):
    import shutil

    from babycry_core.inference.onnx_engine import load_export

    d = tmp_path / "det"
    shutil.copytree(shipped_env[0] / PAIR["detector"], d)
    with open(d / "model.onnx", "r+b") as f:
        f.seek(2000)
        f.write(b"\0\0\0\0")
    with pytest.raises(ValueError, match="does not match its recorded sha256"):
        load_export(d)


def test_predict_engine_onnx_never_imports_torch(shipped_env, tmp_path):
    """The CLI with --engine onnx: the same JSON as the torch engine, and torch absent from the process."""
    clip = tmp_path / "cry.wav"
    clip.write_bytes(synth.to_wav_bytes(synth.cry_sweep(7.0, 8000), 8000))
    env = {**os.environ, "BABYCRY_CHECKPOINTS": str(SHIPPED), "BABYCRY_EXPORTS": str(shipped_env[0])}
    probe = ("import sys, json; from babycry_core.cli.main import main; rc = main(['predict', sys.argv[1], '--json', "
             "'--engine', 'onnx']); bad = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('torch', 'torchvision', 'tensorflow', 'skops', 'xgboost')); print(json.dumps({'rc': rc, 'bad': bad}))")
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", probe, str(clip)], capture_output=True, text=True,
                       env=env, cwd=paths.ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout.strip().splitlines()
    status = json.loads(out[-1])
    assert status == {"rc": 0, "bad": []}
    assert not [ln for ln in r.stderr.splitlines() if ln.rstrip().endswith(("| torch", "| torch._C"))]
    onnx_answer = json.loads("\n".join(out[:-1]))[0]
    t = subprocess.run([sys.executable, "-m", "babycry_core", "predict", str(clip), "--json"], capture_output=True,
                       text=True, env=env, cwd=paths.ROOT, timeout=300)
    torch_answer = json.loads(t.stdout)[0]
    for k in ("label", "status", "message", "heard", "run", "duration"):
        assert onnx_answer[k] == torch_answer[k], k
    assert onnx_answer["cry"]["probability"] == pytest.approx(torch_answer["cry"]["probability"], abs=TOL)


def test_export_command(shipped_env, tmp_path, capsys):
    assert main(["export", PAIR["detector"], "--format", "onnx", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "model.onnx" in out and str(tmp_path / "d") in out
    assert (tmp_path / "d" / "model.json").exists() and (tmp_path / "d" / "model.onnx").exists()


def test_serve_with_the_onnx_engine(shipped_env):
    """The HTTP API on onnxruntime: the same answer as torch's; /v1/models still lists the registry (asked of a
    child process, so the server itself stays without torch); /v1/detect finds the same episodes as torch's."""
    from fastapi.testclient import TestClient

    from babycry_core.serving import api as serve
    from babycry_core.inference.predictor import load_predictor

    wav = synth.to_wav_bytes(synth.cry_sweep(7.0, 8000), 8000)
    want = load_predictor().predict(wav, name="cry.wav").to_dict()
    with TestClient(serve.create_app(engine="onnx")) as c:
        got = c.post("/v1/classify", files={"file": ("cry.wav", wav, "audio/wav")}).json()
        for k in ("file", "label", "status", "message", "heard", "run"):
            assert got[k] == want[k], k
        assert c.get("/healthz").json()["engine"] == "onnx"
        assert "cry_detector" in {m["name"] for m in c.get("/v1/models").json()["models"]}
        night = synth.to_wav_bytes(_crying_night(), 8000)
        r = c.post("/v1/detect", files={"file": ("night.wav", night, "audio/wav")})
        assert r.status_code == 200, r.text
    with TestClient(serve.create_app(engine="torch")) as c:
        want = c.post("/v1/detect", files={"file": ("night.wav", night, "audio/wav")}).json()
    assert r.json()["episodes"] and [(e["start"], e["end"]) for e in r.json()["episodes"]] == \
        [(e["start"], e["end"]) for e in want["episodes"]]


def _crying_night(seconds: float = 80.0) -> np.ndarray:
    """Quiet noise with two generated cries (12 s at 15 s, 8 s at 50 s), at 8 kHz."""
    y = synth.white_noise(seconds, 8000, level=0.01, seed=3).astype(np.float32)
    for start, length in ((15.0, 12.0), (50.0, 8.0)):
        c = synth.cry_sweep(length, 8000, seed=int(start))
        y[int(start * 8000): int(start * 8000) + len(c)] += 0.5 * c
    return y


def test_detect_engine_onnx_same_windows_and_episodes(shipped_env, tmp_path):
    """Episodes with onnxruntime: every window's P(cry) within 1e-4 of torch's, the same episodes and reasons."""
    import soundfile as sf

    from babycry_core.app.answer import detect

    f = tmp_path / "night.wav"
    sf.write(f, _crying_night(), 8000, subtype="PCM_16")
    [a] = detect([f], engine="torch")
    [b] = detect([f], engine="onnx", threads=1)
    assert len(a.p) == len(b.p) > 100 and np.array_equal(a.starts, b.starts)
    assert float(np.abs(a.p - b.p).max()) <= TOL
    assert len(a.episodes) >= 1 and [e.to_dict() for e in a.episodes] == [e.to_dict() for e in b.episodes]


def test_detect_engine_onnx_never_imports_torch(shipped_env, tmp_path):
    """`detect --engine onnx --json` in a fresh process: the JSON contract, and torch absent from the process."""
    import soundfile as sf

    f = tmp_path / "night.wav"
    sf.write(f, _crying_night(), 8000, subtype="PCM_16")
    env = {**os.environ, "BABYCRY_CHECKPOINTS": str(SHIPPED), "BABYCRY_EXPORTS": str(shipped_env[0])}
    probe = ("import sys, json; from babycry_core.cli.main import main; rc = main(['detect', sys.argv[1], '--json', "
             "'--engine', 'onnx']); bad = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('torch', 'torchvision', 'tensorflow', 'skops', 'xgboost')); print(json.dumps({'rc': rc, 'bad': bad}))")
    r = subprocess.run([sys.executable, "-c", probe, str(f)], capture_output=True, text=True, env=env, cwd=paths.ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    *body, last = r.stdout.strip().splitlines()
    assert json.loads(last) == {"rc": 0, "bad": []}
    [res] = json.loads("\n".join(body))
    assert set(res) == {"file", "duration", "episodes", "cry_seconds"} and res["episodes"]


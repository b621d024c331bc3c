"""The HTTP API (serve.py): classify answers what `predict --json` answers, bad input gets a status and the CLI's
one-line message, uploads stream with a running count and never touch the disk, a full pool answers 503 at once,
and nothing answers or logs a traceback."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import tempfile
import threading
import time

import pytest
from fastapi.testclient import TestClient

from babycry_core import paths
from babycry_core.audio import decode as audio
from babycry_core.serving import api as serve
from babycry_core.audio import synth
from babycry_core.cli.main import main
from babycry_core.inference.prediction import Prediction
from tests.conftest import real_cry

SHIPPED = paths.ROOT / "checkpoints"
WAV = synth.to_wav_bytes(synth.cry_sweep(7.0, 8000), 8000)
TEXT = b"Shopping list: milk, nappies, more coffee.\n" * 20


@pytest.fixture(scope="module")
def shipped_predictor():
    """The app's default answer (cry detector + reason SVM), loaded once for the module."""
    if not (SHIPPED / "default.json").exists():
        pytest.skip("no shipped checkpoints")
    from babycry_core.inference.predictor import load_predictor

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
        return load_predictor()


@pytest.fixture(scope="module")
def client(shipped_predictor):
    with TestClient(serve.create_app(shipped_predictor)) as c:
        yield c


def _no_traceback(r):
    assert "Traceback" not in r.text and 'File "' not in r.text


def _close(a, b, path="") -> None:
    """Equal JSON, numbers within 1e-4 (two engines: torch and onnxruntime)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert b == pytest.approx(a, abs=1e-4), path
    else:
        assert a == b, path


def test_classify_gives_the_predict_json_object(client, tmp_path, capsys, monkeypatch):
    r = client.post("/v1/classify", files={"file": ("cry.wav", WAV, "audio/wav")})
    assert r.status_code == 200, r.text
    got = r.json()
    f = tmp_path / "cry.wav"
    f.write_bytes(WAV)
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    assert main(["predict", str(f), "--json", "--engine", "torch"]) == 0  # the API's engine: the same object
    want = json.loads(capsys.readouterr().out)[0]
    assert got["file"] == "cry.wav"
    assert {k: v for k, v in got.items() if k != "file"} == {k: v for k, v in want.items() if k != "file"}
    assert main(["predict", str(f), "--json"]) == 0  # predict's default answers from the shipped ONNX exports
    _close({k: v for k, v in json.loads(capsys.readouterr().out)[0].items() if k not in ("file", "run")},
           {k: v for k, v in want.items() if k not in ("file", "run")})
    assert got["cry"]["detected"] and got["status"] in ("detected", "reason_unclear")
    assert " + " in got["run"]  # the two-step default: detector + reason model


def test_silence_is_valid_json(client):
    r = client.post("/v1/classify", files={"file": ("quiet.wav", synth.to_wav_bytes(synth.silence(2.0)), "audio/wav")})
    assert r.status_code == 200
    assert r.json()["status"] == "silence" and r.json()["level_dbfs"] is None  # -inf dBFS: null, not -Infinity
    assert "Infinity" not in r.text


def test_text_bytes_get_415_and_the_cli_message(client, tmp_path, capsys, monkeypatch):
    r = client.post("/v1/classify", files={"file": ("notes.wav", TEXT, "audio/wav")})
    assert r.status_code == 415
    body = r.json()
    with pytest.raises(audio.NotAudioError) as e:
        audio.load(TEXT, 8000, name="notes.wav")
    assert body == {"file": "notes.wav", "error": str(e.value), "reason": "not_audio"}
    f = tmp_path / "notes.wav"
    f.write_bytes(TEXT)
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    assert main(["predict", str(f)]) == 1
    assert f"{f}: error: {body['error']}" in capsys.readouterr().out  # the CLI's line, word for word
    assert "\n" not in body["error"]
    _no_traceback(r)


DAMAGED = b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes((i * 37) % 256 for i in range(4000))


@pytest.mark.parametrize("data,reason", [(b"", "empty"), (DAMAGED, "decode_failed")])
def test_empty_or_damaged_gets_422(client, data, reason):
    r = client.post("/v1/classify", files={"file": ("x.wav", data, "audio/wav")})
    assert r.status_code == 422 and r.json()["reason"] == reason
    with pytest.raises(audio.AudioError) as e:
        audio.load(data, 8000, name="x.wav")
    assert r.json()["error"] == str(e.value)
    _no_traceback(r)


def test_wrong_request_shapes(client):
    r = client.post("/v1/classify", content=WAV, headers={"content-type": "audio/wav"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = client.post("/v1/classify", files={"recording": ("cry.wav", WAV, "audio/wav")})
    assert r.status_code == 422 and r.json()["reason"] == "no_file"
    r = client.post("/v1/classify", content=b"--xyz\r\nnonsense", headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 422
    _no_traceback(r)


def test_oversized_upload_gets_413(client):
    big = b"\0" * (audio.MAX_UPLOAD_BYTES + 1024)
    r = client.post("/v1/classify", files={"file": ("big.wav", big, "audio/wav")})
    assert r.status_code == 413
    assert r.json()["reason"] == "too_large" and "the limit is 25 MB" in r.json()["error"]
    _no_traceback(r)


class _Request:
    """What read_upload needs of a starlette Request: headers and an async chunk stream (counted)."""

    def __init__(self, chunks, headers):
        self.headers, self._chunks, self.read = headers, chunks, 0

    async def stream(self):
        for c in self._chunks:
            self.read += 1
            yield c


def _endless(boundary: str, chunk: int = 1 << 20):
    yield f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n".encode()
    while True:
        yield b"\1" * chunk


def test_413_is_decided_while_the_body_streams_in():
    """An endless upload without Content-Length is cut off once the running count passes the limit."""
    req = _Request(_endless("b0undary"), {"content-type": "multipart/form-data; boundary=b0undary"})
    with pytest.raises(serve.Rejected) as e:
        asyncio.run(serve.read_upload(req, audio.MAX_UPLOAD_BYTES))
    assert e.value.status == 413
    assert req.read <= audio.MAX_UPLOAD_BYTES // (1 << 20) + 3  # ~26 chunks of 1 MB, not the whole stream


def test_413_from_content_length_reads_nothing():
    req = _Request(_endless("b"), {"content-type": "multipart/form-data; boundary=b",
                                   "content-length": str(200 * 2**20)})
    with pytest.raises(serve.Rejected) as e:
        asyncio.run(serve.read_upload(req, audio.MAX_UPLOAD_BYTES))
    assert e.value.status == 413 and req.read == 0


def test_upload_never_touches_disk(client, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("an upload was spooled to a temporary file")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    long_wav = synth.to_wav_bytes(synth.cry_sweep(200.0, 8000), 8000)  # 3.2 MB: above any spooling threshold
    r = client.post("/v1/classify", files={"file": ("long.wav", long_wav, "audio/wav")})
    assert r.status_code == 200, r.text


class _Blocking:
    """A predictor whose first call waits until released (a worker stuck on a long job)."""

    run_id = "blocking"

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

    def predict(self, data, name=None):
        self.entered.set()
        assert self.release.wait(30)
        return Prediction(name, "hungry", 0.9, {"hungry": 0.9, "tired": 0.1}, "detected", "ok", 7.0, -20.0)


def test_full_pool_answers_503_at_once():
    pred = _Blocking()
    app = serve.create_app(pred, workers=1, queue=0)
    with TestClient(app) as c:
        first = {}
        t = threading.Thread(target=lambda: first.update(r=c.post("/v1/classify", files={"file": ("a.wav", WAV)})))
        t.start()
        assert pred.entered.wait(30)
        t0 = time.perf_counter()
        r = c.post("/v1/classify", files={"file": ("b.wav", WAV)})
        assert time.perf_counter() - t0 < 5
        assert r.status_code == 503 and r.json()["reason"] == "busy" and r.headers["retry-after"] == "1"
        assert c.get("/healthz").json()["in_flight"] == 1
        pred.release.set()
        t.join(30)
        assert first["r"].status_code == 200 and first["r"].json()["label"] == "hungry"
        assert c.get("/healthz").json()["in_flight"] == 0
        assert c.post("/v1/classify", files={"file": ("c.wav", WAV)}).status_code == 200  # the slot came back


def test_pool_with_a_queue_waits_instead_of_refusing():
    pred = _Blocking()
    with TestClient(serve.create_app(pred, workers=1, queue=1)) as c:
        out = []
        ts = [threading.Thread(target=lambda: out.append(c.post("/v1/classify", files={"file": ("a.wav", WAV)})))
              for _ in range(2)]
        for t in ts:
            t.start()
        assert pred.entered.wait(30)
        deadline = time.time() + 10
        while c.get("/healthz").json()["in_flight"] < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert c.post("/v1/classify", files={"file": ("c.wav", WAV)}).status_code == 503  # 1 running + 1 waiting
        pred.release.set()
        for t in ts:
            t.join(30)
        assert [r.status_code for r in out] == [200, 200]


class _Broken:
    run_id = "broken"

    def predict(self, data, name=None):
        raise RuntimeError("model exploded\nTraceback (most recent call last):\n  File \"x.py\", line 1")


def test_unexpected_error_is_one_log_line_and_no_traceback(caplog):
    with TestClient(serve.create_app(_Broken()), raise_server_exceptions=False) as c, \
            caplog.at_level(logging.INFO):
        r = c.post("/v1/classify", files={"file": ("a.wav", WAV)})
    assert r.status_code == 500 and r.json()["reason"] == "internal"
    _no_traceback(r)
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None and "\n" not in errors[0].getMessage()
    assert "RuntimeError: model exploded" in errors[0].getMessage()


def test_healthz_and_docs(client, shipped_predictor):
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["run"] == shipped_predictor.run_id and h["engine"] == "torch"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/classify"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["file"]["format"] == "binary"


def test_models_lists_the_registry_and_the_shipped_runs(client, monkeypatch):
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    m = client.get("/v1/models").json()
    names = {x["name"] for x in m["models"]}
    assert {"cnn", "cry_detector", "svm", "xgboost", "two_stage", "resnet18"} <= names
    runs = {r["run_id"]: r for r in m["runs"]}
    det = m["defaults"]["detector"]
    assert det in runs and runs[det]["role"] == "detector" and "detector" in runs[det]["default_as"]
    assert 0 < runs[det]["headline"]["cry_f1"] <= 1
    reason = runs[m["defaults"]["reason"]]["headline"]
    assert {"macro_f1", "balanced_accuracy", "baseline_macro_f1"} <= set(reason)
    assert m["serving"]["engine"] == "torch"


def test_detect(client):
    r = client.post("/v1/detect", files={"file": ("night.wav", synth.to_wav_bytes(real_cry(20.0)), "audio/wav")})
    if importlib.util.find_spec("babycry_core.detection.whole_recording") is None:
        assert r.status_code == 501 and "not built yet" in r.json()["error"]
    else:
        assert r.status_code == 200, r.text
        assert r.json()["episodes"] and r.json()["duration"] == pytest.approx(20.0)
    r = client.post("/v1/detect", files={"file": ("notes.wav", TEXT)})
    assert r.status_code in (415, 501)
    _no_traceback(r)


def test_detect_is_501_without_a_detector():
    class _Single(_Blocking):
        pass

    with TestClient(serve.create_app(_Single())) as c:
        r = c.post("/v1/detect", files={"file": ("a.wav", WAV)})
    assert r.status_code == 501 and r.json()["reason"] == "not_built" and "\n" not in r.json()["error"]


def test_serve_command_binds_localhost_and_answers(monkeypatch):
    """The real thing: `python -m babycry_core serve` under uvicorn, on 127.0.0.1."""
    import httpx

    from babycry_core.bench.serve import Server

    if not (SHIPPED / "default.json").exists():
        pytest.skip("no shipped checkpoints")
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    with Server("torch") as srv:
        assert httpx.get(srv.url + "/healthz").json()["status"] == "ok"
        r = httpx.post(srv.url + "/v1/classify", files={"file": ("notes.wav", TEXT)})
        assert r.status_code == 415
        r = httpx.post(srv.url + "/v1/classify", files={"file": ("cry.wav", WAV)})
        assert r.status_code == 200 and r.json()["cry"]["detected"]
        out = srv.output()
    assert "127.0.0.1" in out and "Traceback" not in out


def test_the_api_answers_with_predicts_default_engine(tmp_path, capsys, monkeypatch):
    """Without a predictor the API loads what `predict` answers with by default (app.answer.answerer, engine auto:
    the shipped runs' current ONNX exports), and answers what `predict --json` answers."""
    if not (SHIPPED / "default.json").exists():
        pytest.skip("no shipped checkpoints")
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    with TestClient(serve.create_app()) as c:
        assert c.get("/healthz").json()["engine"] == "onnx"
        got = c.post("/v1/classify", files={"file": ("cry.wav", WAV, "audio/wav")}).json()
    f = tmp_path / "cry.wav"
    f.write_bytes(WAV)
    assert main(["predict", str(f), "--json"]) == 0
    want = json.loads(capsys.readouterr().out)[0]
    _close({k: v for k, v in got.items() if k != "file"}, {k: v for k, v in want.items() if k != "file"})

"""`detect` and `listen`: the JSON contract, a failing file among good ones, the length limit, and listen with
and without its optional sounddevice extra."""
import json
import os
import subprocess
import sys
import threading
import types

import numpy as np
import pytest
import soundfile as sf

from babycry_core import paths
from babycry_core.audio import synth
from babycry_core.cli.main import build_parser, main

FILE_KEYS = {"file", "duration", "episodes", "cry_seconds"}


@pytest.fixture
def shipped(monkeypatch):
    """The shipped detector + reason pair (checkpoints/default.json), read-only."""
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(paths.ROOT / "checkpoints"))


def crying_night(seconds: float = 90.0, cries=((20.0, 12.0), (60.0, 8.0))) -> np.ndarray:
    y = synth.white_noise(seconds, 8000, level=0.01, seed=3).astype(np.float32)
    for start, length in cries:
        c = synth.cry_sweep(length, 8000, seed=int(start))
        y[int(start * 8000): int(start * 8000) + len(c)] += 0.5 * c
    return y


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "night.wav"
    sf.write(good, crying_night(), 8000, subtype="PCM_16")
    quiet = tmp_path / "quiet.flac"
    sf.write(quiet, synth.white_noise(30.0, 16000, level=0.01, seed=4), 16000)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio, only text " * 50)
    return good, quiet, bad


def test_detect_json_contract_with_a_failing_file(shipped, files, capsys):
    good, quiet, bad = files
    code = main(["detect", str(good), str(bad), str(quiet), str(good.parent / "missing.wav"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    night, broken, calm, missing = out
    assert set(night) == FILE_KEYS and set(calm) == FILE_KEYS
    assert set(broken) == {"file", "error"} and "\n" not in broken["error"] and "not an audio file" in broken["error"]
    assert set(missing) == {"file", "error"}
    assert night["file"] == str(good) and night["duration"] == pytest.approx(90.0)
    eps = night["episodes"]
    assert len(eps) == 2
    for e, (start, length) in zip(eps, ((20.0, 12.0), (60.0, 8.0))):
        assert set(e) == {"start", "end", "peak", "reason"}
        assert abs(e["start"] - start) <= 1.0 and abs(e["end"] - (start + length)) <= 1.0
        assert 0.5 <= e["peak"] <= 1.0
        assert set(e["reason"]) >= {"label", "named", "probabilities"}
    assert night["cry_seconds"] == pytest.approx(sum(e["end"] - e["start"] for e in eps), abs=0.01)
    assert calm["episodes"] == [] and calm["cry_seconds"] == 0 and calm["duration"] == pytest.approx(30.0)


def test_detect_without_json_and_all_good_exits_0(shipped, files, capsys):
    good, quiet, _ = files
    assert main(["detect", str(good), str(quiet)]) == 0
    out = capsys.readouterr().out
    assert "2 crying episode(s)" in out and "0:00:20" in out and "0 crying episode(s)" in out


def test_max_minutes_refuses_from_the_header(shipped, tmp_path, capsys):
    f = tmp_path / "three_minutes.wav"
    sf.write(f, synth.white_noise(180.0, 8000, level=0.01), 8000, subtype="PCM_16")
    assert main(["detect", str(f), "--json", "--max-minutes", "2"]) == 1
    [r] = json.loads(capsys.readouterr().out)
    assert set(r) == {"file", "error"} and "2 min" in r["error"]
    assert build_parser().parse_args(["detect", "x.wav"]).max_minutes == 12 * 60


def test_detect_subprocess_prints_only_json_on_stdout(shipped, files):
    good, _, _ = files
    env = {**os.environ, "BABYCRY_CHECKPOINTS": str(paths.ROOT / "checkpoints")}
    r = subprocess.run([sys.executable, "-m", "babycry_core", "detect", str(good), "--json"], capture_output=True,
                       text=True, cwd=paths.ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    [res] = json.loads(r.stdout)
    assert len(res["episodes"]) == 2


def test_listen_without_the_extra_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import sounddevice → ImportError
    assert main(["listen"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sounddevice" in err and "requirements-listen.txt" in err


class FakeSD(types.SimpleNamespace):
    """A stand-in for sounddevice: one input device that plays `y` into the callback (faster than real time)."""

    def __init__(self, y=None, rate=16000, devices=True):
        super().__init__(y=y, rate=rate, devices=devices)

    def query_devices(self, device=None, kind=None):
        if not self.devices:
            raise RuntimeError("Error querying device -1")
        return {"name": "fake mic", "default_samplerate": float(self.rate), "max_input_channels": 1}

    def InputStream(self, callback, blocksize, **kw):
        sd = self

        class Stream:
            def __enter__(self):
                def play():
                    for i in range(0, len(sd.y), blocksize):
                        callback(sd.y[i:i + blocksize, None], blocksize, None, None)
                self.t = threading.Thread(target=play, daemon=True)
                self.t.start()
                return self

            def __exit__(self, *exc):
                self.t.join()

        return Stream()


def test_listen_without_a_device_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSD(devices=False))
    assert main(["listen"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no audio input device" in err


def test_listen_raises_one_alert_for_one_spell(shipped, monkeypatch, capsys):
    import soxr

    y = soxr.resample(crying_night(60.0, ((20.0, 15.0),)), 8000, 16000).astype(np.float32)
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSD(y, 16000))
    assert main(["listen", "--minutes", "0.98"]) == 0
    out = capsys.readouterr().out
    assert "Nothing is recorded to disk" in out
    assert out.count("ALERT") == 1 and "ended" in out and "1 crying episode(s)" in out


def test_bench_knows_episodes():
    assert build_parser().parse_args(["bench", "episodes"]).kind == "episodes"

"""Hostile and odd input through the whole prediction path, and concurrent classification.

Each case gives either a Prediction or the project's one-line AudioError; never another exception,
never a temp file left behind.
"""
import io
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from babycry_core.audio import decode as audio
from babycry_core.audio import synth
from babycry_core.inference.predictor import Prediction, load_predictor
from tests.conftest import shared_or_skip


def _wav(y, sr=8000, subtype="PCM_16", channels=None):
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def _cases():
    good = _wav(synth.cry_sweep(2.0))
    t = np.arange(int(96000 * 1.0)) / 96000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1).astype(np.float32)
    nan = synth.cry_sweep(1.0).astype(np.float32)
    nan[100:200] = np.nan
    nan[300] = np.inf
    return {
        "empty": (b"", "error"),
        "zero_length_stream": (_wav(np.zeros(0, np.float32)), "error"),
        "truncated_header": (good[:30], "error"),
        "random_bytes": (np.random.default_rng(0).bytes(5000), "error"),
        "text_as_mp3": (b"hello, this is a text file\n" * 50, "error"),
        "pdf_as_m4a": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" * 20, "error"),
        "96k_float_stereo": (_wav(stereo, 96000, "FLOAT"), "ok"),
        "nan_inf": (_wav(nan, 8000, "FLOAT"), "ok"),
        "clipped": (_wav(np.clip(synth.cry_sweep(2.0) * 20, -1, 1)), "ok"),
        "minus_70_dbfs": (_wav(synth.cry_sweep(2.0) * 10 ** (-70 / 20) / 0.35), "ok"),
        "short_0_2s": (_wav(synth.cry_sweep(0.2)), "ok"),
    }


CASES = _cases()
NAMES = {"text_as_mp3": "note.mp3", "pdf_as_m4a": "doc.m4a"}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_gives_result_or_one_line_error(case, trained_run):
    data, expected = CASES[case]
    predictor = load_predictor(trained_run)
    before = set(os.listdir(tempfile.gettempdir()))
    try:
        p = predictor.predict(data, name=NAMES.get(case, "../../etc/passwd.wav"))
    except audio.AudioError as e:
        assert expected == "error", f"{case}: unexpected error {e}"
        msg = str(e)
        assert msg and "\n" not in msg and "Traceback" not in msg
    else:
        assert expected == "ok", f"{case}: expected an error, got {p.message}"
        assert isinstance(p, Prediction) and np.isfinite(list(p.probabilities.values())).all()
        assert abs(sum(p.probabilities.values()) - 1) < 1e-4
    assert set(os.listdir(tempfile.gettempdir())) <= before  # no stuck temp file


def test_quiet_recording_is_answered_as_silence_with_the_reason(trained_run):
    p = load_predictor(trained_run).predict(CASES["minus_70_dbfs"][0])
    assert p.status == "silence" and "dBFS" in p.message


def test_digital_silence_is_caught_before_the_model(trained_run):
    p = load_predictor(trained_run).predict(_wav(synth.silence(2.0)))
    assert p.status == "silence" and p.label == "silence" and p.timeline == []


def test_path_like_name_never_chooses_a_path(trained_run, tmp_path):
    # the name is only used in messages; the bytes are decoded in memory
    p = load_predictor(trained_run).predict(CASES["clipped"][0], name="../../etc/passwd.wav")
    assert p.file == "../../etc/passwd.wav" and p.status != "silence"


def test_oversized_upload_is_refused_without_reading(trained_run):
    class Upload(io.BytesIO):
        size = 30 * 1024 * 1024

        def read(self, *a):
            raise AssertionError("an oversized upload must not be read")

    with pytest.raises(audio.FileTooLargeError, match="25 MB"):
        load_predictor(trained_run).predict(Upload(b""), name="big.wav")


def test_two_hour_recording_is_refused_from_its_header(trained_run, tmp_path):
    f = tmp_path / "two_hours.wav"
    sf.write(f, np.zeros(int(7200 * 100), np.int16), 100, subtype="PCM_16")  # 2 h at 100 Hz: 1.4 MB
    with pytest.raises(audio.TooLongError, match="longer than"):
        load_predictor(trained_run).predict(f)


@pytest.mark.parametrize("name", ["06c4cfa2-7fa6-4fda-91a1-ea186a4acc64-1430029221058-1.7-f-26-ti.3gp",
                                  "10A40438-09AA-4A21-83B4-8119F03F7A11-1430848070-1.0-f-26-hu.caf"])
def test_real_phone_uploads_are_classified(name, trained_run):
    f = shared_or_skip("uploads-sample", name)
    p = load_predictor(trained_run).predict(f)
    assert p.duration > 5 and p.status in ("detected", "not_sure", "no_cry", "silence")


def test_concurrent_classifications_equal_single_threaded(trained_run):
    predictor = load_predictor(trained_run)
    clips = [_wav(synth.cry_sweep(2.0 + 0.5 * i, f_lo=300 + 40 * i, seed=i)) for i in range(8)]
    single = [predictor.predict(c).probabilities for c in clips]
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        return predictor.predict(clips[i]).probabilities

    with ThreadPoolExecutor(8) as ex:
        threaded = list(ex.map(work, range(8)))
    for a, b in zip(single, threaded):
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) < 1e-6 for k in a)

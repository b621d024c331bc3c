"""Live listening (babycry_core.detection.live): the ring buffer, frames of a browser's format resampled to 8 kHz, and the
shipped cry detector scoring every 0.5 s through the episode rule. Synthetic frames only: a cry-like generated
signal raises one alert (with the two-step answer's reason step), noise and silence raise none."""
from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest
import soundfile as sf
import soxr

from babycry_core import paths
from babycry_core.audio import synth
from babycry_core.detection.live import FrameResampler, LiveListener, RingBuffer
from tests.conftest import real_cry

SHIPPED = paths.ROOT / "checkpoints"


def browser_frames(y8k: np.ndarray, n: int = 960):
    """What aiortc hands over for a browser's microphone: 20 ms s16 stereo frames at 48 kHz."""
    x = (np.clip(soxr.resample(y8k, 8000, 48000), -1, 1) * 32767).astype(np.int16)
    for i in range(0, len(x) - n + 1, n):
        f = av.AudioFrame.from_ndarray(np.repeat(x[i:i + n], 2)[None], format="s16", layout="stereo")
        f.sample_rate, f.pts = 48000, i
        yield f


def listen(listener: LiveListener, y8k: np.ndarray, per_call: int = 5) -> list:
    frames, alerts = list(browser_frames(y8k)), []
    for k in range(0, len(frames), per_call):  # the WebRTC worker hands over a few queued frames at a time
        alerts += listener.feed_frames(frames[k:k + per_call])
    return alerts


@pytest.fixture(scope="module")
def shipped():
    """The shipped two-step answer: cry detector + reason model, from checkpoints/ as committed."""
    from babycry_core.inference.two_step import TwoStepPredictor
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.inference.predictor import load_model

    pair = json.loads((SHIPPED / "default.json").read_text())
    return TwoStepPredictor(CryDetector(load_model(SHIPPED / pair["detector"]).loaded), load_model(SHIPPED / pair["reason"]))


# ---------------------------------------------------------------- buffering

def test_ring_buffer_keeps_the_last_seconds():
    r = RingBuffer(1.0, sr=10)
    r.extend(np.arange(4))
    assert len(r) == 4 and list(r.latest(6)) == [0, 0, 0, 1, 2, 3]  # never written: zeros on the left
    r.extend(np.arange(4, 13))
    assert r.total == 13 and len(r) == 10
    assert list(r.latest(10)) == list(range(3, 13))
    assert list(r.latest(3, end=8)) == [5, 6, 7]
    assert list(r.latest(4, end=5)) == [0, 0, 3, 4]  # sample 2 is overwritten already
    r.extend(np.arange(100, 125))  # more than the capacity at once
    assert list(r.latest(10)) == list(range(115, 125)) and r.total == 38


def test_browser_frames_become_8khz_mono_with_the_pitch_kept():
    y = synth.sine(2.0, 8000, freq=440.0)
    res, out = FrameResampler(8000), []
    for f in browser_frames(y):
        out.append(res.frame(f))
    z = np.concatenate(out)
    assert abs(len(z) - len(y)) < 200  # 48 kHz -> 8 kHz (the resampler's delay aside)
    spec = np.abs(np.fft.rfft(z[800:]))
    assert abs(np.argmax(spec) * 8000 / len(z[800:]) - 440) < 5
    assert 0.3 < np.abs(z[800:]).max() < 0.6


def test_numpy_blocks_resample_without_a_seam():
    y = synth.cry_sweep(3.0, 16000)
    res = FrameResampler(8000)
    joined = np.concatenate([res.array(y[i:i + 1600], 16000) for i in range(0, len(y), 1600)])
    whole = soxr.resample(y, 16000, 8000)
    assert len(whole) - 1000 < len(joined) <= len(whole)  # the stream holds back its filter's tail (~0.1 s)
    assert np.abs(joined - whole[:len(joined)]).max() < 1e-3  # and is the one-shot signal, block joins and all


# ---------------------------------------------------------------- scoring and alerts

def test_a_cry_raises_one_alert_with_a_reason(shipped):
    lis = LiveListener(shipped)
    y = np.concatenate([synth.white_noise(4.0, 8000, level=0.003), real_cry(12.0),
                        synth.white_noise(14.0, 8000, level=0.003)])  # quiet for longer than the off time
    alerts = listen(lis, y)
    assert [a.kind for a in alerts] == ["on", "off"]  # one spell, one alert (hysteresis)
    on = alerts[0]
    assert 4.0 < on.time <= 4.0 + 4.5  # within 3 s of crying (+ the 2 s window's latency) of the cry's start
    assert lis.alerts_on == 1
    v = lis.snapshot()
    assert v.active is None and len(v.episodes) == 1
    ep = v.episodes[0]
    assert 2.5 <= ep.start <= 6.0 and 14.0 <= ep.end <= 17.0 and ep.peak > 0.9
    assert ep.reason is not None and set(ep.reason) >= {"label", "order", "probabilities"}
    assert 50 <= len(v.p) <= 62 and np.all(np.diff(v.starts) > 0)  # every 0.5 s of ~30 s


def test_the_alert_is_on_while_it_cries(shipped):
    lis = LiveListener(shipped)
    listen(lis, np.concatenate([synth.silence(1.0), real_cry(8.0)]))
    v = lis.snapshot()
    assert v.active is not None and v.active.peak > 0.9 and v.alerts_on == 1
    assert v.active_reason is not None  # the reason step on the crying heard so far
    lis.stop()  # Stop: the open episode closes, with its reason
    v = lis.snapshot()
    assert v.active is None and len(v.episodes) == 1 and v.episodes[0].reason is not None


@pytest.mark.parametrize("make", [lambda: synth.white_noise(12.0, 8000, level=0.01),
                                  lambda: synth.white_noise(12.0, 8000, level=0.2, seed=3),
                                  lambda: synth.silence(12.0)], ids=["quiet-noise", "loud-noise", "silence"])
def test_noise_and_silence_raise_none(shipped, make):
    lis = LiveListener(shipped)
    assert listen(lis, make()) == []
    lis.stop()
    v = lis.snapshot()
    assert v.alerts_on == 0 and v.episodes == [] and len(v.p) >= 20
    assert (v.p < v.threshold).all()


def test_a_rule_change_and_a_new_stream_keep_the_episodes(shipped):
    lis = LiveListener(shipped, on_seconds=2.0, window_seconds=4.0)
    listen(lis, real_cry(6.0))
    assert lis.snapshot().active is not None
    n = len(lis.snapshot().p)
    lis.set_rule(3.0, 5.0)  # the open episode closes; listening goes on under the new rule
    v = lis.snapshot()
    assert v.active is None and len(v.episodes) == 1 and (v.rule.on_seconds, v.rule.window_seconds) == (3.0, 5.0)
    assert len(v.p) >= n  # the strip goes on across the change (closing scores the last, end-aligned window)
    lis.stop()
    listen(lis, real_cry(6.0))  # START again: a new stream, same session
    v = lis.snapshot()
    assert v.active is not None and len(v.episodes) == 1 and v.alerts_on == 2
    assert v.active.start >= v.episodes[0].end


def test_the_last_minute_is_kept_in_memory_only_and_bounded(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lis = LiveListener(shipped, buffer_seconds=10.0, history_seconds=10.0)
    listen(lis, synth.white_noise(15.0, 8000, level=0.05))
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere
    y, sr = sf.read(io.BytesIO(lis.wav_bytes()))  # only when asked: the held audio as WAV bytes
    assert sr == 8000 and 9.9 <= len(y) / sr <= 10.0
    v = lis.snapshot()
    assert v.starts.min() >= v.seconds - 10.0 - 2.0 - 1e-6  # the strip's history: the last 10 s (+ a window)

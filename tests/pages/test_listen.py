"""The Listen page (AppTest): the privacy and secure-origin notes, the notice without a detector, and, with the
shipped detector and a stand-in for the WebRTC component that hands the page's callback browser-like frames,
the alert banner, the episodes table with the reason, and the download only after Stop.

(The component itself needs a real browser and server session: tests/pages/test_listen_browser.py.)"""
from __future__ import annotations

import asyncio
import json
import types

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from babycry_core import paths
from babycry_core.inference import wording as L
from babycry_core.audio import synth
from babycry_core.ui import listen_view as V
from tests.detection.test_live import browser_frames
from tests.conftest import real_cry

PAGE = str(paths.ROOT / "pages" / "4_Listen.py")


def _text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "info", "error", "warning", "success", "caption")
             for e in at.get(kind) if isinstance(getattr(e, "value", None), str)]
    return "\n".join(parts)


def test_renders_the_notes_and_says_what_is_missing_without_a_detector():
    at = AppTest.from_file(PAGE, default_timeout=60).run()  # isolated, empty checkpoints/
    assert not at.exception
    text = _text(at)
    assert "Nothing is recorded to disk" in text
    assert "secure origin" in text and "localhost" in text and "HTTPS behind a reverse proxy" in text
    assert "needs the cry detector" in text
    assert "not a medical device" in text


class FakeStreamer:
    """webrtc_streamer's stand-in: records its settings; while 'playing' it hands the page's queued-frames
    callback the frames of `audio`, as streamlit-webrtc's worker thread would."""

    def __init__(self):
        self.kwargs, self.playing, self.audio = {}, False, None

    def __call__(self, **kw):
        self.kwargs = kw
        if self.playing and self.audio is not None:
            frames = list(browser_frames(self.audio))
            for k in range(0, len(frames), 5):
                asyncio.run(kw["queued_audio_frames_callback"](frames[k:k + 5]))
            self.audio = None
        return types.SimpleNamespace(state=types.SimpleNamespace(playing=self.playing, signalling=False))


@pytest.fixture
def fake_webrtc(monkeypatch):
    import streamlit_webrtc

    fake = FakeStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(paths.ROOT / "checkpoints"))  # the shipped detector + reasons
    monkeypatch.delenv(V.ICE_ENV, raising=False)
    return fake


def test_a_cry_raises_the_banner_and_fills_the_table(fake_webrtc):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    kw = fake_webrtc.kwargs
    assert kw["mode"].name == "SENDONLY" and kw["rtc_configuration"] == {"iceServers": []}
    assert kw["media_stream_constraints"]["video"] is False and kw["media_stream_constraints"]["audio"]
    assert "Press **Start listening**" in _text(at) and "No crying episode yet" in _text(at)
    assert not any("Download the last minute" in b.label for b in at.get("download_button"))  # nothing heard

    assert not at.get("audio")  # the alert sound is off by default
    at.toggle[0].set_value(True)
    fake_webrtc.playing, fake_webrtc.audio = True, np.concatenate([synth.silence(1.0), real_cry(9.0)])
    at.run()
    assert not at.exception
    assert len(at.get("audio")) == 1  # the beep, switched on
    banner = [e.value for e in at.error]
    assert banner and "Crying now" in banner[0] and "Sustained crying since" in banner[0]
    shipped = paths.ROOT / "checkpoints"
    monitor = json.loads((shipped / json.loads((shipped / "default.json").read_text())["detector"] / "verdict.json")
                         .read_text())["monitor"]  # the shipped monitor rule, shown under the strip
    assert f"whole-recording check hears the spell as crying (P(cry) ≥ {monitor['confirm_threshold']:.0%}" in _text(at)
    table = at.dataframe[0].value
    assert list(table.columns) == ["start", "duration", "peak P(cry)", "reason"] and len(table) == 1
    assert "crying now" in table["duration"][0]
    assert not any("Download the last minute" in b.label for b in at.get("download_button"))  # not while listening

    fake_webrtc.playing = False  # Stop
    at.run()
    assert not at.exception and not [e.value for e in at.error]
    table = at.dataframe[0].value
    assert len(table) == 1 and "crying now" not in table["duration"][0]
    assert table["reason"][0].startswith(("Reason unclear from the sound", *L.DISPLAY.values()))
    assert any("Download the last minute" in b.label for b in at.get("download_button"))  # only when asked


def test_noise_raises_no_banner(fake_webrtc):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    fake_webrtc.playing, fake_webrtc.audio = True, synth.white_noise(12.0, level=0.01)
    at.run()
    assert not at.exception and not [e.value for e in at.error]
    assert any("No sustained crying" in s.value for s in at.success)
    assert "No crying episode yet" in _text(at)


def test_ice_servers_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(V.ICE_ENV, raising=False)
    assert V.rtc_configuration() == {"iceServers": []}
    monkeypatch.setenv(V.ICE_ENV, "stun:stun.example.org:3478, turn:turn.example.org:3478")
    assert V.rtc_configuration() == {"iceServers": [{"urls": ["stun:stun.example.org:3478",
                                                              "turn:turn.example.org:3478"]}]}
    monkeypatch.setenv(V.ICE_ENV, '[{"urls": "turn:t.example.org", "username": "u", "credential": "c"}]')
    assert V.rtc_configuration()["iceServers"][0]["username"] == "u"


def test_reason_text_follows_the_two_step_answer():
    assert V.reason_text(None) == "—"
    assert V.reason_text({"label": "hungry", "probabilities": {"hungry": 0.71}}) == "Hunger cry (71%)"
    assert V.reason_text({"label": None, "order": ["hungry", "tired", "discomfort", "burping"]}) == (
        "Reason unclear from the sound; worth checking first: hunger cry, tired cry, discomfort cry")

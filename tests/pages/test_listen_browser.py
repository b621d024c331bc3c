"""The Listen page live, in real headless Chromium with its fake microphone (Debian's chromium driven by
Playwright; never `playwright install`).

Chromium plays a WAV file as the microphone (`--use-file-for-fake-audio-capture`, looped). The app runs on a
free loopback port with the shipped cry detector (checkpoints/ as committed). A real Donate-a-Cry cry, looped to
about 20 s, must raise the alert banner; FSDD digits spoken by the detector's held-out speaker (joined with
short pauses), or quiet room noise where FSDD is absent, must raise none. Screenshots go to test-artifacts/.
"""
import os
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from babycry_core import paths
from babycry_core.audio import synth
from tests.pages.browser_helpers import ARTIFACTS, assert_no_exception, chromium_page, need_chromium, streamlit_app

pytestmark = pytest.mark.browser
FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required"]
SR = 48000  # 16-bit 48 kHz mono: what Chromium's fake capture reads most reliably
BANNER = "Crying now"
HELD_OUT_SPEAKER = "lucas"  # the shipped detector's test speaker (data/detect/splits.json): never trained on
LISTEN_S = 20  # of fake microphone per file


def _write(path: Path, y: np.ndarray, sr: int) -> Path:
    import soxr

    y48 = soxr.resample(np.asarray(y, np.float32), sr, SR) if sr != SR else y
    sf.write(path, np.clip(y48, -1, 1), SR, subtype="PCM_16")
    return path


def cry_wav(tmp: Path) -> Path:
    """A real Donate-a-Cry clip looped to ~20 s, peak at half scale as the speech is (the first clip was recorded
    at -59 dBFS: through Opus, so near the silence level, it raised no alert once in CI); a generated cry sweep
    when the corpus is absent."""
    from babycry_core.audio import decode as audio

    clips = sorted((paths.shared_data_dir() / "donateacry" / "hungry").glob("*.wav"))
    if clips:
        y = audio.load(clips[0], 8000)
        y = 0.5 * y / max(float(np.abs(y).max()), 1e-6)
        y = np.tile(y, int(np.ceil(LISTEN_S * 8000 / len(y))))[: LISTEN_S * 8000]
    else:
        y = synth.cry_sweep(LISTEN_S, 8000)
    return _write(tmp / "cry.wav", y, 8000)


def calm_wav(tmp: Path) -> Path:
    """Adult speech (FSDD digits of the held-out speaker, joined with 0.2-0.5 s pauses of faint room noise, as
    the detector's speech corpus joins them); quiet room noise when FSDD is absent."""
    from babycry_core.audio import decode as audio

    rng = np.random.default_rng(0)
    files = sorted((paths.shared_data_dir() / "fsdd" / "recordings").glob(f"*_{HELD_OUT_SPEAKER}_*.wav"))
    if files:
        parts, n = [], 0
        for f in rng.permutation(files):
            y = audio.load(f, 8000)
            pause = (10 ** (-60 / 20) * rng.standard_normal(int(rng.uniform(0.2, 0.5) * 8000))).astype(np.float32)
            parts += [0.5 * y / max(float(np.abs(y).max()), 1e-6), pause]
            n += len(y) + len(pause)
            if n >= LISTEN_S * 8000:
                break
        return _write(tmp / "speech.wav", np.concatenate(parts), 8000)
    return _write(tmp / "room.wav", synth.white_noise(LISTEN_S, 8000, level=0.01), 8000)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    env = {**os.environ, "BABYCRY_CHECKPOINTS": str(paths.ROOT / "checkpoints")}  # the shipped detector + reasons
    env.pop("BABYCRY_ICE_SERVERS", None)  # the default: no ICE servers (localhost needs none)
    log_path = tmp_path_factory.mktemp("listen_server") / "streamlit.log"
    with streamlit_app(env, log_path) as url:
        yield types.SimpleNamespace(url=url, log=log_path)


def _listen(server, wav: Path, shot: str) -> tuple[bool, str]:
    """Open Listen with `wav` as the microphone, press Start, listen up to LISTEN_S s. -> (banner seen, page text).
    A screenshot is saved whatever happens; a step that times out fails with the server's log."""
    from playwright import sync_api

    with chromium_page(1300, 1400, FAKE_MIC + [f"--use-file-for-fake-audio-capture={wav.resolve()}"]) as page:
        step = "open the page"
        try:
            page.goto(server.url + "/Listen")
            page.get_by_text("Microphone access needs a secure origin", exact=False).first.wait_for(timeout=90_000)
            step = "find the Start button"
            frame = page.frame_locator("iframe[title*='streamlit_webrtc']").first
            start = frame.get_by_role("button", name="Start listening")
            start.wait_for(timeout=90_000)
            start.click()
            step = "connect (the Stop button)"
            frame.get_by_role("button", name="Stop").wait_for(timeout=60_000)
            step = "listen"
            seen, deadline = False, time.time() + LISTEN_S + 10
            while time.time() < deadline and not seen:
                seen = page.get_by_text(BANNER, exact=False).count() > 0
                time.sleep(0.5)
            assert_no_exception(page)
            text = page.inner_text("body")
        except sync_api.TimeoutError:
            pytest.fail(f"timed out at '{step}'; server log:\n" + server.log.read_text(errors="replace")[-3000:])
        finally:
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return seen, text


def test_a_real_cry_raises_the_alert(server, tmp_path):
    seen, text = _listen(server, cry_wav(tmp_path), "browser_listen_cry.png")
    assert seen, "no alert banner for a crying microphone:\n" + text[-1500:]


def test_speech_or_quiet_noise_raises_none(server, tmp_path):
    seen, text = _listen(server, calm_wav(tmp_path), "browser_listen_calm.png")
    assert not seen, "an alert for a microphone without crying:\n" + text[-1500:]
    assert "No sustained crying" in text, "it never reported listening:\n" + text[-1500:]  # it did score windows

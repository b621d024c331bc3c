"""End to end in real headless Chromium (Debian's, driven by Playwright; never `playwright install`).

Starts the app on a free loopback port with a checkpoint trained in the test, uploads a real clip
(or a generated one when ../shared/data is absent), waits for "Detected:", opens Compare, and saves
screenshots under test-artifacts/ (git-ignored).
"""
import os
import time

import pytest

from babycry_core import fileio, paths
from tests.pages.browser_helpers import ARTIFACTS, assert_no_exception, chromium_page, need_chromium, streamlit_app

pytestmark = pytest.mark.browser


@pytest.fixture
def server(trained_run, tmp_path):
    need_chromium()
    # answer rather than abstain, so the page must show "Detected:"
    fileio.write_json(trained_run / "calibration.json", {"temperature": 1.0, "threshold": 0.0})
    with streamlit_app(os.environ.copy(), tmp_path / "streamlit.log") as url:
        yield url


def _clip(tmp_path):
    real = paths.shared_data_dir() / "donateacry" / "hungry"
    if real.is_dir():
        return sorted(real.glob("*.wav"))[0]
    import soundfile as sf

    from babycry_core.audio import synth

    f = tmp_path / "cry.wav"
    sf.write(f, synth.cry_sweep(5.0), 8000)
    return f


def test_upload_real_clip_and_open_compare(server, tmp_path):
    with chromium_page(height=1000) as page:
        page.goto(server + "/Classify")
        uploader = page.locator("[data-testid=stFileUploader] input[type=file]").first
        uploader.wait_for(state="attached", timeout=60_000)
        uploader.set_input_files(str(_clip(tmp_path)))
        page.get_by_text("Detected:", exact=False).first.wait_for(timeout=90_000)
        assert_no_exception(page)
        page.screenshot(path=str(ARTIFACTS / "browser_classify.png"), full_page=True)
        page.goto(server + "/Compare")
        page.wait_for_load_state("networkidle")
        page.get_by_text("Compare", exact=False).first.wait_for(timeout=30_000)
        time.sleep(2)
        assert_no_exception(page)
        page.screenshot(path=str(ARTIFACTS / "browser_compare.png"), full_page=True)

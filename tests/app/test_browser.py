"""End to end in real headless Chromium (Debian's, driven by Playwright; never `playwright install`).

Starts the app on a free loopback port with a checkpoint trained in the test, uploads a real clip
(or a generated one when ../shared/data is absent), waits for "Detected:", opens Compare, and saves
screenshots under test-artifacts/ (git-ignored).
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from babycry_core import fileio, paths

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ARTIFACTS = paths.ROOT / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(trained_run):
    # answer rather than abstain, so the page must show "Detected:"
    fileio.write_json(trained_run / "calibration.json", {"temperature": 1.0, "threshold": 0.0})
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=paths.ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
    yield url
    proc.terminate()
    proc.wait(10)


def _clip(tmp_path):
    real = paths.shared_data_dir() / "donateacry" / "hungry"
    if real.is_dir():
        return sorted(real.glob("*.wav"))[0]
    import soundfile as sf

    from babycry_core import synth

    f = tmp_path / "cry.wav"
    sf.write(f, synth.cry_sweep(5.0), 8000)
    return f


def test_upload_real_clip_and_open_compare(server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (./run.sh test installs it with apt-get where it can)")
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server + "/Classify")
        uploader = page.locator("[data-testid=stFileUploader] input[type=file]").first
        uploader.wait_for(state="attached", timeout=60_000)
        uploader.set_input_files(str(_clip(tmp_path)))
        page.get_by_text("Detected:", exact=False).first.wait_for(timeout=90_000)
        assert page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(ARTIFACTS / "browser_classify.png"), full_page=True)
        page.goto(server + "/Compare")
        page.wait_for_load_state("networkidle")
        page.get_by_text("Compare", exact=False).first.wait_for(timeout=30_000)
        time.sleep(2)
        assert page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(ARTIFACTS / "browser_compare.png"), full_page=True)
        browser.close()

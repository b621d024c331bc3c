"""What the real-browser tests share: Debian's Chromium and its flags, and the app started on a free loopback port."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from babycry_core import paths

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ARTIFACTS = paths.ROOT / "test-artifacts"


def need_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (./run.sh test installs it with apt-get where it can)")
    pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(env: dict, log_path: Path, timeout: float = 60.0):
    """`streamlit run Home.py` on 127.0.0.1 and a free port, its output in log_path (a file: a pipe nobody reads
    would stall the server once full); yields the URL once /_stcore/health answers, stops the server after."""
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port),
                                 "--server.headless", "true", "--server.address", "127.0.0.1"],
                                cwd=paths.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.3)
            else:
                pytest.fail("streamlit did not start: " + log_path.read_text(errors="replace")[-2000:])
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1400, extra_args=()):
    """A page in Debian's headless Chromium, driven by Playwright, closed after; test-artifacts/ made for screenshots."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS + list(extra_args))
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def assert_no_exception(page) -> None:
    """No Streamlit exception box on the page."""
    shown = page.locator("[data-testid=stException]")
    assert shown.count() == 0, shown.first.inner_text()

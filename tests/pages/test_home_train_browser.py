"""Home and Train in real headless Chromium: Home links every page and each opens without an exception; a one-epoch
run launched from the Train form in the browser trains in its own process and the page shows it finished.

Screenshots go to test-artifacts/ (git-ignored)."""
import os
import re

import pytest

from babycry_core import paths
from babycry_core.runs import run_registry as runs
from tests.pages.browser_helpers import ARTIFACTS, assert_no_exception, chromium_page, need_chromium, streamlit_app

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_page():
    need_chromium()
    with chromium_page() as page:
        yield page


def _no_exception(page) -> None:
    page.wait_for_load_state("networkidle")
    assert_no_exception(page)


def test_home_links_every_page_and_each_opens(browser_page, tmp_path):
    page = browser_page
    with streamlit_app(os.environ.copy(), tmp_path / "streamlit.log") as url:
        page.goto(url)
        page.get_by_text("not a medical device", exact=False).first.wait_for(timeout=60_000)
        _no_exception(page)
        page.screenshot(path=str(ARTIFACTS / "browser_home.png"), full_page=True)
        hrefs = page.eval_on_selector_all("[data-testid=stSidebarNav] a", "els => els.map(e => e.href)")
        names = {re.sub(r"^\d+_", "", p.stem) for p in (paths.ROOT / "pages").glob("*.py")}
        assert names <= {h.rstrip("/").rsplit("/", 1)[-1] for h in hrefs}
        for href in hrefs:
            page.goto(href)
            page.locator("h1").first.wait_for(timeout=60_000)
            _no_exception(page)


def test_launch_from_the_train_form_and_see_it_finish(browser_page, tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the launched training inherits it
    page = browser_page
    with streamlit_app(os.environ.copy(), tmp_path / "streamlit.log") as url:
        page.goto(url + "/Train")
        page.get_by_text("No runs yet", exact=False).first.wait_for(timeout=60_000)
        epochs = page.get_by_label("Epochs", exact=True)
        epochs.fill("1")
        epochs.press("Tab")
        page.get_by_role("button", name="Launch").click()
        page.get_by_text("Launched", exact=False).first.wait_for(timeout=30_000)
        page.get_by_text("Finished: test macro-F1", exact=False).first.wait_for(timeout=120_000)
        _no_exception(page)
        page.screenshot(path=str(ARTIFACTS / "browser_train.png"), full_page=True)
    done = runs.list_runs()
    assert [r.status for r in done] == ["finished"]
    assert done[0].config["epochs"] == 1 and done[0].config["model"] == "cnn"

"""The Train page (AppTest): launch a real background run from the form, watch it finish; stop one."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from babycry_core import paths
from babycry_core.runs import run_registry as runs
from babycry_core.runs import launcher

PAGE = str(paths.ROOT / "pages" / "3_Train.py")


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the launched training inherits it: be gentle on shared cores


def wait_for(run_dir, states, timeout=120.0) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = runs.run_info(run_dir).status
        if status in states:
            return status
        time.sleep(0.5)
    raise AssertionError(f"{run_dir.name} still {runs.run_info(run_dir).status}; log:\n{launcher.tail_log(run_dir)}")


def launch(at, epochs: int, patience: int = 8):
    at.selectbox(key="model").set_value("cnn")
    at.number_input(key="epochs").set_value(epochs)
    at.number_input(key="patience").set_value(patience)
    at.select_slider(key="batch").set_value(8)
    next(b for b in at.button if b.label == "Launch").click()
    at.run()
    assert not at.exception
    run_dir = paths.checkpoints_dir() / at.session_state["watch"]
    assert run_dir.is_dir()
    return run_dir


def test_train_page_without_runs():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "cnn" in at.selectbox(key="model").options
    assert any("No runs yet" in i.value for i in at.info)


def test_train_page_with_a_finished_run(trained_run):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc[0, "status"] == "finished" and table.loc[0, "run"] == trained_run.name
    assert any("Finished" in s.value for s in at.success)


def test_launch_from_form_runs_to_finish(tiny_data):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    t0 = time.time()
    run_dir = launch(at, epochs=1)
    assert time.time() - t0 < 10  # Launch returns at once: training is another process
    assert wait_for(run_dir, ("finished", "failed", "interrupted")) == "finished", launcher.tail_log(run_dir)
    assert (run_dir / "metrics.json").exists()

    at = AppTest.from_file(PAGE, default_timeout=60).run()  # a fresh session (reload): read from the folder
    assert not at.exception
    table = at.dataframe[0].value
    assert table.set_index("run").loc[run_dir.name, "status"] == "finished"
    assert any("Finished" in s.value for s in at.success)


def test_stop_button_stops_a_run(tiny_data):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    run_dir = launch(at, epochs=500, patience=500)
    wait_for(run_dir, ("running",) + runs.FINAL_STATES, timeout=60)
    at.run()  # the page now sees it running and offers Stop
    at.button(key="stop").click().run()
    assert not at.exception
    assert wait_for(run_dir, runs.FINAL_STATES, timeout=60) == "stopped", launcher.tail_log(run_dir)
    at.run()
    table = at.dataframe[0].value
    assert table.set_index("run").loc[run_dir.name, "status"] == "stopped"
    assert not any(b.key == "stop" for b in at.button)

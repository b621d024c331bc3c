"""Run folders: atomic writes, status on kill/stop, corrupt folders reported, unique folders."""
import os
import signal
import sys
import time

import pytest

from babycry_core import fileio
from babycry_core.runs import run_registry as runs
from babycry_core.runs import launcher


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "x.json"
    fileio.write_json(target, {"a": 1})

    def boom(f):
        f.write("partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        fileio.atomic_write(target, boom, mode="w")
    assert fileio.read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left


def test_new_run_dirs_are_unique(tmp_path):
    dirs = {runs.new_run_dir("cnn", tmp_path) for _ in range(20)}
    assert len(dirs) == 20


def test_truncated_weights_are_reported_and_do_not_hide_healthy_runs(trained_run):
    import shutil

    bad = trained_run.parent / "broken-run"
    shutil.copytree(trained_run, bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 3])
    found = {r.run_id: r for r in runs.list_runs()}
    assert found[trained_run.name].status == "finished"
    assert found["broken-run"].status == "corrupt" and "damaged" in found["broken-run"].message
    assert runs.default_run() == trained_run
    from babycry_core.runs.checkpoint import load

    with pytest.raises(ValueError, match="damaged"):
        load(bad)


def test_garbage_metadata_is_corrupt_not_a_crash(trained_run):
    (trained_run / "labels.json").write_text("{not json")
    assert runs.run_info(trained_run).status == "corrupt"


def test_dead_process_is_interrupted_not_running(tmp_path):
    d = runs.new_run_dir("cnn", tmp_path)
    p = __import__("subprocess").Popen([sys.executable, "-c", "pass"])
    p.wait()
    runs.set_status(d, "running", pid=p.pid, started=time.time())
    assert runs.run_info(d).status == "interrupted"


def _launch(tiny_data):
    from babycry_core.app.train import TrainConfig, launch

    return launch(TrainConfig(model="cnn", epochs=200, batch_size=8, patience=200, threads=1))


def _wait_for_epoch(run_dir, n=1, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if sum(e.get("event") == "epoch" for e in runs.read_events(run_dir)) >= n:
            return
        if runs.run_info(run_dir).status in runs.FINAL_STATES:
            pytest.fail(f"run ended early: {launcher.tail_log(run_dir)}")
        time.sleep(0.2)
    pytest.fail("no epoch finished in time: " + launcher.tail_log(run_dir))


def test_sigterm_stops_cleanly_and_sigkill_is_interrupted(tiny_data):
    a = _launch(tiny_data)
    b = _launch(tiny_data)  # two at once: separate folders, both progress
    assert a != b
    _wait_for_epoch(a)
    _wait_for_epoch(b)
    assert launcher.stop(a) == "stopped"
    stopped = runs.run_info(a)
    assert stopped.usable and stopped.metrics  # a stopped run keeps its best epoch, evaluated
    os.kill(runs.run_pid(b), signal.SIGKILL)
    time.sleep(0.5)
    info = runs.run_info(b)
    assert info.status == "interrupted"
    from babycry_core.runs.checkpoint import weights_problem

    assert weights_problem(b) is None  # the last best epoch's weights are intact
    assert not list(b.glob(".*.tmp"))

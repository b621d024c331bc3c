"""RunFolder: each JSON file read once per object, writes atomic and seen by later reads, progress events that
survive a torn last line, and the run registry reading through a RunFolder it is given."""
import json
import os
import pathlib

import pytest

from babycry_core.runs import run_registry as runs
from babycry_core.runs.run_folder import NO_CALIBRATION, RunFolder


@pytest.fixture
def folder(tmp_path):
    f = RunFolder(tmp_path / "run")
    f.path.mkdir()
    f.write(RunFolder.CONFIG, {"model": "cnn", "family": "torch"})
    f.write(RunFolder.LABELS, ["hungry", "tired"])
    return f


def test_reads_each_file_once_and_writes_refresh(folder, monkeypatch):
    n = []
    read_text = pathlib.Path.read_text
    monkeypatch.setattr(pathlib.Path, "read_text",
                        lambda self, *a, **k: n.append(self.name) or read_text(self, *a, **k))
    assert folder.config["model"] == "cnn" and folder.read(RunFolder.CONFIG)["family"] == "torch"
    assert folder.labels == ["hungry", "tired"] and folder.labels == ["hungry", "tired"]
    assert sorted(n) == [RunFolder.CONFIG, RunFolder.LABELS]
    folder.update(RunFolder.CONFIG, corpus="donateacry")
    assert folder.config == {"model": "cnn", "family": "torch", "corpus": "donateacry"}
    assert json.loads(folder.file(RunFolder.CONFIG).read_text())["corpus"] == "donateacry"
    (folder.path / RunFolder.LABELS).write_text('["x"]')  # another process writes
    assert folder.labels == ["hungry", "tired"] and folder.forget().labels == ["x"]
    assert [p.name for p in folder.path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_defaults_and_missing_files(folder):
    with pytest.raises(FileNotFoundError):
        folder.read(RunFolder.METRICS)
    assert folder.metrics == {} and folder.status == {} and folder.calibration == NO_CALIBRATION
    assert RunFolder(folder.path / "nothing").family == "torch"
    assert folder.has(RunFolder.CONFIG, RunFolder.LABELS) and not folder.has(RunFolder.CONFIG, RunFolder.WEIGHTS)
    assert folder.missing() == [RunFolder.FEATURES]


def test_events_ignore_a_torn_last_line(folder):
    assert folder.events() == []
    folder.append_event({"event": "start"})
    folder.append_event({"event": "epoch", "epoch": 1})
    with open(folder.file(RunFolder.HISTORY), "a") as f:
        f.write('{"event": "ep')  # killed mid-line
    assert folder.events() == [{"event": "start"}, {"event": "epoch", "epoch": 1}]
    assert runs.read_events(folder.path) == folder.events()


def test_of_stage_and_path_use(folder):
    assert RunFolder.of(folder) is folder and RunFolder.of(str(folder.path)).path == folder.path
    assert os.fspath(folder) == str(folder.path) and pathlib.Path(folder) == folder.path
    assert folder.stage("gate").path == folder.path / "gate" and folder.name == "run"
    folder.write_bytes(RunFolder.WEIGHTS, b"abc")
    assert folder.file(RunFolder.WEIGHTS).read_bytes() == b"abc"
    assert folder.log_tail() == ""
    folder.file(RunFolder.LOG).write_text("a\nb\nc\n")
    assert folder.log_tail(2) == "b\nc"


def test_registry_takes_a_run_folder(folder):
    runs.set_status(folder, "running", pid=os.getpid(), started=1.0)
    info = runs.run_info(folder)
    assert info.status == "running" and info.folder is folder and info.path == folder.path
    assert runs.run_pid(folder) == os.getpid()
    runs.set_status(folder.path, "finished")  # a path: a fresh read, the pid kept
    assert RunFolder(folder.path).status["pid"] == os.getpid()
    assert runs.find_run(folder) == folder.path and runs.open_run(folder) is folder
    assert runs.open_run(folder.path).path == folder.path
    assert runs.export_dir_for(folder) == folder.path / RunFolder.EXPORT_DIR


def test_pinned_defaults(tmp_path):
    assert runs.pinned(tmp_path) == {} and runs.default_folders(tmp_path) == (None, None)
    (tmp_path / "default.json").write_text('{"detector": "nope"}')
    assert runs.pinned(tmp_path) == {"detector": "nope"} and runs.default_pair(tmp_path) == (None, None)
    assert runs.default_run(tmp_path) is None and runs.default_folder(tmp_path) is None


def test_source_sha256_skips_bookkeeping(folder):
    before = runs.source_sha256(folder)
    for name in RunFolder.BOOKKEEPING:
        folder.file(name).write_text("changed")
    (folder.path / "x.pid").write_text("1")
    assert runs.source_sha256(folder.path) == before
    folder.write(RunFolder.CALIBRATION, {"temperature": 2.0})
    assert runs.source_sha256(folder) != before

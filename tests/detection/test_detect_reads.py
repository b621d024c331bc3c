"""`detect` opens each run once: the shipped detector's and reason model's JSON files are each read at most once
(runs.run_folder.RunFolder's cache, handed from the run registry down to the loaders and the YAMNet sides)."""
import collections
import json
import pathlib

import pytest

from babycry_core import paths
from babycry_core.runs.run_folder import PINNED_DEFAULTS

SHIPPED = paths.ROOT / "checkpoints"


@pytest.fixture
def reads(monkeypatch):
    """Counts Path.read_text per file (RunFolder.read and fileio.read_json both read through it)."""
    counts = collections.Counter()
    read_text = pathlib.Path.read_text

    def counting(self, *a, **kw):
        counts[pathlib.Path(self).resolve()] += 1
        return read_text(self, *a, **kw)

    monkeypatch.setattr(pathlib.Path, "read_text", counting)
    return counts


def _app_detect(files):  # what `python -m babycry_core detect` calls
    from babycry_core.app.answer import detect

    return detect(files, engine="torch")


@pytest.mark.parametrize("detect", [_app_detect], ids=["app.answer.detect"])
def test_detect_reads_each_run_file_once(monkeypatch, wav_file, reads, detect):
    from babycry_core.detection.whole_recording import Recording
    from babycry_core.app import answer

    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(SHIPPED))
    monkeypatch.setattr(answer, "_ANSWERERS", {})  # load afresh, as a new `detect` process does
    out = detect([wav_file])
    assert isinstance(out[0], Recording), out
    pinned = json.loads((SHIPPED / PINNED_DEFAULTS).read_text())
    for key in ("detector", "reason"):
        run = (SHIPPED / pinned[key]).resolve()
        per_file = {f.name: n for f, n in reads.items() if f.parent == run and f.suffix == ".json"}
        assert per_file, f"no file of the {key} run {run.name} was read"
        assert max(per_file.values()) == 1, f"{key} run {run.name} read more than once: {per_file}"

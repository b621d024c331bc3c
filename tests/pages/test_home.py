"""Home page (AppTest): runs with and without checkpoints and corpus, shows headline metrics, names corrupt
runs, links the pages; and it stays light (no TensorFlow, no model load)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from babycry_core import paths
from tests.conftest import train_template

HOME = str(paths.ROOT / "Home.py")


@pytest.fixture(scope="module")
def run_template(tiny_corpus, tmp_path_factory) -> Path:
    """A finished small-CNN run trained once for the module; its data folder sits beside it."""
    return train_template(tiny_corpus, tmp_path_factory.mktemp("home_template"), epochs=1)


def home() -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def test_home_without_checkpoints_or_corpus(monkeypatch, tmp_path):
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "empty-data"))  # other modules may have built one
    at = home()
    assert any("not a medical device" in w for w in texts(at, "warning"))
    info = " ".join(texts(at, "info"))
    assert "No trained model" in info and "data build" in info
    assert not texts(at, "error")


def test_home_links_every_page():
    at = home()
    links = at.get("page_link")
    pages = sorted(p.name for p in (paths.ROOT / "pages").glob("*.py"))
    assert len(links) >= len(pages) and any("Classify" in link.proto.label for link in links)


def test_home_shows_models_with_headline_metrics_and_data(run_template, monkeypatch):
    monkeypatch.setenv("BABYCRY_DATA", str(run_template.parent.parent / "data"))
    shutil.copytree(run_template, paths.checkpoints_dir() / run_template.name)
    metrics = json.loads((run_template / "metrics.json").read_text())
    at = home()
    models, classes = (df.value for df in at.dataframe)
    row = models.iloc[0]
    assert run_template.name in row["run"] and "default" in row["run"]
    assert row["macro-F1 [95% CI]"].startswith(f"{metrics['macro_f1']:.2f} [")
    assert row["balanced accuracy [95% CI]"].startswith(f"{metrics['balanced_accuracy']:.2f}")
    assert f"{metrics['baseline']['macro_f1']:.2f}" in row["majority baseline macro-F1 / bal. acc."]
    assert set(classes["class"]) == {"Hunger cry", "Tired cry", "Discomfort cry"}
    assert classes["clips"].astype(int).sum() == 48
    assert not any("No trained model" in i for i in texts(at, "info"))


def test_home_names_corrupt_run(run_template):
    good = paths.checkpoints_dir() / run_template.name
    shutil.copytree(run_template, good)
    bad = good.parent / "20990101-000000-cnn-dead"
    shutil.copytree(good, bad)
    (bad / "labels.json").write_text("{not json")
    at = home()
    assert any(bad.name in w for w in texts(at, "warning"))
    assert len(at.dataframe) >= 1 and good.name in at.dataframe[0].value.iloc[0]["run"]


def test_home_imports_no_tensorflow_and_loads_no_model(run_template, tmp_path):
    """In a fresh process (pytest itself has torch loaded), with a run present: Home imports neither TensorFlow
    nor torch, and builds no model."""
    shutil.copytree(run_template, paths.checkpoints_dir() / run_template.name)
    code = (
        "import sys, json\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({HOME!r}, default_timeout=60).run()\n"
        "print(json.dumps({'exc': [e.value for e in at.exception], 'mods': sorted(m for m in sys.modules if m in "
        "('tensorflow', 'torch', 'torchvision', 'captum', 'librosa', 'babycry_core.inference.predictor', "
        "'babycry_core.models'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(paths.ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert not res["exc"], res["exc"]
    assert not {"tensorflow", "captum", "librosa", "babycry_core.inference.predictor", "babycry_core.models"} & set(res["mods"])
    assert "torch" not in res["mods"], "Home imported torch (listing runs must only read the safetensors header)"

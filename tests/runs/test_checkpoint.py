"""checkpoint.load and weights.weights_problem take a RunFolder as well as a path and read the run's files through
it (a caller that opened the run once gets cached reads); a family's parts answer for any run (runs.family)."""
from __future__ import annotations

import shutil

import pytest

from babycry_core import fileio, paths
from babycry_core.runs.checkpoint import load
from babycry_core.runs.model_card import card_text
from babycry_core.runs.run_folder import RunFolder
from babycry_core.runs.weights import weights_problem

CNN = paths.ROOT / "checkpoints" / "20261124-201249-cnn-7a49"
pytestmark = pytest.mark.skipif(not CNN.is_dir(), reason="the shipped CNN run is not here")


@pytest.fixture
def cnn_run(tmp_path):
    return shutil.copytree(CNN, tmp_path / CNN.name)


def test_load_reads_through_the_run_folder_it_is_given(cnn_run):
    folder = RunFolder(cnn_run)
    assert weights_problem(folder) is None
    first = load(folder)
    assert {RunFolder.CONFIG, RunFolder.LABELS, RunFolder.FEATURES, RunFolder.CALIBRATION} <= set(folder._json)
    for name in (RunFolder.CONFIG, RunFolder.LABELS, RunFolder.CALIBRATION):
        (cnn_run / name).unlink()  # cached: the same RunFolder loads without reading them again
    again = load(folder)
    assert again.labels == first.labels and again.config == first.config and again.calibration == first.calibration
    assert again.run_dir == cnn_run and weights_problem(folder) is None
    with pytest.raises(FileNotFoundError):
        load(cnn_run)  # a path: a fresh read


def test_load_by_path_and_by_run_folder_agree(cnn_run):
    a, b = load(cnn_run), load(RunFolder(cnn_run))
    assert (a.labels, a.config, a.calibration, a.feature_config) == (b.labels, b.config, b.calibration,
                                                                     b.feature_config)
    assert type(a.model) is type(b.model)


def test_a_model_less_or_unknown_run_says_so(cnn_run):
    cfg = fileio.read_json(cnn_run / RunFolder.CONFIG)
    fileio.write_json(cnn_run / RunFolder.CONFIG, {**cfg, "family": "cv", "folds": 5})
    assert weights_problem(cnn_run) is None
    with pytest.raises(ValueError, match="a 'cv' run holds no model to load"):
        load(cnn_run)
    card = card_text(cnn_run)
    assert "5-fold cross-validation of `cnn`" in card and "none: a cross-validation run keeps pooled metrics" in card
    fileio.write_json(cnn_run / RunFolder.CONFIG, {**cfg, "family": "mystery"})
    assert weights_problem(cnn_run) == "unknown model family 'mystery' in config.json"
    with pytest.raises(ValueError, match="unknown model family 'mystery'"):
        load(cnn_run)
    assert card_text(cnn_run).startswith(f"# Model card: {cnn_run.name}")  # the defaults: a card all the same

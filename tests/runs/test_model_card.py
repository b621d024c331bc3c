"""MODEL_CARD.md for any run folder (model_card.py) and its CLI hook `python -m babycry_core card RUN`."""
from __future__ import annotations
import pytest

import shutil

from babycry_core import fileio
from babycry_core.data import manifest as data
from babycry_core.cli.main import main
from babycry_core.runs.model_card import card_text, train_command, write_model_card

from tests.conftest import tiny_train_config


def test_card_of_a_cnn_run(trained_run, capsys):
    assert main(["card", str(trained_run)]) == 0
    path = trained_run / "MODEL_CARD.md"
    assert capsys.readouterr().out.strip() == str(path)
    card = path.read_text()
    m = fileio.read_json(trained_run / "metrics.json")
    lo, hi = m["macro_f1_ci"]
    assert f"| macro-F1 | {m['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}] | {m['baseline']['macro_f1']:.3f} |" in card
    assert f"majority baseline (always '{m['baseline']['label']}')" in card
    assert "50-4000 Hz" in card and "Donate-a-Cry is recorded at 8 kHz" in card  # the band and why
    cfg = fileio.read_json(trained_run / "config.json")
    assert f"{cfg['n_train']} train / {cfg['n_val']} validation / {cfg['n_test']} test clips" in card  # the split
    assert "by baby" in card
    assert "python -m babycry_core train --model cnn --epochs 3 --batch-size 8 --patience 5 --threads 1" in card
    assert "not a medical device" in card.lower()
    summary = data.class_summary(data.load_manifest("donateacry"))  # classes with clips and groups, from the manifest
    for r in summary.itertuples():
        assert f"| {r.label} | {r.clips} | {r.groups} |" in card
    assert "model.safetensors" in card and "Pretrained: not applicable" in card


def test_card_of_an_svm_run(tiny_data):
    from babycry_core.training.fit import fit

    run = fit(tiny_train_config(model="svm"), progress=False)
    card = write_model_card(run).read_text()
    m = fileio.read_json(run / "metrics.json")
    assert f"{m['macro_f1']:.3f} [" in card and "majority baseline" in card
    assert "--model svm" in card and "grouped CV on the training part" in card
    assert "svm.skops" in card and "handcrafted" in card
    assert "not a medical device" in card.lower()


def test_card_without_metrics_says_so(trained_run, tmp_path):
    run = tmp_path / "no-metrics"
    shutil.copytree(trained_run, run)
    (run / "metrics.json").unlink()
    card = write_model_card(run).read_text()
    assert "Test metrics are missing" in card and f"evaluate {run.name}" in card
    assert "50-4000 Hz" in card and "not a medical device" in card.lower()


def test_card_without_manifest_or_status_still_works(trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "empty"))
    (trained_run / "status.json").unlink()
    card = card_text(trained_run)
    assert "manifest is not available" in card and "Status unknown" in card


def test_command_reconstruction():
    d = {"model": "cnn", "corpus": "combined", "epochs": 10, "threads": 1, "specaugment": False, "split": "fold",
         "fold": 2, "embedding": "yamnet"}
    assert train_command(d) == ("python -m babycry_core train --model cnn --corpus combined --epochs 10 --threads 1 "
                                "--no-augment --fold 2 --embedding yamnet")
    assert train_command({"model": "two_stage", "family": "cv"}).endswith("--model two_stage --cv")


@pytest.mark.parametrize("cfg", [
    {"family": "yamnet", "yamnet": {"model_key": "yamnet.tflite#469be6a3421cbc52"}},
    {"family": "torch", "features": {"frontend": "yamnet"},
     "pretrained_status": "YAMNet AudioSet weights from yamnet.tflite#469be6a3421cbc52 (Apache-2.0)"},
    {"family": "classical", "embedding_source": {"kind": "yamnet", "yamnet": {"model_key": "yamnet.tflite#469be6a3"}}},
])
def test_a_yamnet_card_names_the_weights_and_their_licence(cfg):
    from babycry_core.runs.model_card import _yamnet_source

    [line] = _yamnet_source(cfg)
    assert "yamnet.tflite#469be6a3" in line and "Apache-2.0" in line and "data link" in line
    assert _yamnet_source({"family": "torch", "features": {}}) == []

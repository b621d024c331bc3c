"""Training end to end on a tiny generated corpus: run folder, early stopping, determinism, round trip."""

import numpy as np
import pytest

from babycry_core import fileio
from babycry_core.runs import run_registry as runs
from babycry_core.runs.checkpoint import load
from babycry_core.app.answer import classify
from babycry_core.inference.predictor import load_predictor
from tests.conftest import tiny_train_config


def test_run_folder_is_self_describing(trained_run):
    for f in ("config.json", "feature_config.json", "labels.json", "model.safetensors", "history.jsonl",
              "metrics.json", "status.json", "calibration.json"):
        assert (trained_run / f).exists(), f
    assert runs.run_info(trained_run).status == "finished"
    events = runs.read_events(trained_run)
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert epochs and {"train_loss", "val_loss", "val_macro_f1", "time"} <= set(epochs[0])
    m = fileio.read_json(trained_run / "metrics.json")
    assert {"macro_f1", "macro_f1_ci", "balanced_accuracy", "baseline", "confusion_matrix", "per_class"} <= set(m)
    assert fileio.read_json(trained_run / "labels.json") == ["discomfort", "hungry", "tired"]


def test_no_test_clip_was_trained_on(trained_run, tiny_data):
    manifest, splits = tiny_data
    m = fileio.read_json(trained_run / "metrics.json")
    assert set(m["test_clip_ids"]) == set(splits["fixed"]["test"])
    assert not set(m["test_clip_ids"]) & set(splits["fixed"]["train"])


def test_round_trip_checkpoint_to_predict(trained_run, wav_file):
    loaded = load(trained_run)  # from the folder alone
    assert loaded.labels == ["discomfort", "hungry", "tired"]
    p = load_predictor(trained_run).predict(wav_file)
    assert p.label in loaded.labels and 0 < p.confidence <= 1
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    [q] = classify([wav_file], run=trained_run, engine="torch")
    assert q.probabilities == p.probabilities


def test_the_tiny_model_learns(tiny_data):
    """Classes are separable synthetic signals: the model must beat the majority baseline clearly."""
    from babycry_core.training.loop import fit

    run = fit(tiny_train_config(epochs=12, mixup=0.0, patience=12), progress=False)
    m = fileio.read_json(run / "metrics.json")
    assert m["macro_f1"] > m["baseline"]["macro_f1"] + 0.3


def test_same_seed_same_weights(tiny_data):
    from safetensors.torch import load_file

    from babycry_core.training.loop import fit

    a = fit(tiny_train_config(epochs=2), progress=False)
    b = fit(tiny_train_config(epochs=2), progress=False)
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert all(np.array_equal(wa[k].numpy(), wb[k].numpy()) for k in wa)


def test_early_stopping_stops(tiny_data):
    from babycry_core.training.loop import fit

    run = fit(tiny_train_config(epochs=30, patience=1, lr=0.0), progress=False)  # lr 0: barely changes
    epochs = [e for e in runs.read_events(run) if e["event"] == "epoch"]
    assert len(epochs) < 30
    assert epochs[-1]["epoch"] == epochs[-1]["best_epoch"] + 1  # stopped one epoch after its best


def test_unknown_model_fails_before_work(tiny_data):
    from babycry_core.models import UnknownModelError
    from babycry_core.training.loop import fit

    with pytest.raises(UnknownModelError):
        fit(tiny_train_config(model="nope"), progress=False)


def test_cross_validation_over_grouped_folds(tiny_data):
    from babycry_core.training.cv import cross_validate

    s = cross_validate(tiny_train_config(epochs=1), progress=False)
    assert s["folds"] == 3 and len(s["per_fold"]) == 3
    assert {"mean", "std"} <= set(s["macro_f1"])
    assert s["pooled"]["n"] == len(tiny_data[0])  # every clip tested exactly once


def test_cross_validation_as_a_run_folder(tiny_data, tmp_path):
    from babycry_core.training.cv import cross_validate

    run_dir = runs.new_run_dir("cnn")
    cross_validate(tiny_train_config(epochs=1), out_root=run_dir, progress=False)
    info = runs.run_info(run_dir)
    assert info.status == "finished" and info.is_cv and not info.usable
    assert info.metrics["n"] == len(tiny_data[0]) and "cv" in info.metrics
    assert [r.run_id for r in runs.list_runs()] == [run_dir.name]  # folds live inside, not beside
    assert [e["fold"] for e in runs.read_events(run_dir) if e["event"] == "fold"] == [1, 2, 3]


def test_flat_model_on_the_combined_corpus_learns_nine_classes(tmp_path, monkeypatch):
    """Any registry model trained on the combined corpus: every class but cry_unknown (gate-only)."""
    from tests.conftest import shared_or_skip

    from babycry_core.data import linking, manifest as data
    from babycry_core.features.config import FeatureConfig
    from babycry_core.training.loop import TrainConfig, load_split_features

    shared_or_skip("giulbia")
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "data"))
    linking.link_corpus()
    data.prepare("combined", progress=False)
    cfg = TrainConfig(corpus="combined", features=FeatureConfig(clip_seconds=1.0).to_dict())
    labels, parts = load_split_features(cfg, progress=False)
    assert len(labels) == 9 and "cold_hot" in labels and "laugh" in labels and data.UNKNOWN_CRY not in labels
    assert not set(parts["test"][2]["label"]) - set(labels)

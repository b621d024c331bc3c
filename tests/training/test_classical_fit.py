"""SVM and XGBoost on every embedding source (handcrafted, a CNN run's penultimate layer, YAMNet via the
stand-in), trained on the saved split, saved as run folders that rebuild the whole chain on their own."""
from __future__ import annotations

import json

import numpy as np
import pytest

from babycry_core import fileio
from babycry_core.runs import embeddings
from babycry_core.runs import run_registry as runs
from babycry_core.audio import synth
from babycry_core.runs.checkpoint import load
from babycry_core.runs.family import family
from babycry_core.runs.run_folder import RunFolder
from babycry_core.data.manifest import resolve_path
from babycry_core.features.config import FeatureConfig
from babycry_core.inference.predictor import Predictor
from babycry_core.models import get_spec, model_names
from tests.conftest import TINY_FEATURES, tiny_train_config
from tests.features.test_yamnet import standin_yamnet, use_standin  # noqa: F401 (fixtures)

KINDS = ("svm", "xgboost")


def _check_run(run, kind, tiny_data, source_kind):
    """The run folder protocol, the saved split, and the round trip through checkpoint.load + Predictor."""
    manifest, splits = tiny_data
    for f in ("config.json", "feature_config.json", "labels.json", "calibration.json", "metrics.json",
              "status.json", "history.jsonl", "split.json"):
        assert (run / f).exists(), f
    info = runs.run_info(run)
    assert info.status == "finished", info.message
    cfg = fileio.read_json(run / "config.json")
    assert cfg["family"] == "classical" and cfg["model"] == kind
    assert cfg["embedding_source"]["kind"] == source_kind
    assert cfg["search"]["cv"].startswith(("StratifiedGroupKFold", "GroupKFold")) and cfg["search"]["best_params"]
    events = runs.read_events(run)
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"
    # the saved split was used: what fit recorded is the fixed split, and no test clip was trained on
    split = fileio.read_json(run / "split.json")
    assert split == {p: splits["fixed"][p] for p in ("train", "val", "test")}
    assert not set(split["test"]) & set(split["train"]) and cfg["n_train"] == len(split["train"])
    m = fileio.read_json(run / "metrics.json")
    assert m["test_clip_ids"] == split["test"]
    assert {"macro_f1", "balanced_accuracy", "baseline", "confusion_matrix", "ece_after"} <= set(m)
    assert fileio.read_json(run / "calibration.json")["fit_on"] == "validation"
    # round trip: reload from the folder alone; the Predictor reproduces the answers recorded at training
    loaded = load(run)
    assert hasattr(loaded.model, "window_logits")
    pred = Predictor(loaded)
    by_id = manifest.set_index("clip_id")
    for cid, conf, lab in zip(m["test_clip_ids"], m["test_confidence"], m["test_predictions"]):
        q = pred.predict(resolve_path(by_id.loc[cid, "path"]))
        assert q.label == lab and q.confidence == pytest.approx(conf, abs=2e-4)
        assert sum(q.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    again = Predictor(load(run)).predict(resolve_path(by_id.loc[m["test_clip_ids"][0], "path"]))
    first = pred.predict(resolve_path(by_id.loc[m["test_clip_ids"][0], "path"]))
    assert again.probabilities == first.probabilities
    files = set(cfg["files"])
    assert not [f for f in run.rglob("*") if f.suffix in (".joblib", ".pkl", ".pt")]  # no pickle anywhere
    if kind == "xgboost":
        assert {"xgboost.json", "scaler.json"} <= files
        model_json = json.loads((run / "xgboost.json").read_text())
        assert "learner" in model_json
    else:
        assert "svm.skops" in files  # skops, loaded against the trusted-types list
    return cfg, m


def test_registry_lists_the_classical_models():
    from babycry_core.training.classical_fit import HEADS

    assert {"svm", "xgboost"} <= set(model_names("classical"))
    for n in ("svm", "xgboost"):
        spec = get_spec(n)
        assert spec.description and "grid" in spec.params and n in HEADS
    assert spec.build(3).named_steps["scaler"] is not None  # a scikit-learn Pipeline (its tables: test_families.py)


def test_handcrafted_features_are_named_and_band_limited():
    cfg = FeatureConfig(**TINY_FEATURES)
    names = embeddings.handcrafted_names(cfg)
    v = embeddings.handcrafted(synth.cry_sweep(2.0, 8000), cfg)
    assert v.shape == (len(names),) == (110,) and np.isfinite(v).all()
    assert "mfcc3_mean" in names and "mfcc0_delta_std" in names and len(set(names)) == len(names)
    assert any(n.startswith("band7_") and n.endswith("Hz_max") for n in names)
    silent = embeddings.handcrafted(np.zeros(16000, np.float32), cfg)
    assert np.isfinite(silent).all()
    # one function for every source, windows (arrays) or clips (paths)
    E = embeddings.embed("handcrafted", [synth.cry_sweep(2.0, 8000), synth.white_noise(2.0, 8000)], cfg)
    assert E.shape == (2, 110)


@pytest.mark.parametrize("kind", KINDS)
def test_handcrafted(kind, tiny_data, wav_file):
    from babycry_core.training.fit import fit

    run = fit(tiny_train_config(model=kind, embedding="handcrafted"), progress=False)
    cfg, m = _check_run(run, kind, tiny_data, "handcrafted")
    assert m["macro_f1"] > m["baseline"]["macro_f1"]  # separable synthetic classes
    assert cfg["embedding_source"]["feature_names"][:2] == ["mfcc0_mean", "mfcc0_std"]
    assert cfg["band_hz"] == [50.0, 4000.0]
    if kind == "xgboost":
        from babycry_core.runs.embedding_models import feature_contributions
        from babycry_core.audio import decode as audio

        loaded = load(run)
        y = audio.load(wav_file, loaded.feature_config.sample_rate)
        contrib = feature_contributions(loaded, y)
        names = [n for n, _ in contrib]
        assert len(contrib) == 110 and set(names) == set(embeddings.handcrafted_names(loaded.feature_config))
        assert abs(contrib[0][1]) >= abs(contrib[-1][1]) and any(c != 0 for _, c in contrib)
    else:
        # the model file is only read when its sha256 matches: a tampered file is refused, and listed as damaged
        with open(run / "svm.skops", "ab") as f:
            f.write(b"tampered")
        assert runs.run_info(run).status == "corrupt"
        with pytest.raises(ValueError, match="sha256"):
            family("classical").load(RunFolder(run))  # checks too


def test_cnn_penultimate_layer(trained_run, tiny_data):
    import shutil

    from babycry_core.training.fit import fit

    out = {}
    for kind in KINDS:
        run = fit(tiny_train_config(model=kind, embedding=trained_run.name), progress=False)
        cfg, _ = _check_run(run, kind, tiny_data, "cnn")
        src = cfg["embedding_source"]
        assert src["run_id"] == trained_run.name and src["path"] == "embedder"
        assert (run / "embedder" / "model.safetensors").read_bytes() == (trained_run / "model.safetensors").read_bytes()
        assert fileio.read_json(run / "feature_config.json") == fileio.read_json(trained_run / "feature_config.json")
        assert cfg["n_features"] == 128  # the base CNN's penultimate width
        assert src["test_clips_seen_by_embedder"] == 0  # the CNN was trained on the same split
        out[kind] = run
    # the folder stands alone: the source CNN run can go away
    wav = resolve_path(tiny_data[0]["path"].iloc[0])
    before = {k: Predictor(load(r)).predict(wav).probabilities for k, r in out.items()}
    shutil.rmtree(trained_run)
    assert {k: Predictor(load(r)).predict(wav).probabilities for k, r in out.items()} == before


def test_yamnet_embeddings(tiny_data, use_standin):  # noqa: F811 (fixture)
    from babycry_core.training.fit import fit

    for kind in KINDS:
        run = fit(tiny_train_config(model=kind, embedding="yamnet"), progress=False)
        cfg, _ = _check_run(run, kind, tiny_data, "yamnet")
        assert cfg["embedding_source"]["handle"] == str(use_standin)
        assert cfg["embedding_source"]["band_hz"] == [0.0, 4000.0] and cfg["n_features"] == 2048


def test_evaluate_and_grouped_cv(tiny_data):
    from babycry_core.training.cv import cross_validate
    from babycry_core.training.evaluate_runs import evaluate_run
    from babycry_core.training.fit import fit

    run = fit(tiny_train_config(model="svm"), progress=False)
    m = fileio.read_json(run / "metrics.json")
    assert evaluate_run(run)["macro_f1"] == pytest.approx(m["macro_f1"])
    s = cross_validate(tiny_train_config(model="xgboost"), progress=False)
    assert s["folds"] == 3 and s["pooled"]["n"] == len(tiny_data[0])  # every clip tested once, same folds


def test_unknown_embedding_run_is_a_clear_error(tiny_data):
    from babycry_core.training.fit import fit

    with pytest.raises(FileNotFoundError, match="no run 'nope'"):
        fit(tiny_train_config(model="svm", embedding="nope"), progress=False)

"""The accuracy leaderboard (`bench accuracy`): a tiny 2-model x 3-fold x 2-protocol sweep, resume, "not run"."""
from __future__ import annotations

import json

import pytest

from tests.conftest import tiny_train_config

COLUMNS = ("macro-F1 mean ± std", "pooled macro-F1 [95 % CI]", "pooled balanced accuracy", "pooled accuracy",
           "random-split macro-F1 (leaky)", "training s", "params", "checkpoint MB")


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    from babycry_core.bench import leaderboard_report

    monkeypatch.setattr(leaderboard_report, "N_BOOT", 100)  # the intervals' width is not what these tests check


def _sweep(models, **kw):
    from babycry_core.bench import leaderboard

    return leaderboard.run(["donateacry"], models, folds=3, base=tiny_train_config(), epochs=1, threads=1,
                           progress=False, **kw)


@pytest.fixture
def counted_fit(monkeypatch):
    """Counts fitting.fit calls (the leaderboard's only way to train)."""
    from babycry_core.training import fit as fitting

    calls = []
    real = fitting.fit

    def fit(cfg, run_dir=None, **kw):
        calls.append((cfg.model, cfg.protocol, cfg.fold))
        return real(cfg, run_dir, **kw)

    monkeypatch.setattr(fitting, "fit", fit)
    return calls


def test_tiny_sweep_writes_board_and_resumes(tiny_data, counted_fit):
    from babycry_core import paths

    manifest, splits = tiny_data
    board = _sweep(["cnn", "svm"])
    assert len(counted_fit) == 2 * 3 * 2  # models x folds x protocols
    sec = board["corpora"]["donateacry"]
    for model in ("cnn", "svm"):
        row = sec["models"][model]
        assert row["status"] == "done"
        for protocol in ("grouped", "random"):
            s = row[protocol]
            assert s["folds"] == 3 and s["pooled"]["n"] == len(manifest)  # every clip tested exactly once
            assert set(s["macro_f1"]) == {"mean", "std"} and len(s["pooled"]["macro_f1_ci"]) == 2
            assert s["train_seconds"] > 0 and s["n_params"] and s["checkpoint_mb"] > 0
    # baseline: the majority class of each fold's training part, scored on that fold's test part
    from babycry_core.data import manifest as data
    from babycry_core.eval.metrics import majority_baseline

    for protocol in ("grouped", "random"):
        base = sec["baseline"][protocol]
        assert len(base["per_fold"]) == 3 and base["pooled"]["n"] == len(manifest)
        for b in base["per_fold"]:
            train, val, test = data.split_frames("donateacry", "fold", b["fold"], protocol)
            ref = majority_baseline(test["label"], sec["classes"], list(train["label"]) + list(val["label"]))
            assert b["label"] == ref["label"] and b["macro_f1"] == pytest.approx(ref["macro_f1"])
    assert sec["tried"] and all("beats_baseline" in t for t in sec["tried"])
    out = paths.results_dir() / "leaderboard.json"
    assert json.loads(out.read_text())["corpora"]["donateacry"]["models"]["cnn"]["status"] == "done"
    md = out.with_suffix(".md").read_text()
    assert all(c in md for c in COLUMNS) and "| cnn |" in md and "| majority baseline |" in md
    assert "What we tried" in md
    folds = sorted((paths.results_dir() / "runs" / "leaderboard").rglob("result.json"))
    assert len(folds) == 12
    mtimes = [f.stat().st_mtime_ns for f in folds]

    # resume: nothing is retrained, the board is the same
    counted_fit.clear()
    again = _sweep(["cnn", "svm"])
    assert counted_fit == []
    assert [c["folds_trained"] for c in again["run"]["invocations"]] == [12, 0]
    assert [f.stat().st_mtime_ns for f in folds] == mtimes
    assert again["corpora"]["donateacry"]["models"]["cnn"]["grouped"]["pooled"]["macro_f1"] == \
        sec["models"]["cnn"]["grouped"]["pooled"]["macro_f1"]

    # an interrupted sweep: a missing fold result is redone, and only that one
    folds[0].unlink()
    _sweep(["cnn", "svm"])
    assert len(counted_fit) == 1


def test_unavailable_model_is_reported_not_scored(tiny_data, monkeypatch):
    from babycry_core import paths
    from babycry_core.bench import leaderboard
    from babycry_core.features.yamnet import YamnetUnavailable
    from babycry_core.runs.family import family

    def no_weights(cfg, run_dir=None, **kw):
        raise YamnetUnavailable("YAMNet could not be loaded from https://tfhub.dev/google/yamnet/1 (no network?).")

    monkeypatch.setattr(family("yamnet"), "fit", no_weights)
    board = _sweep(["cnn", "yamnet"], protocols=("grouped",))
    row = board["corpora"]["donateacry"]["models"]["yamnet"]
    assert row["status"] == leaderboard.NOT_RUN_WEIGHTS and "grouped" not in row
    assert board["run"]["failed_models"] == 0
    md = (paths.results_dir() / "leaderboard.md").read_text()
    assert "| yamnet | not run: weights unavailable |" in md


def test_parse_model_variants():
    from babycry_core.bench.leaderboard import parse_model

    assert parse_model("cnn") == ("cnn", {})
    assert parse_model("cnn:balance=loss,mixup=0,specaugment=false") == \
        ("cnn", {"balance": "loss", "mixup": 0.0, "specaugment": False})
    with pytest.raises(ValueError):
        parse_model("cnn:fold=2")


@pytest.mark.slow  # 23 s; test_backends.py::test_ray_matches_local keeps Ray in the default suite
def test_ray_backend_matches_local(tiny_data, tmp_path):
    """A 2-model x 2-fold sweep as Ray tasks on a local cluster gives the local backend's results."""
    pytest.importorskip("ray", reason="Ray is the optional scale-out extra (requirements-scale.txt)")
    from babycry_core.bench import leaderboard

    kw = dict(folds=2, protocols=("grouped",), base=tiny_train_config(), epochs=1, threads=1, progress=False)
    local = leaderboard.run(["donateacry"], ["cnn", "svm"], out=tmp_path / "local.json", **kw)
    remote = leaderboard.run(["donateacry"], ["cnn", "svm"], out=tmp_path / "ray.json", resume=False,
                             backend="ray", **kw)
    for model in ("cnn", "svm"):
        a = local["corpora"]["donateacry"]["models"][model]["grouped"]
        b = remote["corpora"]["donateacry"]["models"][model]["grouped"]
        assert a["folds"] == b["folds"] == 2
        assert a["pooled"]["macro_f1"] == pytest.approx(b["pooled"]["macro_f1"], abs=1e-9)
        assert a["macro_f1"] == pytest.approx(b["macro_f1"], abs=1e-9)
    assert remote["run"]["failed_models"] == 0

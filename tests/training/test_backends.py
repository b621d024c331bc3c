"""Job backends: local and Ray give the same results; failures are retried once then reported."""
import sys

import pytest

from babycry_core.training.backends import BackendUnavailable, run_jobs

CALLS = {}


def square(job):
    return {"job": job, "value": job * job}


def flaky(job):
    if job == 3:
        raise RuntimeError("boom")
    return job


def test_local_backend_retries_then_reports(tmp_path):
    seen = []
    out = run_jobs(flaky, range(5), retries=1, on_result=lambda j, r: seen.append(j))
    results = dict(out)
    assert results[3]["error"].startswith("RuntimeError") and results[3]["attempts"] == 2
    assert [results[j] for j in (0, 1, 2, 4)] == [0, 1, 2, 4] and sorted(seen) == [0, 1, 2, 3, 4]


def test_missing_ray_gives_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(BackendUnavailable, match="requirements-scale.txt"):
        run_jobs(square, [1], backend="ray")


def test_unknown_backend():
    with pytest.raises(ValueError, match="local, ray"):
        run_jobs(square, [1], backend="slurm")


def test_ray_matches_local(monkeypatch):
    pytest.importorskip("ray", reason="Ray is the optional scale-out extra (requirements-scale.txt)")
    monkeypatch.setenv("PYTHONPATH", str(__import__("pathlib").Path(__file__).parents[2]))  # workers import tests.training.test_backends
    local = dict(run_jobs(square, range(6)))
    ray_out = dict(run_jobs(square, range(6), backend="ray", num_cpus=2))
    assert ray_out == local
    failed = dict(run_jobs(flaky, range(5), backend="ray", num_cpus=2))
    assert "error" in failed[3] and failed[4] == 4


def test_feature_caching_as_jobs(tiny_data, monkeypatch, tmp_path):
    from babycry_core.features.config import FeatureConfig
    from babycry_core.training.precompute import cache_corpus_features

    monkeypatch.setenv("BABYCRY_CACHE", str(tmp_path / "cache"))
    cfg = FeatureConfig(clip_seconds=2.0)
    res = cache_corpus_features("donateacry", cfg, chunk=10, progress=False)
    assert res["cached"] == res["clips"] == len(tiny_data[0]) and not res["failed"]
    assert len(list((tmp_path / "cache" / "features").glob("*.npy"))) == len(tiny_data[0])

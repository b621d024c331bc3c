"""Where independent jobs run: `local` (in this process, one after another) or `ray` (a local or existing
Ray cluster). The leaderboard's models x folds sweep and the feature caching of a large corpus are lists
of independent jobs; a backend runs them and hands each result back as it completes, so finished work is
persisted at once and an interrupted sweep resumes where it stopped.

Ray is an optional extra (`pip install -r requirements-scale.txt`); asking for it without it installed
gives a clear message, not an ImportError.
"""
from __future__ import annotations

import os
import traceback
from typing import Callable, Iterable

BACKENDS = ("local", "ray")


class BackendUnavailable(RuntimeError):
    pass


def _require_ray():
    try:
        import ray
    except ImportError:
        raise BackendUnavailable("the ray backend needs Ray: pip install -r requirements-scale.txt "
                                 "(or use --backend local, the default)") from None
    return ray


def run_jobs(fn: Callable, jobs: Iterable, *, backend: str = "local", address: str | None = None,
             retries: int = 1, on_result: Callable | None = None, num_cpus: int | None = None) -> list:
    """Run fn(job) for every job. Returns [(job, result or {"error": ...})] in completion order.

    A job that raises is retried `retries` times, then reported as failed; the others still run.
    `on_result(job, result)` is called as each job completes (persist results there).
    """
    jobs = list(jobs)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "ray":
        return _run_ray(fn, jobs, address, retries, on_result, num_cpus)
    out = []
    for job in jobs:
        result = _with_retries(fn, job, retries)
        if on_result:
            on_result(job, result)
        out.append((job, result))
    return out


def _with_retries(fn, job, retries: int):
    for attempt in range(retries + 1):
        try:
            return fn(job)
        except Exception as e:  # a failed job must not lose the finished ones
            err = {"error": f"{type(e).__name__}: {e}", "attempts": attempt + 1,
                   "traceback": traceback.format_exc(limit=3)}
    return err


def _run_ray(fn, jobs, address, retries, on_result, num_cpus):
    ray = _require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        kw = {"address": address} if address else {"num_cpus": num_cpus or os.cpu_count(), "include_dashboard": False}
        # workers must import babycry_core from this checkout, and see the same data/cache folders
        env = {k: v for k, v in os.environ.items() if k.startswith("BABYCRY_")}
        from babycry_core import paths

        ray.init(ignore_reinit_error=True, log_to_driver=False,
                 runtime_env={"env_vars": {**env, "PYTHONPATH": os.pathsep.join(
                     [str(paths.ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}}, **kw)
    try:
        remote = ray.remote(num_cpus=1, max_retries=retries)(lambda job: _with_retries(fn, job, retries))
        pending = {remote.remote(job): job for job in jobs}
        out = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # worker died twice: report, keep the rest
                    result = {"error": f"{type(e).__name__}: {e}"}
                if on_result:
                    on_result(job, result)
                out.append((job, result))
        return out
    finally:
        if started_here:
            ray.shutdown()

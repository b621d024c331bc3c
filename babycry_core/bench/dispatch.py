"""`python -m babycry_core bench KIND ...`: the options the benchmark kinds share, and one registry from a kind to
its main. Each kind's module is imported only when that kind runs, so `bench --help` imports no benchmark.

    speed      bench/speed.py            per-clip latency, throughput, a training epoch and memory; YAMNet per engine
    accuracy   bench/leaderboard.py      the leaderboard: every model on grouped and random folds
    load       bench/load.py             concurrent classify requests on one shared predictor
    cry        bench/cry.py              the cry detector against its anchors on grouped folds
    serve      bench/serve.py            the HTTP API under 1-8 clients
    export     bench/serve.py            one prediction with onnxruntime against torch
    episodes   bench/episodes_bench.py   crying episodes over synthetic nights from held-out folds; detect's speed
    startup    bench/startup.py          --help and predict, each in fresh processes
    upload     bench/upload.py           the upload answer on grouped folds and of the shipped run
"""
from __future__ import annotations

import argparse
from typing import Callable

from babycry_core.bench import startup

DEFAULT_REPEATS = 20  # every kind but startup, which has its own (startup.DEFAULT_REPEATS fresh processes)


def _speed(a) -> int:
    from babycry_core.bench import speed

    return speed.main(a)


def _accuracy(a) -> int:
    from babycry_core.bench.leaderboard import run_accuracy  # the model x fold sweep

    return run_accuracy(a)


def _load(a) -> int:
    from babycry_core.bench import load

    return load.main(a)


def _cry(a) -> int:
    from babycry_core.bench import cry

    return cry.main(a)


def _serve(a) -> int:  # serve and export
    from babycry_core.bench import serve

    return serve.main(a)


def _episodes(a) -> int:
    from babycry_core.bench import episodes_bench

    return episodes_bench.main(a)


def _startup(a) -> int:
    return startup.main(a)


def _upload(a) -> int:
    from babycry_core.bench import upload

    return upload.main(a)


# kind -> its main(args) -> exit status; the order is the one `bench --help` lists
KINDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "speed": _speed, "accuracy": _accuracy, "load": _load, "cry": _cry, "serve": _serve, "export": _serve,
    "episodes": _episodes, "startup": _startup, "upload": _upload,
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `bench` subcommand's arguments: the kind, the options the kinds share, then startup's own."""
    p.add_argument("kind", choices=list(KINDS),
                   help="speed: per-clip latency; accuracy: the leaderboard; load: concurrent classify requests; "
                        "cry: the cry detector against its anchors on grouped folds; serve: the HTTP API under "
                        "1-8 clients; export: one prediction with onnxruntime against torch; episodes: crying "
                        "episodes over synthetic nights from held-out folds, and detect's speed on a long file; startup: "
                        "whole-process time and memory of --help and predict, in fresh processes; upload: the upload "
                        "answer (crying / not sure / not a cry) of the shipped recipe and the anchors on grouped folds, "
                        "and of the shipped run on its own test part")
    p.add_argument("--run", default=None, help="load: run id or folder (default: the app's default checkpoint)")
    p.add_argument("--models", nargs="+", default=None,
                   help="registry names (default: all torch models); episodes: the `bench cry` fold run to evaluate "
                        "(results/cry_bench/fold<k>/NAME/, plain or fused; default cry_detector)")
    p.add_argument("--repeats", type=int, default=None, help="default: 20 (startup: 5 fresh processes each)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--corpus", nargs="+", default=["donateacry"], help="accuracy: donateacry and/or combined")
    p.add_argument("--epochs", type=int, default=None, help="accuracy: one epoch budget for every model "
                   "(default: the per-model budgets in leaderboard.BUDGETS)")
    p.add_argument("--protocols", nargs="+", choices=["grouped", "random"], default=["grouped", "random"],
                   help="accuracy: grouped folds (by baby, honest) and/or random folds (by file, leaky)")
    p.add_argument("--threads", type=int, default=2, help="accuracy: torch threads per training run")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="accuracy: reuse the finished folds under results/runs/leaderboard/")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="accuracy: run the models x folds jobs here (default) or as Ray tasks (requirements-scale.txt)")
    p.add_argument("--address", default=None, help="accuracy: an existing Ray cluster (default with ray: a local one)")
    p.add_argument("--only-folds", type=int, nargs="+", default=None,
                   help="cry: work on these folds only (another process may take the others)")
    p.add_argument("--cached-only", action="store_true",
                   help="cry: train nothing; report the folds that every model has finished (results/cry_bench/)")
    p.add_argument("--out", default=None, help="JSON output (default: results/bench_<kind>.json)")
    startup.add_arguments(p)


def run(a: argparse.Namespace) -> int:
    """Run the benchmark `a.kind` with the parsed arguments; its exit status."""
    if a.kind != "startup" and a.repeats is None:
        a.repeats = DEFAULT_REPEATS
    return KINDS[a.kind](a)

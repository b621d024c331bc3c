"""Training. A `TrainConfig` is everything one run is told; every front end builds one and hands it here:

    train(config, run_dir=None)      fit here and now; the run folder
    cross_validate(config, run_dir)  every grouped fold; the summary (run_dir: a "cv" run folder, as the Train page)
    launch(config, cv=False)         the same in its own process (app.worker), which writes its PID, log and
                                     progress into a new run folder; returns that folder at once
    stop(run), log_tail(run)         the Stop button, and the last lines of a run's log

The launched process reads its TrainConfig from the run's status.json (the launch request, as JSON); no CLI flags.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from babycry_core.runs.train_config import TrainConfig, train_command

__all__ = ["TrainConfig", "YamnetUnavailable", "cross_validate", "launch", "log_tail", "request", "stop", "train",
           "train_command"]

WORKER = "babycry_core.app.worker"


def __getattr__(name):  # YamnetUnavailable without importing the YAMNet module until asked
    if name == "YamnetUnavailable":
        from babycry_core.features.yamnet_errors import YamnetUnavailable

        return YamnetUnavailable
    raise AttributeError(name)


def train(config: TrainConfig, run_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Train config.model (any family) into run_dir (default: a new folder under checkpoints/); the folder."""
    from babycry_core.training.fit import fit

    return fit(config, Path(run_dir) if run_dir else None, progress=progress)


def cross_validate(config: TrainConfig, run_dir: Path | None = None, *, progress: bool = True) -> dict:
    """Train and test on every grouped fold; the summary (mean ± std, pooled). run_dir: the folds go into it and
    it becomes a finished "cv" run; None: results/cv/."""
    from babycry_core.training.cv import cross_validate as cv

    return cv(config, out_root=Path(run_dir) if run_dir else None, progress=progress)


def launch(config: TrainConfig, *, cv: bool = False, root: Path | None = None) -> Path:
    """Start training config (cv: cross-validation) in its own process group; return its new run folder at once."""
    from babycry_core.runs import launcher, run_registry as runs

    run_dir = runs.new_run_dir(config.model, root)
    runs.set_status(run_dir, "launching", started=time.time(), model=config.model,
                    config=dataclasses.asdict(config), cv=bool(cv))
    launcher.start(run_dir, [sys.executable, "-m", WORKER, str(run_dir)])
    return run_dir


def request(run_dir: Path) -> tuple[TrainConfig, bool]:
    """(the TrainConfig, cv) a launched run was started with, from its status.json."""
    from babycry_core.runs.run_folder import RunFolder

    status = RunFolder(run_dir).status
    if not isinstance(status.get("config"), dict):
        raise ValueError(f"{Path(run_dir).name} holds no launch request (a TrainConfig in its status)")
    return TrainConfig.from_dict(status["config"]), bool(status.get("cv"))


def stop(run) -> str:
    """Ask a run's training process to stop (it saves its best epoch and marks itself "stopped"); its status."""
    from babycry_core.runs import launcher

    return launcher.stop(Path(run))


def log_tail(run, n: int = 20) -> str:
    from babycry_core.runs import launcher

    return launcher.tail_log(Path(run), n)

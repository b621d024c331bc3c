"""Re-evaluation of a saved run on the test part of the split it was trained on, by the run's family (its
`evaluate`: runs.family); used by `python -m babycry_core evaluate RUN` and the leaderboard. The torch and
embedding evaluators here are what the families' `evaluate` parts call."""
from __future__ import annotations

import os
from pathlib import Path

from babycry_core.runs.family import family_of
from babycry_core.runs.run_folder import RunFolder, recorded_family
from babycry_core.runs.writer import test_metrics


def evaluate_run(run_dir: Path | RunFolder | os.PathLike) -> dict:
    """Re-evaluate a run on the test part of the split it was trained on; rewrite its metrics.json."""
    folder = RunFolder.of(run_dir)
    config = folder.config
    found = family_of(config)
    if found is None:
        raise ValueError(f"run {folder.name}: a {recorded_family(config)!r} run has no model to evaluate")
    metrics = found.evaluate(folder)
    folder.write(RunFolder.METRICS, metrics)
    return metrics


def evaluate_torch(run_dir: Path | RunFolder) -> dict:
    """A torch run: its network on the log-mel features of its test part."""
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.loop import TrainConfig, load_split_features, predict_logits

    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    labels, parts = load_split_features(cfg, labels=loaded.labels)
    X, y, frame = parts["test"]
    return test_metrics(predict_logits(loaded.model, X), y, labels, loaded.calibration, frame["clip_id"].tolist())


def evaluate_embedding(run_dir: Path | RunFolder) -> dict:
    """classical and yamnet runs: the test part of their own split, embeddings cached per clip."""
    from babycry_core.data.manifest import split_clips
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.loop import TrainConfig

    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    labels, parts = split_clips(cfg, labels=loaded.labels)
    clip_paths, y, frame = parts["test"]
    return test_metrics(loaded.model.clip_logits(clip_paths), y, labels, loaded.calibration, frame["clip_id"].tolist())

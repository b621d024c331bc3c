"""Re-evaluation of a saved run on the test part of the split it was trained on: each run family's evaluator
(EVALUATORS), used by `python -m babycry_core evaluate RUN` and the leaderboard."""
from __future__ import annotations

from pathlib import Path

from babycry_core import fileio
from babycry_core.runs.writer import test_metrics


def evaluate_run(run_dir: Path) -> dict:
    """Re-evaluate a run on the test part of the split it was trained on; rewrite its metrics.json."""
    config = fileio.read_json(Path(run_dir) / "config.json")
    family = config.get("family", "torch")
    if family not in EVALUATORS:
        raise ValueError(f"run {Path(run_dir).name}: a {family!r} run has no model to evaluate")
    metrics = EVALUATORS[family](Path(run_dir))
    fileio.write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


def _evaluate_torch(run_dir: Path) -> dict:
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.loop import TrainConfig, load_split_features, predict_logits

    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    labels, parts = load_split_features(cfg, labels=loaded.labels)
    X, y, frame = parts["test"]
    return test_metrics(predict_logits(loaded.model, X), y, labels, loaded.calibration, frame["clip_id"].tolist())


def _evaluate_embedding(run_dir: Path) -> dict:
    """classical and yamnet runs: the test part of their own split, embeddings cached per clip."""
    from babycry_core.data.manifest import split_clips
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.loop import TrainConfig

    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    labels, parts = split_clips(cfg, labels=loaded.labels)
    clip_paths, y, frame = parts["test"]
    return test_metrics(loaded.model.clip_logits(clip_paths), y, labels, loaded.calibration, frame["clip_id"].tolist())


def _evaluate_two_stage(run_dir: Path) -> dict:
    from babycry_core.training.two_stage_checks import evaluate_metrics

    return evaluate_metrics(run_dir)


EVALUATORS = {"torch": _evaluate_torch, "classical": _evaluate_embedding, "yamnet": _evaluate_embedding,
              "two_stage": _evaluate_two_stage}

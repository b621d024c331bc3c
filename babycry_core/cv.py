"""Evaluation of saved runs, and k-fold cross-validation over the saved grouped folds."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from . import fileio, paths


def evaluate_run(run_dir: Path) -> dict:
    """Re-evaluate a run on the test part of the split it was trained on; rewrite its metrics.json."""
    from .checkpoint import load
    from .inference import Predictor
    from .train import TrainConfig, load_split_features

    config = fileio.read_json(Path(run_dir) / "config.json")
    if config.get("family", "torch") != "torch":  # embedding + classical heads, YAMNet: their own evaluator
        from .models import get_spec

        return get_spec(config["model"]).params["evaluate"](Path(run_dir))
    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    labels, parts = load_split_features(cfg, labels=loaded.labels)
    X, y, frame = parts["test"]
    scorer = Predictor(loaded).scorer
    logits = _logits(scorer, X, loaded)
    metrics = test_metrics(logits, y, labels, loaded.calibration, frame["clip_id"].tolist())
    fileio.write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


def test_metrics(logits: np.ndarray, y: np.ndarray, labels: list[str], cal: dict, clip_ids: list[str]) -> dict:
    """evaluate() + calibration figures + the per-clip answers (Compare's disagreement explorer reads them)."""
    from . import calibration
    from .evaluate import evaluate

    pred = [labels[i] for i in logits.argmax(1)]
    true = [labels[i] for i in y]
    metrics = evaluate(pred, true, classes=labels)
    metrics.update(calibration.report(logits, y, cal))
    metrics.update(test_clip_ids=list(clip_ids), test_predictions=pred, test_labels=true,
                   test_confidence=calibration.softmax(logits, cal["temperature"]).max(1).round(4).tolist())
    return metrics


def _logits(scorer, X: np.ndarray, loaded) -> np.ndarray:
    """Logits for cached log-mel features X (n, 1, n_mels, frames)."""
    from .train import predict_logits

    if hasattr(scorer, "model"):
        return predict_logits(scorer.model, X)
    return scorer.feature_logits(X, loaded.feature_config)


def cross_validate(cfg, n_folds: int | None = None, out_root: Path | None = None, progress: bool = True) -> dict:
    """Train cfg on every grouped fold (test = that fold), then report mean ± std and pooled metrics."""
    from . import data
    from .evaluate import evaluate
    from .train import fit

    splits = data.load_splits(cfg.corpus)
    key = "folds" if cfg.protocol == "grouped" else "random_folds"
    k = n_folds or len(splits[key])
    out_root = out_root or paths.results_dir() / "cv" / f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model}-{cfg.protocol}"
    per_fold, pred, true = [], [], []
    for fold in range(k):
        fold_cfg = dataclasses.replace(cfg, split="fold", fold=fold)
        run_dir = fit(fold_cfg, out_root / f"fold-{fold}", progress=progress)
        m = fileio.read_json(run_dir / "metrics.json")
        per_fold.append({x: m[x] for x in ("macro_f1", "balanced_accuracy", "accuracy")}
                        | {"baseline_macro_f1": m["baseline"]["macro_f1"]})
        pred += m["test_predictions"]
        true += m["test_labels"]
    summary = summarize(per_fold)
    # every clip is tested exactly once over the folds: pool them for one interval
    pooled = evaluate(pred, true, classes=m["classes"])
    summary["pooled"] = {x: v for x, v in pooled.items() if x != "per_class"}
    summary.update(model=cfg.model, corpus=cfg.corpus, protocol=cfg.protocol, folds=k, per_fold=per_fold)
    fileio.write_json(out_root / "summary.json", summary)
    return summary


def summarize(per_fold: list[dict]) -> dict:
    """mean and std of each metric over folds."""
    out = {}
    for key in per_fold[0]:
        vals = np.array([f[key] for f in per_fold], dtype=float)
        out[key] = {"mean": float(np.nanmean(vals)), "std": float(np.nanstd(vals))}
    return out

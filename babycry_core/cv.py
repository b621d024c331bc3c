"""Evaluation of saved runs, and k-fold cross-validation over the saved grouped folds."""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from . import fileio, paths, runs


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
    """Train cfg on every grouped fold (test = that fold), then report mean ± std and pooled metrics.

    With `out_root` a run folder (the Train page's k-fold option), the folds go to out_root/folds/ and
    out_root itself becomes a finished "cv" run whose metrics.json holds the pooled metrics.
    """
    from . import data
    from .evaluate import evaluate
    from .train import fit

    splits = data.load_splits(cfg.corpus)
    key = "folds" if cfg.protocol == "grouped" else "random_folds"
    k = n_folds or len(splits[key])
    as_run = out_root is not None
    out_root = out_root or paths.results_dir() / "cv" / f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model}-{cfg.protocol}"
    folds_dir = out_root / "folds" if as_run else out_root
    if as_run:
        runs.set_status(out_root, "running", pid=os.getpid(), started=time.time(), model=cfg.model)
    per_fold, pred, true = [], [], []
    for fold in range(k):
        fold_cfg = dataclasses.replace(cfg, split="fold", fold=fold)
        try:
            run_dir = fit(fold_cfg, folds_dir / f"fold-{fold}", progress=progress)
        except BaseException as e:
            if as_run:
                runs.set_status(out_root, "failed", ended=time.time(), message=f"fold {fold}: {type(e).__name__}: {e}"[:500])
            raise
        if as_run:
            runs.append_event(out_root, {"event": "fold", "fold": fold + 1, "folds": k, "status": runs.run_info(run_dir).status})
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
    if as_run:
        _write_cv_run(out_root, cfg, k, pooled, summary)
    return summary


def _write_cv_run(out_root: Path, cfg, k: int, pooled: dict, summary: dict) -> None:
    """Make a k-fold sweep a run folder of its own: config (family "cv"), labels, pooled metrics, status last."""
    first = out_root / "folds" / "fold-0"
    fold_cfg = fileio.read_json(first / "config.json")
    fileio.write_json(out_root / "config.json", {**dataclasses.asdict(cfg), "family": "cv", "folds": k,
                                                 "n_params": fold_cfg.get("n_params")})
    for name in ("labels.json", "feature_config.json"):
        fileio.write_json(out_root / name, fileio.read_json(first / name))
    fileio.write_json(out_root / "metrics.json", {**pooled, "cv": {x: summary[x] for x in ("macro_f1", "balanced_accuracy", "accuracy")}})
    runs.append_event(out_root, {"event": "end", "status": "finished"})
    runs.set_status(out_root, "finished", ended=time.time())


def summarize(per_fold: list[dict]) -> dict:
    """mean and std of each metric over folds."""
    out = {}
    for key in per_fold[0]:
        vals = np.array([f[key] for f in per_fold], dtype=float)
        out[key] = {"mean": float(np.nanmean(vals)), "std": float(np.nanstd(vals))}
    return out

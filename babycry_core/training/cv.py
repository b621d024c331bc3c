"""k-fold cross-validation over the saved grouped folds: every family, through training.fit; one summary run."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from babycry_core import paths
from babycry_core.runs import run_registry as runs
from babycry_core.runs.run_folder import RunFolder
from babycry_core.runs.writer import RunWriter


def cross_validate(cfg, n_folds: int | None = None, out_root: Path | None = None, progress: bool = True) -> dict:
    """Train cfg on every grouped fold (test = that fold), then report mean ± std and pooled metrics.

    With `out_root` a run folder (the Train page's k-fold option), the folds go to out_root/folds/ and
    out_root itself becomes a finished "cv" run whose metrics.json holds the pooled metrics.
    """
    from babycry_core.data import manifest as data
    from babycry_core.eval.metrics import evaluate
    from babycry_core.training.fit import fit

    splits = data.load_splits(cfg.corpus)
    key = "folds" if cfg.protocol == "grouped" else "random_folds"
    k = n_folds or len(splits[key])
    as_run = out_root is not None
    out_root = out_root or paths.results_dir() / "cv" / f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model}-{cfg.protocol}"
    folds_dir = out_root / RunFolder.FOLDS if as_run else out_root
    out = RunWriter(out_root, enabled=as_run)  # the k-fold run folder, when there is one
    out.begin(model=cfg.model)
    per_fold, pred, true = [], [], []
    for fold in range(k):
        fold_cfg = dataclasses.replace(cfg, split="fold", fold=fold)
        try:
            run_dir = fit(fold_cfg, folds_dir / f"fold-{fold}", progress=progress)
        except BaseException as e:
            out.fail(e, f"fold {fold}: ")
            raise
        folder = RunFolder(run_dir)
        out.event({"event": "fold", "fold": fold + 1, "folds": k, "status": runs.run_info(folder).status})
        m = folder.read(RunFolder.METRICS)
        per_fold.append({x: m[x] for x in ("macro_f1", "balanced_accuracy", "accuracy")}
                        | {"baseline_macro_f1": m["baseline"]["macro_f1"]})
        pred += m["test_predictions"]
        true += m["test_labels"]
    summary = summarize(per_fold)
    # every clip is tested exactly once over the folds: pool them for one interval
    pooled = evaluate(pred, true, classes=m["classes"])
    summary["pooled"] = {x: v for x, v in pooled.items() if x != "per_class"}
    summary.update(model=cfg.model, corpus=cfg.corpus, protocol=cfg.protocol, folds=k, per_fold=per_fold)
    RunFolder(out_root).write(RunFolder.SUMMARY, summary)
    if as_run:
        _write_cv_run(out, cfg, k, pooled, summary)
    return summary


def _write_cv_run(out: RunWriter, cfg, k: int, pooled: dict, summary: dict) -> None:
    """Make a k-fold sweep a run folder of its own: config (family "cv"), labels, pooled metrics, status last."""
    first = RunFolder(out.run_dir / RunFolder.FOLDS / "fold-0")
    out.config({**dataclasses.asdict(cfg), "family": "cv", "folds": k, "n_params": first.config.get("n_params")})
    for name in (RunFolder.LABELS, RunFolder.FEATURES):
        out.json(name, first.read(name))
    out.metrics({**pooled, "cv": {x: summary[x] for x in ("macro_f1", "balanced_accuracy", "accuracy")}})
    out.end("finished")


def summarize(per_fold: list[dict]) -> dict:
    """mean and std of each metric over folds."""
    out = {}
    for key in per_fold[0]:
        vals = np.array([f[key] for f in per_fold], dtype=float)
        out[key] = {"mean": float(np.nanmean(vals)), "std": float(np.nanstd(vals))}
    return out

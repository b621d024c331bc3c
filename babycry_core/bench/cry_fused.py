"""`bench cry`'s fused candidates: the fold's retrained CNN detector with YAMNet's ear (inference/cry_fusion.py).

    yamnet_windows  YAMNet's window head alone (mode "head"): a head on frozen YAMNet, window by window
    cascade         the CNN screens every window, YAMNet's head confirms only the windows it lets through
    fusion          the CNN's and YAMNet's scores combined by a logistic regression fitted on the fold's validation
                    windows (out-of-fold for both networks)
    distilled       the small CNN trained on the soft outputs of the fold's DISTIL_TEACHER run over all its training
                    windows and their augmented copies (training/distill.py): YAMNet's knowledge at the CNN's speed

Each is a real fused run folder (results/cry_bench/fold<k>/<model>/), scored by the same CryDetector that the app
loads, so the figures are those of the code that ships.
"""
from __future__ import annotations

from babycry_core import paths
from babycry_core.data.corpora import CRY
from babycry_core.runs.run_folder import RunFolder

FUSED = {"yamnet_windows": "head", "cascade": "cascade", "fusion": "fusion"}
DISTIL_TEACHER = "fusion"


def _decide(run_dir):
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.runs.checkpoint import load

    det = CryDetector(load(run_dir))

    def decide(y):
        r = det.detect(y)
        return r.probability, r.detected

    return det, decide


def fused_run(k: int, model: str, cnn_run, prepared, frames, progress: bool):
    """Fold k's fused run folder, fitted (once) on the fold's parts."""
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.cry_fusion_fit import fit_fusion, fuse_run

    run_dir = paths.results_dir() / "cry_bench" / f"fold{k}" / model
    if not RunFolder(run_dir).has(RunFolder.FUSION):
        lab = prepared[2]
        fusion = fit_fusion(CryDetector(load(cnn_run)), lab["train"] + lab["train_aug"],
                            [*lab["train_is_cry"], *lab["train_aug_is_cry"]], lab["val"],
                            (frames["val"]["label"] == CRY).to_numpy(), FUSED[model], seed=k, progress=progress)
        fuse_run(cnn_run, run_dir, fusion, {"bench_fold": k})
    return run_dir


def fold_fused(k: int, model: str, cnn_run, prepared, frames, progress: bool):
    """decide(y) -> (P(cry), called a cry) of fold k's fused run."""
    det, decide = _decide(fused_run(k, model, cnn_run, prepared, frames, progress))
    if det.fusion is None:
        raise RuntimeError(det.fusion_error or f"fold {k}'s {model} did not load its YAMNet side")
    return decide


def fold_distilled(k: int, cnn_run, prepared, frames, epochs: int, progress: bool):
    """decide(y) of fold k's student, distilled from the fold's DISTIL_TEACHER run (both made once)."""
    from babycry_core.training.detector_fit import default_config
    from babycry_core.training.distill import fit_distilled

    teacher = fused_run(k, DISTIL_TEACHER, cnn_run, prepared, frames, progress)
    run_dir = paths.results_dir() / "cry_bench" / f"fold{k}" / "distilled"
    if RunFolder(run_dir).status.get("status") != "finished":
        cfg = default_config(split="fold", fold=k, **({"epochs": epochs} if epochs else {}))
        fit_distilled(cfg, run_dir, teacher, frames, prepared, progress)
    return _decide(run_dir)[1]

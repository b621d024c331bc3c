"""Candidate (d): the small CNN detector distilled from a fused teacher (CNN + YAMNet, inference/cry_fusion.py).

The student is today's cry_detector network on the same 2 s windows, trained by the one loop on *soft* targets:
for every training window (the fold's recordings, the generated household sounds and laughs, and all augmented
copies) the teacher's P(cry), the rest of the mass on the window's own non-cry label (a cry window's rest spread
over the four non-cry classes), mixed with the hard label at weight ALPHA. So a night can run at the small
network's speed with some of YAMNet's knowledge of speech, music and the street.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core.data.corpora import CRY
from babycry_core.inference.cry_detector import CryDetector

ALPHA = 0.3  # the hard label's weight in each window's target


def teacher_targets(teacher: CryDetector, parts, waves, labels, progress: bool = False) -> np.ndarray:
    """(training windows, classes) targets, in the order of parts["train"] (build_parts: the training part's
    windows, then its augmented copies')."""
    from tqdm import tqdm

    from babycry_core.training.detector_fit import cut

    X, y, _ = parts["train"]
    k, cry = len(labels), labels.index(CRY)
    P = np.zeros(len(y))
    i = 0
    recs = list(waves["train"]) + list(waves["train_aug"])
    for w in tqdm(recs, desc="teacher", leave=False, disable=not progress):
        wins = cut(w, teacher.cfg)
        j = i + len(wins)
        p_cnn = teacher.feature_proba(X[i:j])[:, teacher.cry_index]
        P[i:j] = teacher.fusion.cry_proba(np.stack(wins), p_cnn, teacher.cfg.sample_rate)
        i = j
    if i != len(y):
        raise RuntimeError(f"the teacher scored {i} windows, the training part has {len(y)}")
    soft = np.zeros((len(y), k))
    soft[:, cry] = P
    rest = np.where(y[:, None] == cry, (np.arange(k) != cry) / (k - 1), np.eye(k)[y])  # (windows, k)
    soft += (1 - P)[:, None] * rest
    return (ALPHA * np.eye(k)[y] + (1 - ALPHA) * soft).astype(np.float32)


def fit_distilled(cfg, run_dir: Path, teacher_dir: Path, frames, prepared, progress: bool = True) -> Path:
    """Train the student run in run_dir on fold frames, with build_parts' `prepared` data and the teacher's targets."""
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.detector_fit import fit_detector

    teacher = CryDetector(load(teacher_dir))
    if teacher.fusion is None:
        raise ValueError(f"{teacher_dir} has no YAMNet side to distil from: {teacher.fusion_error or 'not a fused run'}")
    labels, parts, waves, info = prepared
    parts = {**parts, "train_targets": teacher_targets(teacher, parts, waves, labels, progress)}
    info = {**info, "distilled_from": Path(teacher_dir).name, "distillation_alpha": ALPHA,
            "teacher_mode": teacher.fusion.mode}
    return fit_detector(cfg, run_dir, progress=progress, frames=frames, prepared=(labels, parts, waves, info))

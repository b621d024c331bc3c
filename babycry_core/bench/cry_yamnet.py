"""`bench cry`'s YAMNet candidates, on the same grouped folds as the detector:

    yamnet_zero_shot  YAMNet's own "Baby cry, infant cry" score (its highest 0.975 s window) with a threshold chosen
                      on the fold's validation part: the zero-shot anchor
    yamnet_head       a class-balanced logistic regression on frozen YAMNet clip embeddings (mean and max of the
                      1024-d window embeddings), trained on the fold's training part, its threshold chosen the same way

Both thresholds follow the detector's rule (training/detector_fit.py): the best balanced accuracy among thresholds that
keep validation recall >= MIN_RECALL, over the validation recordings and their cries turned down to QUIET_DBFS.
YAMNet runs from its TFLite file in torch (features/yamnet.py); each recording's window scores and embeddings are
cached on disk by the recording's content, so the five folds compute each recording once.
"""
from __future__ import annotations

import hashlib

import numpy as np

from babycry_core import fileio, paths


def clip_yamnet(y: np.ndarray, sr: int = 8000) -> np.ndarray:
    """(1 + 2048,): the highest window "Baby cry, infant cry" score, then the mean and max window embeddings."""
    from babycry_core.features.yamnet import BABY_CRY_INDEX, run, to_16k

    key = hashlib.sha1(np.ascontiguousarray(y, np.float32).tobytes() + str(sr).encode()).hexdigest()
    f = paths.results_dir() / "cry_bench" / "yamnet" / f"{key}.npy"

    def compute() -> np.ndarray:
        scores, emb, _ = run(to_16k(y, sr))  # (windows, 521), (windows, 1024)
        return np.concatenate([[scores[:, BABY_CRY_INDEX].max()], emb.mean(0), emb.max(0)]).astype(np.float32)

    return fileio.cached_npy(f, compute)


def _threshold(p_val: np.ndarray, p_quiet: np.ndarray, val_is_cry: np.ndarray) -> float:
    from babycry_core.inference.cry_detector import choose_threshold
    from babycry_core.training.detector_fit import MIN_RECALL

    p = np.concatenate([p_val, p_quiet])
    t = np.concatenate([np.asarray(val_is_cry, bool), np.ones(len(p_quiet), bool)])
    return float(choose_threshold(p, t, MIN_RECALL)["cry_threshold"])


def _quiet(waves, is_cry) -> list[np.ndarray]:
    from babycry_core.augment.waveform import gain
    from babycry_core.training.detector_fit import QUIET_DBFS

    return [gain(w, QUIET_DBFS) for w, c in zip(waves, is_cry) if c]


def fold_zero_shot(val_waves, val_is_cry):
    """decide(y) -> (YAMNet's cry score, called a cry) with the validated threshold."""
    score = lambda ws: np.array([clip_yamnet(w)[0] for w in ws])  # noqa: E731
    thr = _threshold(score(val_waves), score(_quiet(val_waves, val_is_cry)), val_is_cry)

    def decide(y):
        p = float(clip_yamnet(y)[0])
        return p, p >= thr

    return decide


def fold_head(train_waves, train_is_cry, val_waves, val_is_cry):
    """decide(y) -> (P(cry) of the logistic head on YAMNet's embeddings, called a cry)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    emb = lambda ws: np.stack([clip_yamnet(w)[1:] for w in ws])  # noqa: E731
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000))
    clf.fit(emb(train_waves), np.asarray(train_is_cry, int))
    prob = lambda ws: clf.predict_proba(emb(ws))[:, 1] if len(ws) else np.zeros(0)  # noqa: E731
    thr = _threshold(prob(val_waves), prob(_quiet(val_waves, val_is_cry)), val_is_cry)

    def decide(y):
        p = float(prob([y])[0])
        return p, p >= thr

    return decide

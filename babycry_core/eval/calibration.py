"""Confidence that means what it says: temperature scaling and an abstention threshold, fit on validation.

Temperature T divides the logits; it is fit by minimising validation negative log-likelihood (Guo et al.
2017). Below the stored confidence threshold the app answers "Not sure" with the top two classes.
"""
from __future__ import annotations

import numpy as np

from babycry_core.eval.metrics import metric_fn, expected_calibration_error


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T in [0.05, 20] minimising validation NLL (bounded scalar search on log T)."""
    from scipy.optimize import minimize_scalar

    if len(y) == 0:
        return 1.0
    res = minimize_scalar(lambda lt: nll(logits, y, float(np.exp(lt))), bounds=(np.log(0.05), np.log(20.0)),
                          method="bounded")
    t = float(np.exp(res.x))
    if t < 0.06:  # ran to the bound: validation is separable, sharpening further would be overconfident
        return 1.0
    return t if nll(logits, y, t) <= nll(logits, y, 1.0) else 1.0


def choose_threshold(proba: np.ndarray, y: np.ndarray, min_coverage: float = 0.5) -> float:
    """Confidence threshold that maximises balanced accuracy on the answered validation clips,
    answering at least `min_coverage` of them. 0 (always answer) when nothing does better."""
    if len(y) == 0:
        return 0.0
    k = proba.shape[1]
    conf, pred = proba.max(1), proba.argmax(1)
    best_t, best = 0.0, metric_fn("balanced_accuracy", k)(y, pred)
    for t in np.unique(np.quantile(conf, np.linspace(0, 1 - min_coverage, 11))):
        m = conf >= t
        if m.mean() >= min_coverage and m.any():
            score = metric_fn("balanced_accuracy", k)(y[m], pred[m])
            if score > best + 1e-9:
                best_t, best = float(t), score
    return best_t


def fit(val_logits: np.ndarray, y_val: np.ndarray) -> dict:
    """Temperature + threshold from the validation split, stored as the run's calibration.json."""
    t = fit_temperature(val_logits, y_val)
    return {"temperature": t, "threshold": choose_threshold(softmax(val_logits, t), y_val), "fit_on": "validation",
            "val_nll_before": nll(val_logits, y_val), "val_nll_after": nll(val_logits, y_val, t)}


def report(logits: np.ndarray, y: np.ndarray, cal: dict) -> dict:
    """Test-set calibration figures: ECE before/after, coverage and accuracy on the answered clips."""
    before, after = softmax(logits), softmax(logits, cal["temperature"])
    answered = after.max(1) >= cal["threshold"]
    correct = after.argmax(1) == y
    return {
        "ece_before": expected_calibration_error(before, y),
        "ece_after": expected_calibration_error(after, y),
        "nll_before": nll(logits, y),
        "nll_after": nll(logits, y, cal["temperature"]),
        "coverage": float(answered.mean()) if len(y) else float("nan"),
        "selective_accuracy": float(correct[answered].mean()) if answered.any() else float("nan"),
        "reliability": reliability(after, y),
    }


def reliability(proba: np.ndarray, y: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Per confidence bin: mean confidence, accuracy, count (the reliability diagram's points)."""
    conf, correct = proba.max(1), proba.argmax(1) == y
    edges = np.linspace(0, 1, n_bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            out.append({"lo": float(lo), "hi": float(hi), "confidence": float(conf[m].mean()),
                        "accuracy": float(correct[m].mean()), "count": int(m.sum())})
    return out


def coverage_curve(confidence, correct) -> list[dict]:
    """Accuracy on the answered clips against coverage, as the abstention threshold sweeps down the confidences.

    A clip is answered when its confidence >= the threshold (as `report` and the app decide). One point per
    distinct confidence, highest first: {"threshold", "coverage" (share answered), "accuracy" (on those),
    "answered" (how many)}; the last point answers every clip. [] for no clips.
    """
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    ok = np.asarray(correct, dtype=bool).ravel()
    if conf.shape != ok.shape:
        raise ValueError(f"{len(conf)} confidences but {len(ok)} correct flags")
    keep = np.isfinite(conf)
    conf, ok = conf[keep], ok[keep]
    n = len(conf)
    if n == 0:
        return []
    order = np.argsort(-conf, kind="stable")
    c, right = conf[order], np.cumsum(ok[order])
    ends = np.flatnonzero(np.r_[c[1:] != c[:-1], True])  # last clip of each distinct confidence
    return [{"threshold": float(c[e]), "coverage": (e + 1) / n, "accuracy": float(right[e]) / (e + 1),
             "answered": int(e + 1)} for e in ends]

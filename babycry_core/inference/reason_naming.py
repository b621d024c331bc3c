"""When may the app name a cry's reason? Only where held-out babies say the sound supports it.

For each reason r, `fit_naming` looks at a reason model's calibrated probabilities on recordings of babies
it never trained on (its test part) and searches the lowest threshold t at which the clips it would name r
(top class r with P(r) >= t) were r at least MIN_PRECISION of the time *and* more often than the prior
share of r among cries (the 95 % Wilson lower bound above the prior). Always answering "hungry" is right
84 % of the time on Donate-a-Cry; a model that does no better than that adds nothing the sound supports.
A reason with no such threshold is never named: the answer says "Reason unclear from the sound".

`reason_naming.json` in the reason run's folder: {"reasons": {r: {"threshold" | null, "precision", "named",
"prior"}}, "prior", "held_out": {"accuracy", "baseline_accuracy", "balanced_accuracy", "n", ...}}.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core.runs.run_folder import RunFolder

FILE = RunFolder.NAMING
MIN_PRECISION = 0.60
MIN_NAMED = 5  # a threshold needs at least this many held-out clips named to count


def wilson_low(k: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 0.0
    p = k / n
    d = 1 + z * z / n
    return float((p + z * z / (2 * n) - z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / d)


def naming_thresholds(proba: np.ndarray, true: list[str], labels: list[str], prior: dict[str, float]) -> dict:
    """{reason: {"threshold", "precision", "named", "prior"}} from held-out probabilities (n, len(labels))."""
    proba = np.asarray(proba, dtype=np.float64)
    t = np.asarray(true, dtype=object)
    top = proba.argmax(1)
    out = {}
    for i, r in enumerate(labels):
        mine = top == i
        best = None
        for thr in np.unique(proba[mine, i]):
            named = mine & (proba[:, i] >= thr)
            n, k = int(named.sum()), int((t[named] == r).sum())
            if n < MIN_NAMED:
                break
            if k / n >= MIN_PRECISION and wilson_low(k, n) > prior.get(r, 0.0):
                best = {"threshold": float(thr), "precision": k / n, "named": n}
                break
        out[r] = {**(best or {"threshold": None, "precision": None, "named": 0}), "prior": float(prior.get(r, 0.0))}
    return out


def corpus_prior(labels: list[str], corpus: str = "donateacry") -> dict[str, float]:
    """Each reason's share among the corpus's cries (uniform when the corpus is not available)."""
    from babycry_core.data import manifest as data

    try:
        counts = data.load_manifest(corpus)["label"].value_counts()
    except (FileNotFoundError, ValueError):
        return {r: 1 / len(labels) for r in labels}
    total = float(sum(counts.get(r, 0) for r in labels)) or 1.0
    return {r: float(counts.get(r, 0)) / total for r in labels}


def fit_naming(run_dir: Path | RunFolder, pred, progress: bool = False) -> dict:
    """Score the reason run (`pred`: its inference.Predictor) on its test part (held-out babies), choose each
    reason's naming threshold, write reason_naming.json into the run folder and return it."""
    from tqdm import tqdm

    from babycry_core.data import manifest as data

    folder = RunFolder.of(run_dir)
    config = folder.config
    corpus = config.get("corpus", "donateacry")
    labels = list(pred.labels)
    fold = config.get("fold") if config.get("split") == "fold" else None
    _, _, test = data.split_frames(corpus, config.get("split", "fixed"), fold, config.get("protocol", "grouped"))
    test = test[test["label"].isin(labels)].reset_index(drop=True)
    rows = [pred.predict(data.resolve_path(p), name=str(p)).probabilities
            for p in tqdm(test["path"], desc="held-out reasons", disable=not progress)]
    proba = np.array([[r[c] for c in labels] for r in rows])
    true = test["label"].astype(str).tolist()
    prior = corpus_prior(labels, corpus)
    top = [labels[i] for i in proba.argmax(1)]
    majority = max(prior, key=prior.get)
    from babycry_core.eval.cry_metrics import balanced_accuracy

    out = {"reasons": naming_thresholds(proba, true, labels, prior), "prior": prior,
           "rule": f"named when P >= threshold, where held-out precision >= {MIN_PRECISION:.0%} and its 95 % "
                   f"lower bound beats the prior share (at least {MIN_NAMED} clips named)",
           "held_out": {"n": len(true), "groups": int(test["group"].nunique()), "source": "the run's test part "
                        "(babies it never trained on)", "accuracy": float(np.mean(np.array(top) == np.array(true))),
                        "balanced_accuracy": balanced_accuracy(true, top),
                        "baseline_accuracy": float(np.mean(np.array(true) == majority)), "baseline": majority}}
    folder.write(FILE, out)
    return out


def load_naming(run_dir: Path | RunFolder, labels: list[str]) -> dict:
    """The run's reason_naming.json; without one, nothing is ever named and the prior is the corpus's
    (uniform when the corpus is not here either)."""
    folder = RunFolder.of(run_dir)
    if folder.has(FILE):
        return folder.read(FILE)
    corpus = folder.read(RunFolder.CONFIG, default={}).get("corpus", "donateacry")
    prior = corpus_prior(labels, corpus)
    return {"reasons": {r: {"threshold": None, "precision": None, "named": 0, "prior": prior[r]} for r in labels},
            "prior": prior, "held_out": {}, "rule": f"no {FILE}: reasons are never named"}

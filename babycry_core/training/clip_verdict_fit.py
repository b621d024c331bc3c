"""Fitting the upload verdict (inference/clip_verdict.py): crying, not sure (laughing, babbling), or not a cry.

- Training rows: every recording of the training part of data/detect but the uncertain kinds (same-app uploads
  where YAMNet hears a baby's voice: never clean negatives), one row per context (at most MAX_CONTEXTS), labelled
  cry, laugh (AudioSet's laughing babies and belly laughs, giulbia's laugh recordings) or other.
- The model: a class-balanced multinomial logistic regression on standardised features (C = C_REG).
- The thresholds, on the validation part (recordings and their cries turned down to QUIET_DBFS):
    cry_threshold  the highest P(cry) that still answers "crying" for CRY_RECALL of the validation cries
    lo_threshold   the highest P(cry) that answers "not a cry" for at most 1 - LO_RECALL of them
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from babycry_core.data.corpora import CRY, UNCERTAIN_KINDS
from babycry_core.inference.clip_verdict import CLASSES, ClipVerdict, clip_features, contexts
from babycry_core.runs.run_folder import RunFolder

LAUGH_KINDS = frozenset({"baby_laughter", "belly_laugh", "laughing"})
C_REG = 0.1
MAX_CONTEXTS = 3
CRY_RECALL = 0.93
LO_RECALL = 0.99
SR = 8000


def verdict_class(label: str, kind: str) -> str:
    """cry / laugh / other: what the verdict learns a recording to be."""
    return "cry" if label == CRY else "laugh" if kind in LAUGH_KINDS or label == "laugh" else "other"


def clean_mask(frame: pd.DataFrame) -> np.ndarray:
    """(rows,) True where a row may be learnt from or calibrated on: all but the uncertain kinds."""
    return ~frame["kind"].isin(UNCERTAIN_KINDS).to_numpy() if "kind" in frame else np.ones(len(frame), bool)


def trainable(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a detector may learn from: all but the uncertain kinds."""
    return frame[clean_mask(frame)]


def sequences(waves, handle: str | None = None, progress: bool = False, desc: str = "YAMNet sequences"):
    """YAMNet's patch sequence (scores, embeddings) of each waveform at SR, cached on disk."""
    from tqdm import tqdm

    from babycry_core.features.yamnet_sequence import patch_sequence

    return [patch_sequence(w, SR, handle) for w in tqdm(waves, desc=desc, leave=False, disable=not progress)]


def feature_rows(seqs, targets, cap: int = MAX_CONTEXTS):
    """(features (rows, F), target per row): one row per context of each sequence, at most `cap` per recording."""
    X, t = [], []
    for (s, e), c in zip(seqs, targets):
        for sl in contexts(len(s))[:cap]:
            X.append(clip_features(s[sl], e[sl]))
            t.append(c)
    return np.stack(X), np.array(t)


def fit_head(X: np.ndarray, t: np.ndarray):
    """(mean, scale, coef (classes, F), intercept (classes,)) in CLASSES order."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    clf = LogisticRegression(C=C_REG, class_weight="balanced", max_iter=3000).fit((X - mean) / scale, t)
    order = [list(clf.classes_).index(c) for c in CLASSES]
    return mean, scale, clf.coef_[order], clf.intercept_[order]


def thresholds(p_cry_of_cries: np.ndarray) -> dict:
    """cry_threshold and lo_threshold from the validation cries' P(cry) (quiet ones included)."""
    p = np.sort(np.asarray(p_cry_of_cries, np.float64))
    if not len(p):
        return {"cry_threshold": 0.5, "lo_threshold": 0.2, "rule": "default (no validation cries)"}
    hi = float(p[int(np.floor((1 - CRY_RECALL) * len(p)))])
    lo = float(p[int(np.floor((1 - LO_RECALL) * len(p)))])
    return {"cry_threshold": hi, "lo_threshold": min(lo, hi),
            "rule": f"validation cries (quiet ones included): 'crying' for >= {CRY_RECALL:.0%}, "
                    f"'not a cry' for <= {1 - LO_RECALL:.0%}"}


def fit_verdict(train_waves, train_frame: pd.DataFrame, val_waves, val_frame: pd.DataFrame,
                handle: str | None = None, progress: bool = False) -> ClipVerdict:
    """A verdict fitted on training recordings, its thresholds chosen on validation ones (see the module doc)."""
    from babycry_core.features.yamnet import model_key
    from babycry_core.training.detector_fit import QUIET_DBFS, with_quiet_cries

    keep = clean_mask(train_frame)
    targets = [verdict_class(lab, k) for lab, k in zip(train_frame["label"], train_frame.get("kind", train_frame["label"]))]
    seqs = sequences([w for w, k in zip(train_waves, keep) if k], handle, progress, "YAMNet sequences (train)")
    X, t = feature_rows(seqs, [c for c, k in zip(targets, keep) if k])
    verdict = ClipVerdict(*fit_head(X, t), cry_threshold=0.5, lo_threshold=0.2, model_key=model_key(handle),
                          handle=handle)
    val_keep = clean_mask(val_frame)
    val_cry = (val_frame["label"] == CRY).to_numpy()
    recs, rec_cry = with_quiet_cries([w for w, k in zip(val_waves, val_keep) if k], val_cry[val_keep])
    p = np.array([verdict.judge_sequence(s, e).p_cry for s, e in sequences(recs, handle, progress, "YAMNet (val)")])
    chosen = thresholds(p[rec_cry])
    verdict.cry_threshold, verdict.lo_threshold = chosen["cry_threshold"], chosen["lo_threshold"]
    answers = np.array([verdict.answer_of(v) for v in p])
    verdict.info = {"fit": {
        "rule": chosen["rule"], "train_rows": int(len(t)), "train_rows_per_class": {c: int((t == c).sum()) for c in CLASSES},
        "validation_recordings": int(val_keep.sum()), "quiet_cries": int(len(recs) - val_keep.sum()),
        "quiet_dbfs": QUIET_DBFS, "C": C_REG,
        "val_cries_crying": float((answers[rec_cry] == "crying").mean()) if rec_cry.any() else None,
        "val_cries_no_cry": float((answers[rec_cry] == "no_cry").mean()) if rec_cry.any() else None,
        "val_non_cries_crying": float((answers[~rec_cry] == "crying").mean()) if (~rec_cry).any() else None}}
    return verdict


def answers_of(verdict: ClipVerdict, waves, progress: bool = False, desc: str = "YAMNet") -> list[str]:
    """The verdict's answer (crying / unsure / no_cry) for each waveform at SR, YAMNet's sequences cached."""
    return [verdict.judge_sequence(s, e).answer for s, e in sequences(waves, verdict.handle, progress, desc)]


def answer_parts(answer, waves, frame: pd.DataFrame, upload_waves=()) -> dict:
    """answer(waveforms) -> answers, on test recordings (their kinds and groups), their cries turned down to
    QUIET_DBFS and raw phone uploads: what eval/upload_answer.upload_figures scores."""
    from babycry_core.augment.waveform import gain
    from babycry_core.training.detector_fit import QUIET_DBFS

    quiet = [gain(w, QUIET_DBFS) for w, lab in zip(waves, frame["label"]) if lab == CRY]
    return {"answers": answer(waves), "kinds": frame["kind"].tolist(), "groups": frame["group"].astype(str).tolist(),
            "quiet": answer(quiet), "uploads": answer(list(upload_waves))}


def score_frame(verdict: ClipVerdict, waves, frame: pd.DataFrame, upload_waves=(), progress: bool = False) -> dict:
    """The verdict's upload figures (eval/upload_answer.py) on test recordings, their cries turned down to QUIET_DBFS
    and raw phone uploads."""
    from babycry_core.eval.upload_answer import upload_figures

    r = answer_parts(lambda ws: answers_of(verdict, ws, progress), waves, frame, upload_waves)
    return upload_figures(r["answers"], r["kinds"], r["groups"], quiet_answers=r["quiet"], upload_answers=r["uploads"])


def verdict_run(detector_run, out_dir: Path | None = None, progress: bool = True) -> Path:
    """`python -m babycry_core verdict RUN`: a copy of the detector run RUN (its windows still serve Listen and
    `detect`) with an upload verdict fitted on the fixed split of data/detect: training part to learn, validation
    part for the thresholds; the clip ids of each part go to split.json and the test figures to metrics.json."""
    from babycry_core.data import manifest as data
    from babycry_core.runs import run_registry as runs
    from babycry_core.training.detector_fit import CORPUS, load_waves

    src = runs.open_run(detector_run)
    if src.config.get("role") != "detector":
        raise ValueError(f"{src.name} is not a cry detector run")
    frames = dict(zip(("train", "val", "test"), data.split_frames(CORPUS, "fixed")))
    waves = {k: load_waves(f, SR, progress) for k, f in frames.items()}
    verdict = fit_verdict(waves["train"], frames["train"], waves["val"], frames["val"], progress=progress)
    out_dir = Path(out_dir) if out_dir else runs.new_run_dir("cry_verdict")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(src.path, out_dir, ignore=shutil.ignore_patterns(*RunFolder.NOT_COPIED))
    out = RunFolder(out_dir)
    verdict.save(out)
    out.write(RunFolder.SPLIT, {k: f["clip_id"].tolist() for k, f in frames.items()})
    out.update(RunFolder.CONFIG, verdict_from=src.name,
               verdict_split=f"fixed ({RunFolder.SPLIT}; the windows keep their own run's split)")
    out.update(RunFolder.METRICS, upload=score_frame(verdict, waves["test"], frames["test"]))
    return out_dir

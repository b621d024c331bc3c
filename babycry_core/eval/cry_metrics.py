"""Metrics of a model that can say "no cry": each question reported on its own, none hiding behind another.

    cry_detection      cry vs no-cry as the app decides it (the top class is a cry class, or not): precision,
                       recall and F1 of "cry", false-alarm rate on the non-cry clips (and per non-cry class)
    cry_detection_gate the same decided as the gate would: P(cry) = the sum of the cry classes' probabilities
                       against each non-cry class (`gate_decision`); differs from the top class when a cry's
                       probability is spread over several reasons
    reason_only        on cry clips that carry a reason: macro-F1 over the reason classes of the reason
                       decision alone (argmax among the reason classes: "given it is a cry, why?")
    reason_end_to_end  the same clips, the app's full answer (a non-cry answer is a miss of the true reason)
    flat               macro-F1 / balanced accuracy / accuracy over all classes of the model
    by_tag             macro-F1 by Donate-a-Cry age band and by gender (tags from the manifest)
    groups_per_class   per class and split part: clips and groups (source recordings / babies) behind each figure

Every interval is a 95 % percentile bootstrap over *groups* (source recordings / babies), not over clips:
windows of one recording are not independent, so a clip bootstrap would be too narrow (laugh rests on one
recording in the test part). A figure resting on fewer than 2 groups gets no interval ([nan, nan]).

macro-F1 here is averaged over the classes present in the truth or the predictions (eval/metrics.py's
convention), so a class absent from a test part does not count as F1 = 0.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

AGE_BANDS = {"04": "0-4 weeks", "48": "4-8 weeks", "26": "2-6 months", "72": "7 months-2 years",
             "22": "over 2 years"}
GENDERS = {"m": "male", "f": "female"}
N_BOOT = 1000


# ---------------------------------------------------------------- building blocks

def macro_f1(true: Sequence[str], pred: Sequence[str], classes: Iterable[str] | None = None) -> float:
    """Mean F1 over `classes` that occur in the truth or the predictions (default: every class that occurs).

    A prediction outside `classes` is simply a miss of its true class (it adds no class of its own).
    nan when no class occurs.
    """
    t, p = np.asarray(list(true), dtype=object), np.asarray(list(pred), dtype=object)
    occurring = set(t) | set(p)
    classes = sorted(occurring) if classes is None else [c for c in classes if c in occurring]
    if not classes:
        return float("nan")
    f1 = []
    for c in classes:
        tp = float(np.sum((t == c) & (p == c)))
        denom = float(np.sum(t == c) + np.sum(p == c))
        f1.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1))


def balanced_accuracy(true: Sequence[str], pred: Sequence[str]) -> float:
    t, p = np.asarray(list(true), dtype=object), np.asarray(list(pred), dtype=object)
    recalls = [float(np.mean(p[t == c] == c)) for c in sorted(set(t))]
    return float(np.mean(recalls)) if recalls else float("nan")


def group_bootstrap(stat: Callable[[np.ndarray], float], groups: Sequence, *, n_boot: int = N_BOOT,
                    seed: int = 0) -> list[float]:
    """95 % percentile interval of `stat(indices)` over resamples of whole groups (with replacement).

    `stat` gets an index array into the clips (clips of a group drawn twice appear twice). Resamples where
    `stat` is nan (e.g. no clip of a needed kind was drawn) are left out. [nan, nan] under 2 groups.
    """
    g = np.asarray(list(groups), dtype=object)
    uniq, inverse = np.unique(g.astype(str), return_inverse=True)
    if len(uniq) < 2:
        return [float("nan"), float("nan")]
    members = [np.flatnonzero(inverse == i) for i in range(len(uniq))]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        v = stat(np.concatenate([members[i] for i in pick]))
        if v == v:  # not nan
            vals.append(v)
    if not vals:
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return [float(lo), float(hi)]


def _rate(num: np.ndarray, den: np.ndarray) -> float:
    d = float(den.sum())
    return float(num.sum()) / d if d else float("nan")


# ---------------------------------------------------------------- the separate questions

def gate_decision(proba: np.ndarray, labels: Sequence[str], cry_classes: Sequence[str]) -> np.ndarray:
    """Cry or not, as a cry gate decides: P(cry) (summed over the cry classes) >= every non-cry class's."""
    proba = np.asarray(proba, dtype=np.float64)
    labels = list(labels)
    cry = [labels.index(c) for c in cry_classes]
    other = [i for i in range(len(labels)) if i not in cry]
    p_cry = proba[:, cry].sum(1)
    return p_cry >= (proba[:, other].max(1) if other else 0.0)


def hierarchical_label(probs: dict[str, float], cry_classes: Sequence[str]) -> str:
    """One clip's answer decided gate first: the likeliest reason if P(cry) beats every non-cry class, else the
    likeliest non-cry class. (The flat answer is simply the top class.)"""
    p_cry = sum(probs[c] for c in cry_classes)
    other = {c: p for c, p in probs.items() if c not in set(cry_classes)}
    if not other or p_cry >= max(other.values()):
        return max(cry_classes, key=lambda c: probs[c])
    return max(other, key=other.get)


def cry_detection(true_is_cry: Sequence[bool], pred_is_cry: Sequence[bool], groups: Sequence | None = None, *,
                  true_labels: Sequence[str] | None = None, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Cry vs no-cry: precision, recall, F1 of "cry"; false-alarm rate = share of non-cry clips answered "cry".

    With `true_labels`, also the false-alarm rate per non-cry class and the miss rate per cry class.
    """
    t = np.asarray(list(true_is_cry), dtype=bool)
    p = np.asarray(list(pred_is_cry), dtype=bool)
    groups = np.arange(len(t)) if groups is None else np.asarray(list(groups), dtype=object)

    def figures(i):
        tt, pp = t[i], p[i]
        tp, fp, fn = np.sum(tt & pp), np.sum(~tt & pp), np.sum(tt & ~pp)
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        far = fp / np.sum(~tt) if np.sum(~tt) else float("nan")
        return {"precision": float(prec), "recall": float(rec), "f1": float(f1), "false_alarm_rate": float(far)}

    idx = np.arange(len(t))
    out: dict = {"n": int(len(t)), "n_cry": int(t.sum()), "n_non_cry": int((~t).sum()),
                 "groups_cry": int(len(set(groups[t]))), "groups_non_cry": int(len(set(groups[~t])))}
    point = figures(idx)
    out.update(point)
    for k in point:
        out[f"{k}_ci"] = group_bootstrap(lambda i, k=k: figures(i)[k], groups, n_boot=n_boot, seed=seed)
    out["confusion"] = {"cry_as_cry": int(np.sum(t & p)), "cry_as_no_cry": int(np.sum(t & ~p)),
                        "no_cry_as_cry": int(np.sum(~t & p)), "no_cry_as_no_cry": int(np.sum(~t & ~p))}
    if true_labels is not None:
        lab = np.asarray(list(true_labels), dtype=object)
        per = {}
        for c in sorted(set(lab)):
            m = lab == c
            is_cry = bool(t[m].all())
            per[c] = {"clips": int(m.sum()), "groups": int(len(set(groups[m]))),
                      ("miss_rate" if is_cry else "false_alarm_rate"):
                          _rate((~p[m]) if is_cry else p[m], np.ones(int(m.sum())))}
        out["per_class"] = per
    return out


def f1_lead(true_is_cry: Sequence[bool], pred_a: Sequence[bool], pred_b: Sequence[bool], groups: Sequence) -> dict:
    """Cry F1 of answers a minus that of answers b on the same recordings: the point, a 95 % interval over whole
    groups (group_bootstrap), and whether a is ahead outside it."""
    t, a, b = (np.asarray(list(x), dtype=bool) for x in (true_is_cry, pred_a, pred_b))

    def f1(p, i):
        tp, fp, fn = np.sum(t[i] & p[i]), np.sum(~t[i] & p[i]), np.sum(t[i] & ~p[i])
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")

    ci = group_bootstrap(lambda i: f1(a, i) - f1(b, i), groups)
    whole = np.arange(len(t))
    return {"point": float(f1(a, whole) - f1(b, whole)), "ci": ci, "ahead_outside_interval": bool(ci[0] > 0)}


def reason_scores(true: Sequence[str], pred: Sequence[str], reason_classes: Sequence[str],
                  groups: Sequence | None = None, *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """macro-F1 and balanced accuracy over `reason_classes` on the clips whose true label is one of them."""
    t = np.asarray(list(true), dtype=object)
    p = np.asarray(list(pred), dtype=object)
    g = np.arange(len(t)) if groups is None else np.asarray(list(groups), dtype=object)
    keep = np.isin(t, list(reason_classes))
    t, p, g = t[keep], p[keep], g[keep]
    out = {"n": int(len(t)), "groups": int(len(set(g))), "classes": list(reason_classes),
           "macro_f1": macro_f1(t, p, reason_classes) if len(t) else float("nan"),
           "balanced_accuracy": balanced_accuracy(t, p) if len(t) else float("nan")}
    out["macro_f1_ci"] = group_bootstrap(lambda i: macro_f1(t[i], p[i], reason_classes), g, n_boot=n_boot, seed=seed)
    out["balanced_accuracy_ci"] = group_bootstrap(lambda i: balanced_accuracy(t[i], p[i]), g, n_boot=n_boot,
                                                  seed=seed)
    if len(t):
        values, counts = np.unique(t, return_counts=True)
        major = values[int(np.argmax(counts))]
        out["majority_baseline"] = {"label": str(major),
                                    "macro_f1": macro_f1(t, np.full(len(t), major, dtype=object), reason_classes)}
    return out


def flat(true: Sequence[str], pred: Sequence[str], classes: Sequence[str], groups: Sequence | None = None, *,
         n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """macro-F1, balanced accuracy and accuracy over all `classes` (clips of other labels are left out)."""
    t = np.asarray(list(true), dtype=object)
    p = np.asarray(list(pred), dtype=object)
    g = np.arange(len(t)) if groups is None else np.asarray(list(groups), dtype=object)
    keep = np.isin(t, list(classes))
    t, p, g = t[keep], p[keep], g[keep]

    def acc(i):
        return float(np.mean(t[i] == p[i])) if len(i) else float("nan")

    out = {"n": int(len(t)), "groups": int(len(set(g))), "classes": list(classes),
           "classes_in_test": sorted(set(t)),
           "macro_f1": macro_f1(t, p, classes), "balanced_accuracy": balanced_accuracy(t, p),
           "accuracy": acc(np.arange(len(t)))}
    out["macro_f1_ci"] = group_bootstrap(lambda i: macro_f1(t[i], p[i], classes), g, n_boot=n_boot, seed=seed)
    out["balanced_accuracy_ci"] = group_bootstrap(lambda i: balanced_accuracy(t[i], p[i]), g, n_boot=n_boot,
                                                  seed=seed)
    out["accuracy_ci"] = group_bootstrap(acc, g, n_boot=n_boot, seed=seed)
    return out


def by_tag(frame: pd.DataFrame, pred: Sequence[str], *, reason_pred: Sequence[str] | None = None,
           classes: Sequence[str] | None = None, tags: dict[str, dict] | None = None, n_boot: int = N_BOOT,
           seed: int = 0) -> dict:
    """macro-F1 per value of each Donate-a-Cry tag ("age", "gender"), on the clips that carry the tag.

    `pred`: the app's answers; `reason_pred` (optional): the reason decision alone, reported as reason_macro_f1.
    macro-F1 is over `classes` occurring in that subset's truth or predictions (default: every label that
    occurs). Each entry says how many clips and groups it rests on.
    """
    tags = tags if tags is not None else {"age": AGE_BANDS, "gender": GENDERS}
    pred = np.asarray(list(pred), dtype=object)
    rpred = None if reason_pred is None else np.asarray(list(reason_pred), dtype=object)
    out: dict = {}
    for col, names in tags.items():
        if col not in frame:
            continue
        values = frame[col].fillna("").astype(str).to_numpy()
        true = frame["label"].astype(str).to_numpy()
        groups = frame["group"].astype(str).to_numpy()
        per = {}
        for v in sorted(set(values) - {""}):
            m = values == v
            t, p, g = true[m], pred[m], groups[m]
            entry = {"name": names.get(v, v), "clips": int(m.sum()), "groups": int(len(set(g))),
                     "macro_f1": macro_f1(t, p, classes),
                     "macro_f1_ci": group_bootstrap(lambda i: macro_f1(t[i], p[i], classes), g, n_boot=n_boot,
                                                    seed=seed)}
            if rpred is not None:
                r = rpred[m]
                entry["reason_macro_f1"] = macro_f1(t, r, classes)
                entry["reason_macro_f1_ci"] = group_bootstrap(lambda i: macro_f1(t[i], r[i], classes), g,
                                                              n_boot=n_boot, seed=seed)
            per[v] = entry
        out[col] = per
    return out


def groups_per_class(parts: dict[str, pd.DataFrame], classes: Sequence[str] | None = None) -> dict:
    """{class: {"<part>_clips", "<part>_groups"}} for each split part (e.g. train / val / test frames)."""
    classes = list(classes) if classes is not None else sorted(
        set().union(*[set(df["label"].astype(str)) for df in parts.values()]))
    out = {}
    for c in classes:
        row = {}
        for part, df in parts.items():
            m = df["label"].astype(str) == c
            row[f"{part}_clips"] = int(m.sum())
            row[f"{part}_groups"] = int(df.loc[m, "group"].nunique())
        out[c] = row
    return out


# ---------------------------------------------------------------- everything for one run

def report(proba: np.ndarray, labels: Sequence[str], frame: pd.DataFrame, *, cry_classes: Sequence[str],
           reason_classes: Sequence[str], split_frames: dict[str, pd.DataFrame] | None = None,
           n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """All the separate figures for one model's test predictions.

    proba: (n, len(labels)) probabilities over the model's classes, one row per test clip of `frame` (which may
    include clips whose label is no model class, e.g. cry_unknown: they count for cry detection only);
    frame: manifest rows (label, group, is_cry, age, gender); cry_classes: the model classes that are cries;
    reason_classes: the cry classes with a reason; split_frames: {"train"|"val"|"test": frame} for
    groups_per_class.
    """
    proba = np.asarray(proba, dtype=np.float64)
    labels = list(labels)
    if proba.shape != (len(frame), len(labels)):
        raise ValueError(f"proba has shape {proba.shape}, expected ({len(frame)}, {len(labels)})")
    true = frame["label"].astype(str).to_numpy()
    groups = frame["group"].astype(str).to_numpy()
    true_is_cry = frame["is_cry"].astype(bool).to_numpy()
    pred = np.asarray([labels[i] for i in proba.argmax(1)], dtype=object) if len(proba) else np.array([], object)
    reason_cols = [labels.index(c) for c in reason_classes]
    reason_pred = np.asarray([reason_classes[i] for i in proba[:, reason_cols].argmax(1)], dtype=object) \
        if len(proba) else np.array([], object)
    kw = dict(n_boot=n_boot, seed=seed)
    out = {
        "cry_detection": cry_detection(true_is_cry, np.isin(pred, list(cry_classes)), groups, true_labels=true, **kw),
        "cry_detection_gate": cry_detection(true_is_cry, gate_decision(proba, labels, cry_classes), groups,
                                            true_labels=true, **kw),
        "reason_only": reason_scores(true, reason_pred, reason_classes, groups, **kw),
        "reason_end_to_end": reason_scores(true, pred, reason_classes, groups, **kw),
        "flat": flat(true, pred, labels, groups, **kw),
        "by_tag": by_tag(frame, pred, reason_pred=reason_pred, classes=reason_classes, **kw),
        "interval_method": "95% percentile bootstrap over groups (source recordings / babies)",
    }
    if split_frames is not None:
        out["groups_per_class"] = groups_per_class(split_frames, sorted(set(labels) | set(true)))
    return out

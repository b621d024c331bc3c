"""The upload answer's figures, on predictions alone: crying / unsure / no_cry against what each recording is.

Per kind (cry, quiet cry, baby_laughter, belly_laugh, speech_*, household_street, same_app, same_app_uncertain, ...):
the share answered "crying", "unsure" and "no_cry", with its recordings and sources. Headline: the F1 of
"crying" (an unsure cry counts as missed, an unsure non-cry as no alarm) with a 95 % interval over whole sources,
and the targets of issue 30 met or not.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from babycry_core.eval.cry_metrics import cry_detection
from babycry_core.eval.kinds import UNCERTAIN  # scored apart, never as clean negatives

ANSWERS = ("crying", "unsure", "no_cry")
TARGETS = {  # issue 30, on the upload answer
    "cry_no_cry_max": 0.03, "quiet_no_cry_max": 0.05, "cry_crying_min": 0.90, "uploads": "all",
    "crying_max": {"baby_laughter": 0.10, "belly_laugh": 0.10, "speech_men": 0.03, "speech_women": 0.03,
                   "speech_children": 0.03, "household_street": 0.05, "same_app": 0.05},
}


def shares(answers: Sequence[str]) -> dict:
    a = np.asarray(list(answers), dtype=object)
    n = len(a)
    return {k: (float((a == k).mean()) if n else None) for k in ANSWERS} | {"n": int(n)}


def upload_figures(answers: Sequence[str], kinds: Sequence[str], groups: Sequence[str], *,
                   quiet_answers: Sequence[str] = (), upload_answers: Sequence[str] = ()) -> dict:
    """Figures of one model's answers on test recordings (their kinds and source groups), the test cries turned down
    (quiet_answers) and the raw phone uploads (upload_answers, all cries)."""
    a = np.asarray(list(answers), dtype=object)
    k = np.asarray(list(kinds), dtype=object)
    g = np.asarray(list(groups), dtype=object)
    clean = ~np.isin(k, UNCERTAIN)
    by_kind = {}
    for kind in sorted(set(k)):
        m = k == kind
        by_kind[kind] = shares(a[m]) | {"sources": int(len(set(g[m]))),
                                        "sources_answered_crying": int(len(set(g[m & (a == "crying")])))}
    by_kind["quiet_cry"] = shares(quiet_answers)
    det = cry_detection(k[clean] == "cry", a[clean] == "crying", g[clean])
    out = {"by_kind": by_kind, "crying_f1": det["f1"], "crying_f1_ci": det["f1_ci"], "recall": det["recall"],
           "precision": det["precision"], "n": int(clean.sum()), "n_uncertain": int((~clean).sum()),
           "uploads": shares(upload_answers)}
    out["targets_met"] = targets_met(out)
    return out


def targets_met(fig: dict) -> dict:
    bk = fig["by_kind"]
    out = {}
    if "cry" in bk:
        out["cry_no_cry"] = bk["cry"]["no_cry"] < TARGETS["cry_no_cry_max"]
        out["cry_crying"] = bk["cry"]["crying"] >= TARGETS["cry_crying_min"]
    if bk.get("quiet_cry", {}).get("n"):
        out["quiet_no_cry"] = bk["quiet_cry"]["no_cry"] < TARGETS["quiet_no_cry_max"]
    if fig["uploads"]["n"]:
        out["uploads"] = fig["uploads"]["crying"] == 1.0
    out.update({f"crying_{kind}": bk[kind]["crying"] <= top for kind, top in TARGETS["crying_max"].items() if kind in bk})
    return out


def format_rows(models: dict) -> str:
    """A markdown table: per model, the F1 of "crying" and the share answered crying / unsure / no_cry per kind."""
    kinds = sorted({k for f in models.values() for k in f["by_kind"]}, key=lambda k: (k not in ("cry", "quiet_cry"), k))
    head = "| model | crying F1 [95 % CI] | " + " | ".join(kinds) + " | phone uploads |"
    lines = [head, "|---|---|" + "---|" * (len(kinds) + 1),
             "| (each cell: crying / unsure / no_cry) | | " + " | ".join(
                 f"n={next(iter(models.values()))['by_kind'].get(k, {}).get('n', 0)}" for k in kinds) + " | |"]
    for name, f in models.items():
        cells = []
        for k in kinds:
            s = f["by_kind"].get(k)
            cells.append("–" if not s or not s["n"] else f"{s['crying']:.3f} / {s['unsure']:.3f} / {s['no_cry']:.3f}")
        up = f["uploads"]
        upc = "–" if not up["n"] else f"{round(up['crying'] * up['n'])} of {up['n']} crying"
        lines.append(f"| {name} | {f['crying_f1']:.3f} [{f['crying_f1_ci'][0]:.3f}, {f['crying_f1_ci'][1]:.3f}] | "
                     + " | ".join(cells) + f" | {upc} |")
    return "\n".join(lines)

"""Compare's figures for the upload answer (results/upload_answer.json, `bench upload`): what Classify, `predict` and
the API answer a whole recording (crying / not sure / not a cry), per model and per kind of recording."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from babycry_core.ui.run_plots import DASH, color, num, with_ci

NAMES = {"verdict": "shipped recipe (upload verdict), grouped folds",
         "shipped": "shipped run, on its own test part",
         "yamnet_head": "YAMNet head (the issue's baseline)",
         "yamnet_zero_shot": "YAMNet zero-shot (anchor)",
         "svm_anchor": "SVM on log-mel statistics (anchor)"}
# kind -> column title; "crying" is the share answered "Crying" (a false alarm for every kind but the cries)
KINDS = {"baby_laughter": "laughing babies", "belly_laugh": "belly laughs", "speech_men": "speech · men",
         "speech_women": "speech · women", "speech_children": "speech · children",
         "household_street": "household and street", "same_app": "same-app uploads (clean)",
         "same_app_uncertain": "same-app uploads (uncertain)"}


def _pct(x) -> str:
    v = num(x)
    return DASH if v is None else f"{v:.1%}"


def upload_table(report: dict) -> pd.DataFrame:
    """One row per model: F1 of 'crying' with its interval, what the cries got, and each other kind answered
    'crying'."""
    rows = []
    for m, r in (report.get("models") or {}).items():
        k = r.get("by_kind") or {}
        up = r.get("uploads") or {}
        rows.append({
            "model": NAMES.get(m, m),
            "F1 of 'crying' [95 % CI]": with_ci(r, "crying_f1"),
            "cries · crying": _pct(k.get("cry", {}).get("crying")),
            "cries · not a cry": _pct(k.get("cry", {}).get("no_cry")),
            "quiet cries · not a cry": _pct(k.get("quiet_cry", {}).get("no_cry")),
            **{f"{title} · crying": _pct(k.get(kind, {}).get("crying")) for kind, title in KINDS.items()},
            "phone uploads · crying": f"{round(num(up.get('crying')) * up['n'])} of {up['n']}"
            if up.get("n") and num(up.get("crying")) is not None else DASH})
    return pd.DataFrame(rows)


def upload_figure(report: dict) -> go.Figure:
    """Share answered 'Crying' per kind, one bar group per model: high on cries, low everywhere else."""
    fig = go.Figure()
    kinds = {"cry": "cries", **KINDS}
    for i, (m, r) in enumerate((report.get("models") or {}).items()):
        k = r.get("by_kind") or {}
        fig.add_bar(name=NAMES.get(m, m), x=list(kinds.values()), marker_color=color(i),
                    y=[num(k.get(kind, {}).get("crying")) for kind in kinds],
                    hovertemplate="%{x}: %{y:.1%} answered crying<extra>" + NAMES.get(m, m) + "</extra>")
    fig.update_layout(title=dict(text="Answered 'Crying', per kind of recording (grouped folds; cries should be "
                                      "high, the rest low)", x=0, font=dict(size=15)),
                      barmode="group", height=380, margin=dict(l=10, r=10, t=40, b=10),
                      yaxis=dict(range=[0, 1.0], tickformat=".0%", title="answered crying"),
                      legend=dict(orientation="h", y=-0.25))
    return fig

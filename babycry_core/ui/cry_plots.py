"""Compare's figures for runs that can say "no cry" (two-stage / nine-class): each question on its own.

Reads only what cry_metrics.report wrote into metrics.json ("cry_detection", "reason_only", "flat", "by_tag",
"groups_per_class"); a run without those keys (a five-class CNN) is simply not a cry run here. The `bench cry`
figures (results/cry_detection.json: the cry detector against its anchors on grouped folds) are drawn by
cry_bench_table, cry_bench_figure and detector_minus_anchor_text.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from babycry_core.data.corpora import NON_CRY_LABELS
from babycry_core.eval.cry_metrics import AGE_BANDS, GENDERS
from babycry_core.ui.run_plots import DASH, color, num, with_ci, run_label

TAGS = (("age", "by age band", AGE_BANDS), ("gender", "by gender", GENDERS))


def is_cry_run(run) -> bool:
    return bool((run.metrics or {}).get("cry_detection"))


def has_tags(runs: Sequence) -> bool:
    """Whether any run has a by-tag figure (test clips with a Donate-a-Cry age or gender tag)."""
    return any(any(((r.metrics or {}).get("by_tag") or {}).get(tag) for tag, _, _ in TAGS) for r in runs)


def _count(part: dict, n: str = "n", groups: str = "groups") -> str:
    return f"{part[n]} ({part[groups]} groups)" if n in part and groups in part else DASH


def cry_table(runs: Sequence) -> pd.DataFrame:
    """One row per cry run: cry vs no-cry, reason only (cry clips), flat (every class), each with its 95 %
    interval over groups and the clips / groups it rests on."""
    rows = []
    for r in runs:
        m = r.metrics or {}
        det, reason, flat = m.get("cry_detection") or {}, m.get("reason_only") or {}, m.get("flat") or {}
        base = (reason.get("majority_baseline") or {})
        n_classes, n_reasons = len(flat.get("classes") or []), len(reason.get("classes") or [])
        rows.append({
            "run": run_label(r),
            "cry vs no-cry · F1 of cry": with_ci(det, "f1"),
            "cry vs no-cry · recall of cry": with_ci(det, "recall"),
            "cry vs no-cry · precision of cry": with_ci(det, "precision"),
            "cry vs no-cry · false alarms on non-cry": with_ci(det, "false_alarm_rate"),
            "cry vs no-cry · test clips: cry / non-cry": (
                f"{det['n_cry']} ({det.get('groups_cry', '?')} groups) / {det['n_non_cry']} "
                f"({det.get('groups_non_cry', '?')} groups)" if "n_cry" in det else DASH),
            "reason only · macro-F1 over the cry classes": with_ci(reason, "macro_f1"),
            "reason only · cry classes": str(n_reasons) if n_reasons else DASH,
            "reason only · majority baseline": (f"{base['label']}: macro-F1 {num(base.get('macro_f1')) or 0:.3f}"
                                                if base.get("label") else DASH),
            "reason only · cry clips": _count(reason),
            "flat · macro-F1 over all classes": with_ci(flat, "macro_f1"),
            "flat · classes": str(n_classes) if n_classes else DASH,
            "flat · balanced accuracy": with_ci(flat, "balanced_accuracy"),
            "flat · test clips": _count(flat),
        })
    return pd.DataFrame(rows)


def by_tag_figure(runs: Sequence) -> go.Figure:
    """macro-F1 by age band and by gender (a bar per run, 95 % interval as error bar). The clips and babies
    behind each bar go under the tick label when every run rests on the same ones, else on the bars."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[title for _, title, _ in TAGS])
    all_tags = [(r.metrics or {}).get("by_tag") or {} for r in runs]
    for j, (tag, _, names) in enumerate(TAGS):
        counts = {}  # key -> set of (clips, groups) over the runs
        for tags in all_tags:
            for k, e in (tags.get(tag) or {}).items():
                counts.setdefault(k, set()).add((e.get("clips"), e.get("groups")))
        shared = all(len(v) == 1 for v in counts.values())
        for i, (r, tags) in enumerate(zip(runs, all_tags)):
            per = tags.get(tag) or {}
            keys = [k for k in names if k in per] + sorted(k for k in per if k not in names)
            if not keys:
                continue
            e = [per[k] for k in keys]
            y = [num(x.get("macro_f1")) for x in e]
            ci = [x.get("macro_f1_ci") or [None, None] for x in e]
            up = [max(0.0, num(c[1]) - v) if v is not None and num(c[1]) is not None else 0 for v, c in zip(y, ci)]
            down = [max(0.0, v - num(c[0])) if v is not None and num(c[0]) is not None else 0 for v, c in zip(y, ci)]
            sizes = [f"{x.get('clips', '?')} clip{'s' if x.get('clips') != 1 else ''} · {x.get('groups', '?')} "
                     f"bab{'ies' if x.get('groups') != 1 else 'y'}" for x in e]
            fig.add_trace(go.Bar(
                x=[f"{x.get('name', k)}<br>{n}" if shared else x.get("name", k) for k, x, n in zip(keys, e, sizes)],
                y=y, name=run_label(r), marker_color=color(i), legendgroup=run_label(r), showlegend=j == 0,
                text=None if shared else sizes, textposition="outside", cliponaxis=False,
                error_y=dict(type="data", array=up, arrayminus=down, color="#555", thickness=1),
                customdata=[[n, num(x.get("reason_macro_f1"))] for x, n in zip(e, sizes)],
                hovertemplate="%{x}: macro-F1 %{y:.2f} (%{customdata[0]})<br>reason decision alone: "
                              "%{customdata[1]:.2f}<extra>" + run_label(r) + "</extra>"),
                row=1, col=j + 1)
    fig.update_layout(barmode="group", height=360, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=-0.3), uniformtext=dict(minsize=8, mode="hide"))
    fig.update_yaxes(range=[0, 1.05], title_text="macro-F1", row=1, col=1)
    return fig


def per_class_table(run) -> pd.DataFrame:
    """Per class: the test metrics next to how many clips and groups (source recordings / babies) they rest on,
    and how often cry detection got the class wrong. Classes the model does not output (cry_unknown) show
    their detection figures only."""
    m = run.metrics or {}
    pc, gpc = m.get("per_class") or {}, m.get("groups_per_class") or {}
    det = (m.get("cry_detection") or {}).get("per_class") or {}
    classes, cm = list(m.get("classes") or []), m.get("confusion_matrix") or []
    predicted = {c: sum(row[j] for row in cm) for j, c in enumerate(classes)} if cm else {}
    rows = []
    for c in list(pc) + [c for c in gpc if c not in pc]:
        s, g, d = pc.get(c) or {}, gpc.get(c) or {}, det.get(c) or {}
        tg = g.get("test_groups")
        untested = s.get("support") == 0  # no recall / F1 to speak of; precision only if the class was answered
        rows.append({
            "class": c, "F1": None if untested else num(s.get("f1")),
            "precision": None if untested and not predicted.get(c) else num(s.get("precision")),
            "recall": None if untested else num(s.get("recall")),
            "test clips": g.get("test_clips", s.get("support")), "test groups": tg,
            "train clips": g.get("train_clips"), "train groups": g.get("train_groups"),
            "missed as no-cry": num(d.get("miss_rate")), "false alarm as cry": num(d.get("false_alarm_rate")),
            "note": ("not tested" if not g.get("test_clips") else
                     "rests on one group" if tg == 1 else "") if g else "",
        })
    df = pd.DataFrame(rows)
    return df.set_index("class") if len(df) else df


# ---------------------------------------------------------------- `bench cry`: is it a cry? (results/cry_detection.json)

KINDS = NON_CRY_LABELS  # the columns of bench cry's false alarms


def bench_name(model: str, names: dict | None = None) -> str:
    """A candidate's display name (names: app.bench.candidate_names()), else its key."""
    return (names or {}).get(model, model)


def _pct_or_dash(x) -> str:
    v = num(x)
    return DASH if v is None else f"{v:.1%}"


def cry_bench_table(report: dict, names: dict | None = None) -> pd.DataFrame:
    """One row per model of `bench cry`: cry F1, recall and precision with 95 % intervals over groups, the
    share of each non-cry kind called a cry, recall on turned-down cries, and the phone uploads called a cry."""
    rows = []
    for m, r in (report.get("models") or {}).items():
        fa = r.get("false_alarms") or {}
        levels = r.get("quiet_levels_dbfs") or []
        up, scored = r.get("uploads_called_cry"), r.get("uploads_scored")
        rows.append({
            "model": bench_name(m, names),
            "cry F1 [95 % CI]": with_ci(r, "f1"),
            "recall [95 % CI]": with_ci(r, "recall"),
            "precision [95 % CI]": with_ci(r, "precision"),
            **{f"false alarms · {k}": _pct_or_dash(fa.get(k)) for k in KINDS},
            "quiet recall" + (f" ({' / '.join(f'{x:g}' for x in levels)} dBFS)" if levels else ""):
                _pct_or_dash(r.get("quiet_recall")),
            "phone uploads called a cry": f"{up} of {scored}" if scored else DASH,
        })
    return pd.DataFrame(rows)


def cry_bench_figure(report: dict, names: dict | None = None) -> go.Figure:
    """Cry F1 per model with its 95 % interval as error bars, and the target F1 as a dashed line."""
    models = list((report.get("models") or {}).items())
    f1 = [num(r.get("f1")) for _, r in models]
    ci = [r.get("f1_ci") or [None, None] for _, r in models]
    up = [max(0.0, num(c[1]) - v) if v is not None and num(c[1]) is not None else 0 for v, c in zip(f1, ci)]
    down = [max(0.0, v - num(c[0])) if v is not None and num(c[0]) is not None else 0 for v, c in zip(f1, ci)]
    fig = go.Figure(go.Bar(
        x=[bench_name(m, names) for m, _ in models], y=f1, marker_color=[color(i) for i in range(len(models))],
        error_y=dict(type="data", array=up, arrayminus=down, color="#555", thickness=1.2),
        text=[DASH if v is None else f"{v:.3f}" for v in f1], textposition="inside", insidetextanchor="middle",
        hovertemplate="%{x}: cry F1 %{y:.3f}<extra></extra>"))
    target = num((report.get("targets") or {}).get("f1"))
    if target is not None:
        fig.add_hline(y=target, line=dict(color="#555", dash="dash", width=1),
                      annotation_text=f"target {target:.2f}", annotation_position="bottom right")
    fig.update_layout(title=dict(text="Is it a cry? Cry F1 with 95 % intervals (pooled over grouped folds)", x=0,
                                 font=dict(size=15)), height=340, margin=dict(l=10, r=10, t=40, b=10),
                      yaxis=dict(range=[0, 1.05], title="cry F1"), showlegend=False)
    return fig


def _lead(name: str, anchor: str, d: dict) -> str | None:
    point, ci = num(d.get("point")), d.get("ci") or [None, None]
    if point is None:
        return None
    lo, hi = (num(ci[0]), num(ci[1])) if len(ci) == 2 else (None, None)
    interval = f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None and hi is not None else ""
    verdict = ("ahead of the anchor outside the interval" if d.get("ahead_outside_interval") else
               "not clear of the anchor: the interval includes zero or lies below it")
    return f"**{name} minus {anchor}**, cry F1: {point:+.3f}{interval}, {verdict}."


def detector_minus_anchor_text(report: dict, names: dict | None = None) -> str | None:
    """The best candidate's cry F1 minus each anchor's (the older report: the detector minus the SVM anchor), with
    its interval, one sentence per anchor (None when not run)."""
    w = report.get("winner") or {}
    if w.get("lead_over"):
        lines = [_lead(f"Best candidate ({bench_name(w['model'], names)})", bench_name(a, names), d)
                 for a, d in w["lead_over"].items()]
        return "  \n".join(x for x in lines if x) or None
    return _lead("Detector", "SVM anchor", report.get("detector_minus_anchor_f1") or {})

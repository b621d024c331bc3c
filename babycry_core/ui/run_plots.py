"""Plotly figures and pandas tables for the Compare and Train pages, built from what run folders hold.

No ML logic: every number here was written by training/evaluation (metrics.json, history.jsonl, config.json)
or by the benchmarks (results/bench_speed.json, results/leaderboard.json); this module only arranges it.
"""
from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from babycry_core.runs.run_folder import RunFolder

DASH = "—"
METADATA_SUFFIXES = (".json", ".jsonl", ".log", ".tmp")


# ---------------------------------------------------------------- small readers


def run_label(run) -> str:
    """The name a run goes by in legends and tables (its folder name: unique and tells model and date)."""
    return run.run_id


def model_of(run) -> str:
    """The run's model; before its config.json exists, read from the folder name (<date>-<time>-<model>-<hex>)."""
    if run.model != "?":
        return run.model
    parts = run.run_id.split("-")
    return "-".join(parts[2:-1]) if len(parts) >= 4 else "?"


def num(x) -> float | None:
    """A finite float, or None (NaN, missing, a {"mean": ..} summary → its mean)."""
    if isinstance(x, dict):
        x = x.get("mean")
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def weights_bytes(run_dir: Path) -> int | None:
    """Size of the run's weights on disk: model.safetensors, else its stages' (two-stage: gate/, reason/), else
    every non-metadata file of the folder."""
    run_dir = Path(run_dir)
    w = run_dir / RunFolder.WEIGHTS
    if w.is_file():
        return w.stat().st_size
    stages = sorted(run_dir.glob(f"*/{RunFolder.WEIGHTS}"))
    if stages:
        return sum(f.stat().st_size for f in stages)
    files = [f for f in run_dir.iterdir() if f.is_file() and f.name != RunFolder.PID and not f.name.endswith(METADATA_SUFFIXES)] \
        if run_dir.is_dir() else []
    return sum(f.stat().st_size for f in files) or None


def n_params(run) -> int | None:
    """The run's parameter count: config.json's n_params, else the sum over its stages' configs (two-stage)."""
    n = run.config.get("n_params")
    if isinstance(n, (int, float)):
        return int(n)
    counts = []
    folder = RunFolder(run.path)
    for stage in run.config.get("stages") or {}:
        try:
            counts.append(int(folder.stage(stage).config["n_params"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return sum(counts) if counts else None


def human_bytes(n: int | None) -> str:
    if not n:
        return DASH
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return DASH


def bench_latency(results_dir: Path) -> dict[str, float]:
    """model → median end-to-end ms per clip (1 thread) from results/bench_speed.json; {} when absent or unreadable."""
    try:
        rows = json.loads((Path(results_dir) / "bench_speed.json").read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for r in rows if isinstance(rows, list) else []:
        try:
            key = "t1" if "t1" in r else min(k for k in r if k.startswith("t") and k[1:].isdigit())
            out[str(r["model"])] = float(r[key]["end_to_end"]["median_ms"])
        except (KeyError, TypeError, ValueError):
            continue
    return out


# ---------------------------------------------------------------- tables


def with_ci(m: dict, name: str) -> str:
    v = num(m.get(name))
    if v is None:
        return DASH
    ci = m.get(f"{name}_ci") or []
    lo, hi = (num(ci[0]), num(ci[1])) if len(ci) == 2 else (None, None)
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else f"{v:.3f}"


CRY_ROW = "is it a cry? (whole test recordings)"


def _whole_recordings(c: dict) -> str:
    """A cry detector's own question, answered per test recording by its real decision (fusion and threshold
    included): the other rows score its 2 s windows over five classes."""
    if num(c.get("f1")) is None:
        return DASH
    return (f"F1 {c['f1']:.3f} · recall {num(c.get('recall')) or 0:.3f} · false alarms "
            f"{num(c.get('false_alarm_rate')) or 0:.1%} · {int(c.get('n', 0))} recordings")


def metrics_table(runs: Sequence, latency: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per run: headline metrics with 95 % intervals, the majority baseline, a cry detector's answer per
    whole recording, size and speed."""
    latency = latency or {}
    rows = []
    for r in runs:
        m = r.metrics or {}
        b = m.get("baseline") or {}
        base = num(b.get("macro_f1"))
        n_par = n_params(r)
        ms = latency.get(r.model)
        rows.append({
            "run": run_label(r),
            "model": r.model,
            "test clips": str(int(m["n"])) if "n" in m else DASH,
            "accuracy [95% CI]": with_ci(m, "accuracy"),
            "balanced accuracy [95% CI]": with_ci(m, "balanced_accuracy"),
            "macro-F1 [95% CI]": with_ci(m, "macro_f1"),
            "majority baseline": (f"{b.get('label')}: acc {num(b.get('accuracy')) or 0:.3f} · macro-F1 {base:.3f}"
                                  if base is not None else DASH),
            CRY_ROW: _whole_recordings(m.get("cry") or {}),
            "parameters": f"{n_par:,}" if n_par is not None else DASH,
            "size on disk": human_bytes(weights_bytes(r.path)),
            "latency / clip": f"{ms:.1f} ms" if ms is not None else DASH,
        })
    return pd.DataFrame(rows)


def calibration_table(runs: Sequence) -> pd.DataFrame:
    """ECE before/after temperature scaling, coverage and accuracy on the answered clips, per run."""
    def f(m, k, pct=False):
        v = num(m.get(k))
        return DASH if v is None else (f"{v:.0%}" if pct else f"{v:.3f}")

    return pd.DataFrame([{"run": run_label(r), "ECE before": f(r.metrics, "ece_before"),
                          "ECE after": f(r.metrics, "ece_after"), "coverage": f(r.metrics, "coverage", True),
                          "selective accuracy": f(r.metrics, "selective_accuracy", True)} for r in runs])


def runs_table(runs: Iterable) -> pd.DataFrame:
    """The Train page's list of every run folder: status, model, date, headline metric, message."""
    rows = []
    for r in runs:
        f1 = num((r.metrics or {}).get("macro_f1"))
        rows.append({"run": r.run_id, "status": r.status, "model": model_of(r),
                     "started": datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M") if r.created else DASH,
                     "macro-F1": f"{f1:.3f}" if f1 is not None else DASH, "message": r.message})
    return pd.DataFrame(rows, columns=["run", "status", "model", "started", "macro-F1", "message"])


def history_frame(events: Iterable[dict]) -> pd.DataFrame:
    """The epoch events of history.jsonl as a frame (one row per epoch, last write wins)."""
    rows = [e for e in events if e.get("event") == "epoch" and "epoch" in e]
    df = pd.DataFrame(rows)
    return df.drop_duplicates("epoch", keep="last").sort_values("epoch") if len(df) else df


def disagreements(runs: Sequence, only: str = "any") -> pd.DataFrame:
    """Test clips of the chosen runs joined on clip id, kept where the runs disagree or all are wrong.

    Columns: clip_id, true, one column per run (its answer), "why" ("disagree" / "all wrong").
    Only clips every run was tested on take part (runs trained on other splits share fewer clips).
    only: "any" (either reason), "disagree" or "all wrong".
    """
    per_run, true = [], {}
    for r in runs:
        m = r.metrics or {}
        ids, pred, lab = m.get("test_clip_ids"), m.get("test_predictions"), m.get("test_labels")
        if not ids or not pred or not lab or not len(ids) == len(pred) == len(lab):
            continue
        per_run.append((run_label(r), dict(zip(ids, pred))))
        for i, t in zip(ids, lab):
            true.setdefault(i, t)
    cols = ["clip_id", "true", *[name for name, _ in per_run], "why"]
    if not per_run:
        return pd.DataFrame(columns=cols)
    common = sorted(set.intersection(*(set(p) for _, p in per_run)))
    rows = []
    for cid in common:
        answers = [p[cid] for _, p in per_run]
        disagree = len(set(answers)) > 1
        wrong = all(a != true[cid] for a in answers)
        keep = {"any": disagree or wrong, "disagree": disagree, "all wrong": wrong}[only]
        if keep:
            rows.append({"clip_id": cid, "true": true[cid], **{n: a for (n, _), a in zip(per_run, answers)},
                         "why": "all wrong" if wrong else "disagree"})
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------- figures


def confusion_figure(metrics: dict, normalised: bool = False, title: str = "") -> go.Figure:
    """Heatmap of metrics["confusion_matrix"] (rows: true, columns: predicted); normalised = per true class."""
    classes = list(metrics.get("classes") or [])
    cm = np.asarray(metrics.get("confusion_matrix") or np.zeros((len(classes), len(classes))), dtype=float)
    if normalised:
        rows = cm.sum(1, keepdims=True)
        z = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
        text = [[f"{v:.0%}" for v in row] for row in z]
    else:
        z = cm
        text = [[f"{int(v)}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z.tolist(), x=classes, y=classes, text=text, texttemplate="%{text}", colorscale="Blues",
                               zmin=0, zmax=1 if normalised else None, showscale=False,
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    fig.update_layout(title=title or None, xaxis_title="predicted", yaxis_title="true", height=380,
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    fig.update_yaxes(autorange="reversed")
    return fig


def per_class_bars(runs: Sequence) -> go.Figure:
    """Per-class precision, recall and F1 (one panel each), a bar per run in each class group."""
    stats = ("precision", "recall", "f1")
    fig = make_subplots(rows=1, cols=3, subplot_titles=[s if s != "f1" else "F1" for s in stats], shared_yaxes=True)
    for i, r in enumerate(runs):
        pc = (r.metrics or {}).get("per_class") or {}
        classes = list(pc)
        for j, s in enumerate(stats):
            fig.add_trace(go.Bar(name=run_label(r), x=classes, y=[pc[c].get(s, 0.0) for c in classes],
                                 marker_color=color(i), legendgroup=run_label(r), showlegend=j == 0,
                                 customdata=[pc[c].get("support", 0) for c in classes],
                                 hovertemplate=f"{s} %{{y:.2f}}<br>%{{x}} (support %{{customdata}})<extra>{run_label(r)}</extra>"),
                          row=1, col=j + 1)
    fig.update_layout(barmode="group", height=360, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=-0.25))
    fig.update_yaxes(range=[0, 1])
    return fig


def training_curves(histories: dict[str, Iterable[dict]], height: int = 330) -> go.Figure:
    """Loss, accuracy and macro-F1 per epoch; a colour per run, solid = train, dashed = validation."""
    panels = (("loss", "loss"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1"))
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t in panels])
    last = 0
    for i, (name, events) in enumerate(histories.items()):
        df = history_frame(events)
        if df.empty:
            continue
        last = max(last, int(df["epoch"].max()))
        for j, (key, _) in enumerate(panels):
            for part, dash in (("train", "solid"), ("val", "dash")):
                col = f"{part}_{key}"
                if col not in df:
                    continue
                fig.add_trace(go.Scatter(x=df["epoch"], y=df[col], mode="lines+markers", name=f"{name} · {part}",
                                         line=dict(color=color(i), dash=dash), marker=dict(size=4),
                                         legendgroup=f"{name}-{part}", showlegend=j == 0), row=1, col=j + 1)
    fig.update_xaxes(title_text="epoch", dtick=1 if last <= 12 else None)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.3))
    return fig


def reliability_figure(runs: Sequence) -> go.Figure:
    """Reliability diagram: accuracy against mean confidence per bin (after temperature scaling), marker size ~ clips;
    each run's legend entry carries its ECE before → after temperature scaling."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                               line=dict(color="grey", dash="dot")))
    for i, r in enumerate(runs):
        bins = (r.metrics or {}).get("reliability") or []
        if not bins:
            continue
        counts = np.array([b.get("count", 1) for b in bins], dtype=float)
        m = r.metrics or {}
        before, after = num(m.get("ece_before")), num(m.get("ece_after"))
        ece = f" · ECE {before:.3f} → {after:.3f}" if before is not None and after is not None else ""
        fig.add_trace(go.Scatter(
            x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins], mode="lines+markers",
            name=run_label(r) + ece, line=dict(color=color(i)),
            marker=dict(size=6 + 14 * np.sqrt(counts / counts.max())), customdata=counts,
            hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata:.0f} clips<extra></extra>"))
    fig.update_layout(xaxis=dict(title="confidence", range=[0, 1]), yaxis=dict(title="accuracy", range=[0, 1.02]),
                      height=380, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.2))
    return fig


def stored_threshold(run) -> float | None:
    """The run's abstention threshold: calibration.json in its folder, else metrics.json's "calibration"."""
    try:
        t = num(RunFolder(run.path).read(RunFolder.CALIBRATION, default={}).get("threshold"))
    except (OSError, ValueError, AttributeError):
        t = None
    return t if t is not None else num(((run.metrics or {}).get("calibration") or {}).get("threshold"))


def answers_of(metrics: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(confidence, correct) per test clip from metrics.json, or None when the run did not store them."""
    conf, pred, lab = (metrics.get(k) for k in ("test_confidence", "test_predictions", "test_labels"))
    if not conf or not pred or not lab or not len(conf) == len(pred) == len(lab):
        return None
    return np.asarray(conf, dtype=float), np.asarray(pred, dtype=object) == np.asarray(lab, dtype=object)


def coverage_figure(runs: Sequence) -> go.Figure:
    """Accuracy on the answered clips against coverage as the abstention threshold sweeps (calibration.
    coverage_curve over the stored test answers); a star marks the run's stored threshold."""
    from babycry_core.eval.calibration import coverage_curve

    fig = go.Figure()
    for i, r in enumerate(runs):
        got = answers_of(r.metrics or {})
        if got is None:
            continue
        conf, correct = got
        curve = coverage_curve(conf, correct)
        fig.add_trace(go.Scatter(
            x=[p["coverage"] for p in curve], y=[p["accuracy"] for p in curve], mode="lines",
            line=dict(color=color(i)), name=run_label(r), legendgroup=run_label(r),
            customdata=[[p["threshold"], p["answered"]] for p in curve],
            hovertemplate="threshold %{customdata[0]:.3f}: %{customdata[1]} clips answered<br>coverage %{x:.0%}"
                          "<br>accuracy %{y:.0%}<extra></extra>"))
        t = stored_threshold(r)
        answered = conf >= t if t is not None else np.zeros(0, bool)
        if answered.any():
            cov, acc = float(answered.mean()), float(correct[answered].mean())
            fig.add_trace(go.Scatter(
                x=[cov], y=[acc], mode="markers", marker=dict(symbol="star", size=15, color=color(i),
                                                           line=dict(color="black", width=1)),
                legendgroup=run_label(r), name=f"stored threshold {t:.2f}: {cov:.0%} answered, {acc:.0%} right",
                hovertemplate=f"stored threshold {t:.3f}<br>coverage {cov:.0%} · accuracy {acc:.0%}<extra></extra>"))
    fig.update_layout(xaxis=dict(title="coverage (share of test clips answered)", range=[0, 1.02], tickformat=".0%"),
                      yaxis=dict(title="accuracy on answered clips", range=[0, 1.02], tickformat=".0%"),
                      height=380, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.2))
    return fig


# ---------------------------------------------------------------- leaderboard


def leaderboard_frame(obj) -> pd.DataFrame:
    """results/leaderboard.json as a table, whatever its outer shape (a list of rows, {"rows": [...]}, or
    {name: row}); {"mean", "std"} cells become "mean ± std"."""
    if isinstance(obj, dict):
        inner = next((obj[k] for k in ("rows", "results", "leaderboard", "models") if isinstance(obj.get(k), list)), None)
        if inner is None:
            inner = [{"name": k, **v} for k, v in obj.items() if isinstance(v, dict)]
        obj = inner
    rows = [r for r in obj if isinstance(r, dict)] if isinstance(obj, list) else []

    def cell(v):
        if isinstance(v, dict) and "mean" in v:
            return f"{num(v['mean']) or 0:.3f} ± {num(v.get('std')) or 0:.3f}"
        if isinstance(v, (dict, list)):
            return json.dumps(v)[:80]
        return v

    return pd.DataFrame([{k: cell(v) for k, v in r.items()} for r in rows])


def leaky_gap(obj) -> pd.DataFrame:
    """Per model: macro-F1 under the grouped (honest) and random (leaky) protocol, and the gap; empty when the
    leaderboard has no rows with both protocols."""
    if isinstance(obj, dict):
        obj = next((obj[k] for k in ("rows", "results", "leaderboard", "models") if isinstance(obj.get(k), list)), [])
    scores: dict[str, dict[str, float]] = {}
    for r in obj if isinstance(obj, list) else []:
        if not isinstance(r, dict) or r.get("protocol") not in ("grouped", "random"):
            continue
        v = num(r.get("macro_f1"))
        if v is not None:
            scores.setdefault(str(r.get("model", "?")), {})[r["protocol"]] = v
    rows = [{"model": m, "grouped (honest) macro-F1": s["grouped"], "random (leaky) macro-F1": s["random"],
             "gap": s["random"] - s["grouped"]} for m, s in scores.items() if {"grouped", "random"} <= set(s)]
    return pd.DataFrame(rows)


def color(i: int) -> str:
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
    return palette[i % len(palette)]

"""Plotly figures for one recording and its answer. Inputs are plain arrays and dicts; no ML logic here.

    waveform_figure(y, sr)                       amplitude over time (min/max envelope when long)
    spectrogram_figure(spec, ..., saliency=...)  log-mel heatmap, time (s) x mel frequency (Hz), optional overlay
    probability_figure(probabilities, highlight) one horizontal bar per class
    timeline_figure(timeline)                    per-window class probabilities over time
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

from babycry_core.inference import wording as L

ACCENT = "#d9577a"  # the theme's primary colour
MUTED = "#b9a7a1"
HEIGHT = 300
# class colours, stable per label (cry reasons warm, non-cry cool)
PALETTE = ["#d9577a", "#f28e2b", "#8cd17d", "#4e79a7", "#b07aa1", "#edc948", "#76b7b2", "#9c755f", "#bab0ac",
           "#59a14f"]
# saliency overlay: transparent at 0, opaque warm at 1, so the spectrogram shows through where nothing matters
# magma as rgb() strings: plotly.js misreads its first hex stop "#000004" (the floor of every spectrogram showed pink)
SPECTROGRAM = [[i / (len(pc.sequential.Magma) - 1), "rgb({}, {}, {})".format(*pc.hex_to_rgb(c))]
               for i, c in enumerate(pc.sequential.Magma)]
SALIENCY_OVERLAY = [[0.0, "rgba(255,200,0,0.0)"], [0.25, "rgba(255,200,0,0.0)"], [0.5, "rgba(255,160,0,0.45)"],
                    [1.0, "rgba(255,40,0,0.85)"]]


def layout(fig: go.Figure, title: str, height: int = HEIGHT, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height,
                      margin=dict(l=10, r=10, t=40, b=10), **kw)
    return fig


def _pool(a: np.ndarray, factor: int, how: str = "mean") -> np.ndarray:
    """Pool the last axis by `factor` (the last partial block included)."""
    if factor <= 1:
        return a
    n = a.shape[-1]
    pad = (-n) % factor
    if pad:
        a = np.concatenate([a, np.repeat(a[..., -1:], pad, axis=-1)], axis=-1)
    blocks = a.reshape(*a.shape[:-1], -1, factor)
    return blocks.max(axis=-1) if how == "max" else blocks.mean(axis=-1)


def waveform_figure(y: np.ndarray, sr: int, max_points: int = 4000, title: str = "Waveform") -> go.Figure:
    """Amplitude over time; long recordings are drawn as a min/max envelope of at most `max_points` columns."""
    y = np.asarray(y, dtype=np.float32)
    fig = go.Figure()
    if len(y) > max_points:
        k = math.ceil(len(y) / max_points)
        hi, lo = _pool(y, k, "max"), -_pool(-y, k, "max")
        t = (np.arange(len(hi)) * k) / sr
        fig.add_trace(go.Scatter(x=t, y=hi, mode="lines", line=dict(width=0.6, color=ACCENT), hoverinfo="skip",
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=t, y=lo, mode="lines", line=dict(width=0.6, color=ACCENT), fill="tonexty",
                                 fillcolor="rgba(217,87,122,0.45)", hoverinfo="skip", showlegend=False))
    else:
        fig.add_trace(go.Scatter(x=np.arange(len(y)) / sr, y=y, mode="lines", line=dict(width=0.8, color=ACCENT),
                                 showlegend=False))
    fig.update_xaxes(title_text="time (s)", range=[0, max(len(y) / sr, 1e-3)])
    fig.update_yaxes(title_text="amplitude", range=[-1.05, 1.05] if len(y) and np.abs(y).max() > 0.5 else None)
    return layout(fig, title)


def _hz_ticks(freqs: np.ndarray) -> tuple[list[int], list[str]]:
    """Band indices near round frequencies, labelled in Hz (the heatmap rows are mel bands, evenly drawn)."""
    vals, text = [], []
    for f in (100, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000):
        if freqs[0] * 0.9 <= f <= freqs[-1] * 1.1:
            i = int(np.argmin(np.abs(freqs - f)))
            if i not in vals:
                vals.append(i)
                text.append(f"{f // 1000} k" if f >= 1000 else str(f))
    return vals, text


def spectrogram_figure(spec: np.ndarray, hop_seconds: float, freqs_hz: np.ndarray, *,
                       saliency: np.ndarray | None = None, overlay: bool = True, max_columns: int = 1500,
                       title: str = "Log-mel spectrogram (what the model receives)") -> go.Figure:
    """Heatmap of a log-mel spectrogram in dB, time (s) across, mel bands up with their Hz centre frequencies.

    `saliency` (same shape, in [0, 1]) is drawn as a warm transparent layer on top (overlay=True), or on its
    own instead of the spectrogram (overlay=False). Very long spectrograms are pooled to `max_columns`.
    """
    spec = np.asarray(spec, dtype=np.float32)
    k = max(1, math.ceil(spec.shape[1] / max_columns))
    shown = _pool(spec, k)
    t = (np.arange(shown.shape[1]) * k + (k - 1) / 2) * hop_seconds
    rows = np.arange(spec.shape[0])
    hz = np.asarray(freqs_hz, dtype=float)
    hover_hz = np.repeat(hz[:, None], shown.shape[1], axis=1)
    fig = go.Figure()
    if saliency is None or overlay:
        fig.add_trace(go.Heatmap(z=shown, x=t, y=rows, customdata=hover_hz, colorscale="Greys_r" if saliency is not None
                                 else SPECTROGRAM, colorbar=dict(title="dB", len=0.9, x=1.0), name="log-mel",
                                 hovertemplate="%{x:.2f} s, %{customdata:.0f} Hz: %{z:.0f} dB<extra></extra>"))
    if saliency is not None:
        sal = _pool(np.asarray(saliency, dtype=np.float32), k, "max")
        fig.add_trace(go.Heatmap(z=sal, x=t, y=rows, customdata=hover_hz, zmin=0, zmax=1, name="saliency",
                                 colorscale=SALIENCY_OVERLAY if overlay else "YlOrRd",
                                 colorbar=dict(title="saliency", len=0.9, x=1.1 if overlay else 1.0),
                                 hovertemplate="%{x:.2f} s, %{customdata:.0f} Hz: saliency %{z:.2f}<extra></extra>"))
    vals, text = _hz_ticks(hz)
    fig.update_yaxes(title_text="mel frequency (Hz)", tickvals=vals, ticktext=text)
    fig.update_xaxes(title_text="time (s)")
    return layout(fig, title, height=HEIGHT + 40)


def class_colors(classes: list[str]) -> dict[str, str]:
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(classes))}


def probability_figure(probabilities: dict[str, float], highlight: str | None = None,
                       display: Callable[[str], str] = L.display,
                       title: str = "Probability of each class") -> go.Figure:
    """One horizontal bar per class, highest on top; the answer's bar in the accent colour."""
    items = sorted(probabilities.items(), key=lambda kv: kv[1])
    names = [display(c) for c, _ in items]
    vals = [float(p) for _, p in items]
    colors = [ACCENT if c == highlight else MUTED for c, _ in items]
    fig = go.Figure(go.Bar(x=vals, y=names, orientation="h", marker_color=colors, text=[f"{v:.0%}" for v in vals],
                           textposition="outside", hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title_text="probability")
    return layout(fig, title, height=max(180, 48 * len(items) + 70))


def timeline_figure(timeline: list[dict], display: Callable[[str], str] = L.display,
                    title: str = "Class probabilities along the recording") -> go.Figure:
    """Per-window probabilities: one line per class at each window's centre, the window span in the hover."""
    fig = go.Figure()
    if not timeline:
        return layout(fig, title)
    classes = list(timeline[0]["probabilities"])
    colors = class_colors(classes)
    centers = [(w["start"] + w["end"]) / 2 for w in timeline]
    spans = [f"{w['start']:.1f}-{w['end']:.1f} s" for w in timeline]
    for c in classes:
        fig.add_trace(go.Scatter(x=centers, y=[w["probabilities"][c] for w in timeline], mode="lines+markers",
                                 name=display(c), line=dict(color=colors[c], width=2), customdata=spans,
                                 hovertemplate=f"{display(c)}: %{{y:.0%}} (window %{{customdata}})<extra></extra>"))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="probability")
    fig.update_xaxes(title_text="time (s, window centre)")
    return layout(fig, title, legend=dict(orientation="h", y=-0.25))


def contributions_figure(drivers: list[tuple[str, float]], label: str) -> go.Figure:
    """Horizontal bars of per-feature SHAP contributions (XGBoost pred_contribs) to the answer's margin."""
    names = [n for n, _ in drivers][::-1]
    vals = [v for _, v in drivers][::-1]
    fig = go.Figure(go.Bar(x=vals, y=names, orientation="h",
                           marker_color=["#d9577a" if v > 0 else "#5a7bd9" for v in vals]))
    fig.update_layout(title=f"Features that pushed the answer towards “{label}” (red) or away (blue)",
                      xaxis_title="contribution to the class margin (SHAP)", height=80 + 28 * len(names),
                      margin=dict(l=10, r=10, t=50, b=40))
    return fig


def audioset_figure(timeline: dict, title: str = "YAMNet's AudioSet view, window by window") -> go.Figure:
    """Heatmap of YAMNet's scores: its most confident AudioSet classes (rows) over its 0.975 s windows, every
    0.48 s (columns), "Baby cry, infant cry" first; each score is an independent sigmoid in [0, 1]."""
    starts, classes = np.asarray(timeline["starts"], float), list(timeline["classes"])
    z = np.asarray(timeline["scores"], float)  # (classes, windows)
    fig = go.Figure(go.Heatmap(z=z, x=starts + 0.4875, y=classes, zmin=0, zmax=1, colorscale="Blues",
                               colorbar=dict(title="score", len=0.9),
                               hovertemplate="%{y}, window centred at %{x:.2f} s: %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="")
    fig.update_xaxes(title_text="time (s), window centre")
    return layout(fig, title, height=max(HEIGHT, 60 + 28 * len(classes)))

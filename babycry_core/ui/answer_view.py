"""Classify's two-step answer, as sentences and figures: 1. is it a cry?  2. why? (only for a cry).

Inputs are a `Prediction` (inference / answer) and the predictor that made it; no ML here. Works for the
two-step answer (a `TwoStepPredictor`: a cry detector, then a reason model on the crying part) and for older
single models, which answer both questions at once (the nine-class two-stage model) or only the second
(a five-class reason model, which cannot say "no cry").

    is_two_step(predictor) / explained(predictor) / answers_no_cry(predictor)
    step1(pred, predictor)        -> (kind, sentence)   kind: "info" | "success" | "warning" | "caption"
    step2(pred)                   -> (kind, sentence) or None when there is no cry; green ("success") only for a
                                     reason validated on held-out babies (reason_naming.json)
    held_out_text(reason)         -> the reason model's held-out accuracy beside always the majority, or None
    reasons_to_check(pred, n)     -> the reasons worth checking first (with tips in labels.TIPS)
    cry_timeline_figure(cry, duration)          per-window cry probability with the threshold drawn
    reason_figure(reason)                       calibrated reason probabilities beside the prior
"""
from __future__ import annotations

import math

import plotly.graph_objects as go

from babycry_core.app import words as L
from babycry_core.ui.audio_plots import ACCENT, MUTED, layout

HEARD = {"speech": "speech", "laugh": "laughing", "noise": "noise", "silence": "a quiet room"}
PRIOR_COLOR = "#cfc6c3"
UNNAMED_COLOR = "#8a9bb0"  # a reason that is not named: neutral, never the accent / success colour


# ---------------------------------------------------------------- what kind of predictor

def is_two_step(predictor) -> bool:
    """A cry detector followed by a reason model (answer.TwoStepPredictor)."""
    return hasattr(predictor, "detector") and hasattr(predictor, "reason")


def explained(predictor):
    """The model whose input the page draws and whose decision the saliency map explains: the reason model of a
    two-step predictor, else the predictor itself."""
    return predictor.reason if is_two_step(predictor) else predictor


def answers_no_cry(predictor) -> bool:
    """Whether the predictor can say "no cry" (a detector, or a model with non-cry classes)."""
    return is_two_step(predictor) or any(not L.is_cry(c) for c in predictor.labels)


def _pct(p) -> str:
    return f"{float(p):.0%}" if isinstance(p, (int, float)) and math.isfinite(p) else "?"


def _level(db: float) -> str:
    return "−∞ dBFS" if not math.isfinite(db) else f"{db:.0f} dBFS"


# ---------------------------------------------------------------- sentences

def step1(pred, predictor) -> tuple[str, str]:
    """Step 1, "Is it a cry?": (kind, sentence)."""
    from babycry_core.app.answer import SILENCE_DBFS

    cry = pred.cry or {}
    if pred.status == "silence":
        return "info", (f"Silent recording: nothing to hear (level {_level(pred.level_dbfs)}, below "
                        f"{SILENCE_DBFS:.0f} dBFS). No model ran.")
    if not answers_no_cry(predictor):
        return "caption", ("This model knows only cry reasons, so it cannot tell a cry from other sounds: it "
                           "takes the recording to be a cry. Choose the two-step answer to check that first.")
    p = cry.get("probability")
    if cry.get("detected", L.is_cry(pred.label)):
        secs = cry.get("seconds")
        part = (f", {secs:.1f} s of crying in {pred.duration:.1f} s" if "windows" in cry and isinstance(secs, (int, float))
                else "")
        return "info", f"Crying detected (cry probability {_pct(p)}{part})."
    heard = pred.heard if pred.heard and pred.heard != "cry" else pred.label
    if pred.status == "unsure":
        return "warning", pred.message
    return "info", f"No cry detected: it sounds like {HEARD.get(heard, L.display(heard).lower())} (cry probability {_pct(p)})."


def step2(pred) -> tuple[str, str] | None:
    """Step 2, "Why?", only for a cry: a named reason ("success", only when validated), else why not."""
    reason = pred.reason
    if pred.status in ("silence", "no_cry", "unsure") or not reason:
        return None
    label = reason.get("label")
    two_step = "order" in reason
    if label and two_step:  # validated: held-out babies confirm this reason at this probability
        p = (reason.get("probabilities") or {}).get(label, pred.confidence)
        return "success", f"Detected: {L.display(label)} (probability {_pct(p)})."
    if label:  # an older single model names its top class above an abstention threshold: not green
        return "info", pred.message
    if two_step:  # the two-step answer: no reason reaches its validated naming threshold
        first = ", ".join(L.display(r).lower() for r in reason["order"][:3])
        return "warning", ("Reason unclear from the sound: no reason is probable enough here to have been "
                           f"right on held-out babies. Worth checking first: {first}.")
    return "warning", pred.message  # an older single model: "Not sure: hunger cry 40 %, tired cry 30 %."


def held_out_text(reason: dict | None) -> str | None:
    """The held-out figure behind step 2: the top reason's accuracy beside always answering the majority."""
    h = (reason or {}).get("held_out") or {}
    acc, base = h.get("accuracy"), h.get("baseline_accuracy")
    if not isinstance(acc, (int, float)) or not isinstance(base, (int, float)):
        return None
    n = f" ({h['n']} recordings" + (f", {h['groups']} babies" if h.get("groups") else "") + ")" if h.get("n") else ""
    majority = L.display(h["baseline"]).lower() if h.get("baseline") else "the most common reason"
    verdict = ("no better than" if acc <= base else "ahead of")
    return (f"On babies it never trained on{n}, the reason model's top reason was right {acc:.0%} of the time; "
            f"always answering “{majority}” was right {base:.0%}: the model is {verdict} that baseline.")


def reasons_to_check(pred, n: int = 2) -> list[str]:
    """The reasons worth checking first, that have tips: the named one; else the first of the reason order
    (two-step), else the two most probable (an older model's "Not sure")."""
    reason = pred.reason or {}
    if pred.status in ("silence", "no_cry", "unsure") or not reason:
        return []
    if reason.get("label"):
        shown = [reason["label"]]
    elif reason.get("order"):
        shown = list(reason["order"])
    else:
        probs = reason.get("probabilities") or pred.probabilities
        shown = sorted(probs, key=lambda c: -probs[c])
    return [c for c in shown if c in L.TIPS][:n]


# ---------------------------------------------------------------- figures

def cry_timeline_figure(cry: dict, duration: float, title: str = "Is it a cry? Along the recording",
                        episodes: list[dict] | None = None) -> go.Figure:
    """P(cry) of each detector window at its centre (its span in the hover), the detector's threshold as a dashed
    line; windows at or above it in the accent colour, the others muted. episodes ({"start", "end"} in s, as
    `detect` finds them) are shaded bands behind the line."""
    wins = cry.get("windows") or []
    thr = cry.get("threshold")
    fig = go.Figure()
    for e in episodes or []:
        fig.add_vrect(x0=e["start"], x1=max(e["end"], e["start"] + 0.5), fillcolor=ACCENT, opacity=0.15, line_width=0,
                      layer="below")
    if wins:
        above = [thr is not None and w["p"] >= thr for w in wins]
        fig.add_trace(go.Scatter(
            x=[(w["start"] + w["end"]) / 2 for w in wins], y=[w["p"] for w in wins], mode="lines+markers",
            name="P(cry) per window", line=dict(color=ACCENT, width=2),
            marker=dict(size=8, color=[ACCENT if a else MUTED for a in above]),
            customdata=[f"{w['start']:.1f}-{w['end']:.1f} s" for w in wins],
            hovertemplate="window %{customdata}: P(cry) %{y:.0%}<extra></extra>"))
    if isinstance(thr, (int, float)):
        fig.add_hline(y=min(max(thr, 0.0), 1.0), line=dict(color="#555", dash="dash", width=1.5),
                      annotation_text=f"threshold {thr:.2f}", annotation_position="top left")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text="P(cry)")
    fig.update_xaxes(range=[0, max(duration, max((w["end"] for w in wins), default=0.0), 1e-3)], title_text="time (s)")
    return layout(fig, title, height=240, showlegend=False)


def reason_figure(reason: dict, title: str = "Why? The reason model's probabilities beside the prior") -> go.Figure:
    """Per reason: this recording's calibrated probability next to the prior (its share among the corpus's cries);
    the named reason (if any) in the accent colour, the others neutral; a tick where a reason would be named."""
    probs = reason.get("probabilities") or {}
    prior = reason.get("prior") or {}
    thresholds = reason.get("thresholds") or {}
    named = reason.get("label")
    order = sorted(probs, key=lambda c: probs[c])  # highest on top of a horizontal bar chart
    names = [L.display(c) for c in order]
    fig = go.Figure()
    if prior:
        known = bool(reason.get("held_out"))  # without reason_naming.json the prior is uniform, not the corpus's
        fig.add_trace(go.Bar(x=[prior.get(c, 0.0) for c in order], y=names, orientation="h",
                             name="prior (share among cries)" if known else "prior (uniform: no reason_naming.json)",
                             marker_color=PRIOR_COLOR, hovertemplate="%{y}: prior %{x:.0%}<extra></extra>"))
    fig.add_trace(go.Bar(x=[probs[c] for c in order], y=names, orientation="h", name="this recording",
                         marker_color=[ACCENT if c == named else UNNAMED_COLOR for c in order],
                         text=[f"{probs[c]:.0%}" for c in order], textposition="outside",
                         hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    ticks = [(c, t) for c, t in thresholds.items() if c in probs and isinstance(t, (int, float))]
    if ticks:
        fig.add_trace(go.Scatter(x=[t for _, t in ticks], y=[L.display(c) for c, _ in ticks], mode="markers",
                                 name="named from here (validated)", marker=dict(symbol="line-ns-open", size=18,
                                                                                 color="#333", line=dict(width=2)),
                                 hovertemplate="%{y}: named at P ≥ %{x:.0%}<extra></extra>"))
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title_text="probability")
    return layout(fig, title, height=max(200, 56 * len(order) + 90), barmode="group",
                   legend=dict(orientation="h", y=-0.2))

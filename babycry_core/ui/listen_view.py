"""The Listen page's pieces: the notes, the WebRTC settings, the live panel (alert banner, probability strip,
episodes table) and the optional alert sound. The listening itself is `babycry_core.detection.live.LiveListener`.

    PRIVACY_NOTE, SECURE_ORIGIN_NOTE   what the page must say
    rtc_configuration()      {"iceServers": []} unless BABYCRY_ICE_SERVERS names some (JSON list or URLs)
    live_predictor()         the default two-step answer (cry detector + reason model), or None after a notice
    session_listener(...)    the session's LiveListener (st.session_state), with the rule from the sliders
    streamer(listener)       the streamlit-webrtc component, audio only, SENDONLY, frames to the listener
    live_panel(listener, sound, playing)   banner + strip + table; redrawn every second while playing
    strip_figure(view), episodes_frame(view), reason_text(reason), beep_wav()
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from babycry_core.app import words as L

KEY = "listen"  # the webrtc_streamer key
LISTENER = "listen_listener"  # st.session_state key of the LiveListener
ICE_ENV = "BABYCRY_ICE_SERVERS"
CRY_COLOR, THRESHOLD_COLOR, EPISODE_COLOR = "#d62728", "#7f7f7f", "rgba(214,39,40,0.15)"

PRIVACY_NOTE = ("**Nothing is recorded to disk.** The sound is analysed in memory as it arrives: the page keeps "
                "only the last minute, and forgets it when you close the tab. Sound is saved only if you ask: "
                "after *Stop*, a button offers that last minute as a WAV download to your own device.")
SECURE_ORIGIN_NOTE = ("**Microphone access needs a secure origin.** On this computer, open the app at "
                      "`http://localhost:8501` (or `127.0.0.1`): browsers treat localhost as secure. From another "
                      "device (a phone by the cot), plain `http://<this-computer>:8501` is blocked: serve the app over "
                      "**HTTPS behind a reverse proxy** you control (Caddy, nginx) and open the `https://` address. "
                      "If the devices cannot reach each other directly, set `BABYCRY_ICE_SERVERS` to your STUN/TURN "
                      "servers (none are used by default).")


def rtc_configuration() -> dict:
    """No ICE servers by default (none on the internet are reachable here; localhost needs none). The env var
    BABYCRY_ICE_SERVERS: a JSON list of RTCIceServer dicts, or comma-separated URLs (stun:..., turn:...)."""
    raw = os.environ.get(ICE_ENV, "").strip()
    if not raw:
        return {"iceServers": []}
    try:
        servers = json.loads(raw)
    except ValueError:
        servers = [{"urls": [u.strip() for u in raw.split(",") if u.strip()]}]
    if isinstance(servers, dict):
        servers = [servers]
    return {"iceServers": servers}


def live_predictor():
    """The two-step answer over the default cry detector (cached for all sessions), or None after one notice."""
    from babycry_core.app import catalog
    from babycry_core.ui import app_state as S

    det, _ = catalog.default_pair()
    if det is None:
        st.info("Listening needs the cry detector, and there is none in `checkpoints/` "
                "(`checkpoints/default.json` names the shipped one).", icon=":material/info:")
        return None
    try:
        predictor = S.cached_predictor(det)
    except Exception as e:  # a damaged checkpoint
        st.error(f"The cry detector {det.name} could not be loaded: {S.one_line(e)}")
        return None
    if not hasattr(predictor, "detector"):
        st.error(f"{det.name} is not a cry detector.")
        return None
    if predictor.detector.fusion_error:
        st.warning(predictor.detector.fusion_error, icon=":material/hearing_disabled:")
    return predictor


def session_listener(predictor, on_seconds: float, window_seconds: float):
    """This browser session's LiveListener (made once; a new detector makes a new one), rule kept up to date."""
    from babycry_core.app.answer import live_listener

    lis = st.session_state.get(LISTENER)
    if lis is None or lis.predictor is not predictor:
        lis = st.session_state[LISTENER] = live_listener(predictor, on_seconds, window_seconds)
    lis.set_rule(on_seconds, window_seconds)
    return lis


def streamer(listener):
    """The microphone, via streamlit-webrtc: audio only, sent to the server (SENDONLY), every frame queued to
    the listener from WebRTC's own thread. Returns the component's context, or None when it is missing."""
    try:
        from streamlit_webrtc import WebRtcMode, webrtc_streamer
    except ImportError:
        st.error("The microphone component is not installed: `pip install streamlit-webrtc` (in requirements.txt).")
        return None

    async def frames_in(frames):  # runs in the WebRTC worker thread, never in the script
        listener.feed_frames(frames)
        return frames

    try:
        return webrtc_streamer(
            key=KEY, mode=WebRtcMode.SENDONLY, rtc_configuration=rtc_configuration(),
        # the raw microphone: browser noise suppression and gain control would damp a cry
            media_stream_constraints={"video": False, "audio": {"echoCancellation": False, "noiseSuppression": False,
                                                                "autoGainControl": False}},
            queued_audio_frames_callback=frames_in, on_audio_ended=listener.stop, async_processing=True,
            audio_receiver_size=8, translations={"start": "Start listening", "stop": "Stop"})
    except Exception as e:  # (Streamlit's rerun/stop signals are BaseExceptions and pass through)
        from babycry_core.ui.app_state import one_line

        st.error(f"The microphone component could not start here: {one_line(e)}")
        return None


# ---------------------------------------------------------------- drawing

def reason_text(reason: dict | None) -> str:
    """The reason step as the two-step answer gives it: a named reason only where validated."""
    if not reason:
        return "—"
    if reason.get("label"):
        p = (reason.get("probabilities") or {}).get(reason["label"])
        return f"{L.display(reason['label'])}" + (f" ({p:.0%})" if isinstance(p, (int, float)) else "")
    first = ", ".join(L.display(r).lower() for r in (reason.get("order") or [])[:3])
    return "Reason unclear from the sound" + (f"; worth checking first: {first}" if first else "")


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def episodes_frame(view) -> pd.DataFrame:
    """One row per episode, newest first (the open one included, marked): start, duration, peak, reason."""
    rows = []
    eps = [(e, False) for e in view.episodes] + ([(view.active, True)] if view.active is not None else [])
    for e, open_ in reversed(eps):
        rows.append({"start": _clock(view.clock(e.start)),
                     "duration": f"{e.duration:.1f} s" + (" (crying now)" if open_ else ""),
                     "peak P(cry)": f"{e.peak:.0%}",
                     "reason": reason_text(view.active_reason if open_ else e.reason)})
    return pd.DataFrame(rows, columns=["start", "duration", "peak P(cry)", "reason"])


def strip_figure(view, span: float = 60.0) -> go.Figure:
    """P(cry) of the last `span` seconds (x: seconds before now; each window at its middle), the threshold,
    and the crying episodes shaded."""
    win = view.rule.win_seconds
    x = view.starts + win / 2 - view.seconds
    fig = go.Figure(go.Scatter(x=x, y=view.p, mode="lines", line={"color": CRY_COLOR, "width": 2}, fill="tozeroy",
                               fillcolor="rgba(214,39,40,0.08)", name="P(cry)",
                               hovertemplate="%{x:.1f} s: P(cry) %{y:.0%}<extra></extra>"))
    fig.add_hline(y=view.threshold, line={"dash": "dash", "color": THRESHOLD_COLOR},
                  annotation_text=f"cry threshold {view.threshold:.0%}", annotation_position="top left")
    for e in view.episodes + ([view.active] if view.active is not None else []):
        a, b = e.start - view.seconds, (0.0 if e is view.active else e.end - view.seconds)
        if b > -span:
            fig.add_vrect(x0=max(a, -span), x1=b, fillcolor=EPISODE_COLOR, line_width=0)
    fig.update_layout(height=230, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                      title="Cry probability, last minute", xaxis={"range": [-span, 0], "title": "seconds ago"},
                      yaxis={"range": [0, 1.02], "tickformat": ".0%"})
    return fig


def beep_wav(sr: int = 16000) -> bytes:
    """Three short beeps (generated, 880 Hz)."""
    from babycry_core.app.evidence import wav_bytes

    t = np.arange(int(0.18 * sr)) / sr
    tone = (0.4 * np.sin(2 * np.pi * 880 * t) * np.hanning(len(t))).astype(np.float32)
    gap = np.zeros(int(0.12 * sr), np.float32)
    return wav_bytes(np.concatenate([tone, gap, tone, gap, tone]), sr)


def _panel(listener, sound: bool) -> None:
    view = listener.snapshot()
    if view.error:
        st.warning(view.error)
    if view.active is not None:
        e = view.active
        st.error(f"### Crying now\nSustained crying since {_clock(view.clock(e.start))} "
                 f"({e.duration:.0f} s so far, peak cry probability {e.peak:.0%}). "
                 f"{reason_text(view.active_reason)}.", icon=":material/notifications_active:")
        if sound:  # kept on the page while the alert lasts, so it plays once per alert
            st.audio(beep_wav(), format="audio/wav", autoplay=True)
    elif len(view.p):
        level = f"{view.level_dbfs:.0f} dBFS" if np.isfinite(view.level_dbfs) else "silent"
        st.success(f"No sustained crying (listening since {_clock(view.listening_since)}; sound level {level}).",
                   icon=":material/hearing:")
    st.plotly_chart(strip_figure(view), key="listen_strip")
    r = view.rule
    st.caption(f"Alert rule: at least {r.on_seconds:g} s of crying (windows with P(cry) ≥ {view.threshold:.0%}, "
               f"{r.hop_seconds:g} s each) within the last {r.window_seconds:g} s; it ends after "
               f"{r.off_seconds:g} s without crying, so one spell gives one alert."
               + (f" The alert waits until the whole-recording check hears the spell as crying (P(cry) ≥ "
                  f"{r.confirm_threshold:.0%} over up to {r.confirm_seconds:g} s): laughing and babbling often look "
                  "like crying 2 s at a time." if r.confirm_threshold is not None else ""))
    st.subheader("Episodes")
    table = episodes_frame(view)
    if table.empty:
        st.caption("No crying episode yet.")
    else:
        st.dataframe(table, hide_index=True)
        st.download_button("Download the episodes (CSV)", table.to_csv(index=False).encode(),
                           "babycry_episodes.csv", "text/csv")


def live_panel(listener, sound: bool, playing: bool) -> None:
    """The banner, strip and table: redrawn every second while the microphone is on, once otherwise."""
    st.fragment(_panel, run_every=1.0 if playing else None)(listener, sound)

"""Listen live: the browser's microphone, the cry detector every 0.5 s, an alert when crying lasts, and the
episodes of the night with the two-step answer's reason. The listening is babycry_core.detection.live; the drawing,
the notes and the WebRTC settings are babycry_core.ui.listen_view."""
import streamlit as st

from babycry_core.app import words as L
from babycry_core.ui import listen_view as V

st.set_page_config(page_title="Listen · babycry", page_icon="👶", layout="wide")
st.title("Listen")
st.markdown("Leave a laptop or a phone by the cot with this page open: it listens through the browser's "
            "microphone, asks the cry detector *is it a cry?* every half second, and raises an alert when the "
            "crying lasts. Each crying episode goes into the table below with the two-step answer's reason.")
st.info(V.PRIVACY_NOTE, icon=":material/lock:")
st.info(V.SECURE_ORIGIN_NOTE, icon=":material/https:")
st.warning(L.SAFETY + " A missed alert is possible: this page does not replace looking after the baby.",
           icon=":material/medical_services:")

predictor = V.live_predictor()
if predictor is None:
    st.stop()

c1, c2, c3 = st.columns(3)
on_s = c1.slider("Alert after this much crying (s)", 1.0, 10.0, 3.0, 0.5,
                 help="Seconds of windows whose cry probability reaches the detector's threshold.")
within = c2.slider("… within the last (s)", 2.0, 30.0, 5.0, 0.5,
                   help="How far back the crying is counted. The alert ends after a quiet spell (see below the strip).")
sound = c3.toggle("Sound on alert", value=False, help="Three beeps when an alert starts (off by default).")
if within < on_s:
    st.caption(f"The look-back is at least the crying needed: using {on_s:g} s.")
    within = on_s
listener = V.session_listener(predictor, on_s, within)

st.caption(f"Cry detector `{predictor.detector.run_id}`"
           + (f", reasons from `{predictor.reason.run_id}`" if getattr(predictor, "reason", None) else
              " (no reason model: episodes get no reason)") + ".")
ctx = V.streamer(listener)
playing = bool(ctx is not None and ctx.state.playing)
if ctx is None or not (playing or ctx.state.signalling):
    listener.stop()  # STOP pressed (or never started): an open episode closes with its reason
    st.caption("Press **Start listening** and allow the microphone.")

V.live_panel(listener, sound, playing)

if not playing and len(listener.ring):
    st.download_button("Download the last minute of sound (WAV)", listener.wav_bytes(), "babycry_last_minute.wav",
                       "audio/wav", help="Only when you ask: the sound goes to your device, never to the server's disk.")

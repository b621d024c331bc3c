"""Classify one recording: show it, answer, explain the answer, and say what to try."""
import json
from pathlib import Path

import streamlit as st

from babycry_core import audio, explain, labels as L, paths, synth
from babycry_core.ui import app_state as S, audio_plots as P

st.set_page_config(page_title="Classify · babycry", page_icon="👶", layout="wide")
st.title("Why is the baby crying?")

usable, corrupt = S.usable_runs()
S.corrupt_runs_warning(corrupt)
if not usable:
    S.no_checkpoint_notice()
    st.stop()
run = S.run_selectbox(usable)
predictor = S.predictor_or_error(run)
if predictor is None:
    st.stop()
cfg = predictor.cfg

source = st.radio("Recording", ["Upload a file", "Record", "Sample clip"], horizontal=True)
clip = None  # (bytes, name)
if source == "Upload a file":
    f = st.file_uploader("An audio file (phone recordings welcome)",
                         type=[e.lstrip(".") for e in audio.SUPPORTED_EXTENSIONS])
    clip = (f.getvalue(), f.name) if f else None
elif source == "Record":
    rec = st.audio_input("Record a few seconds of crying")
    clip = (rec.getvalue(), "recording.wav") if rec else None
else:
    samples = S.sample_clips(str(paths.data_dir()))
    if samples:
        path = Path(samples[st.selectbox("Clip from the Donate-a-Cry corpus", list(samples))])
        try:
            clip = (path.read_bytes(), path.name)
        except OSError as e:
            st.error(f"Cannot read {path.name}: {e.strerror or e}")
    else:
        st.caption("No corpus here (`python -m babycry_core data build` gets it): generated demo signals.")
        demos = S.demo_clips(cfg.sample_rate)
        clip = demos[st.selectbox("Demo signal", list(demos))]
if clip is None:
    st.info(f"Upload or record a baby's cry to classify it. Formats: {', '.join(audio.SUPPORTED_EXTENSIONS)}; "
            f"up to {audio.MAX_UPLOAD_BYTES // 2**20} MB.")
    st.stop()

data, name = clip
try:
    y = S.decode(data, name, cfg.sample_rate)
    spec = S.spectrogram(data, name, json.dumps(cfg.to_dict(), sort_keys=True))
except audio.AudioError as e:
    y = None
    st.error(str(e))
if y is None:
    st.stop()

st.subheader("1 · The recording")
st.audio(synth.to_wav_bytes(y, cfg.sample_rate), format="audio/wav")  # no gain change, unlike st.audio(array)
lo, hi = cfg.band_hz
st.caption(f"{name} · {len(y) / cfg.sample_rate:.1f} s · played as the model hears it: "
           f"{cfg.sample_rate / 1000:g} kHz, {lo:.0f}–{hi:.0f} Hz")
freqs, hop_s = P.mel_frequencies(cfg.n_mels, lo, hi), cfg.hop_length / cfg.sample_rate
c1, c2 = st.columns(2)
c1.plotly_chart(P.waveform_figure(y, cfg.sample_rate))
c2.plotly_chart(P.spectrogram_figure(spec, hop_s, freqs))

try:
    pred = predictor.predict_waveform(y, name)
except Exception as e:  # audio errors (e.g. no samples) or a model that fails on this input
    pred = None
    st.error(str(e) if isinstance(e, audio.AudioError) else f"The model {run.run_id} failed: {S.one_line(e)}")
if pred is None:
    st.stop()

st.subheader("2 · The answer")
{"detected": st.success, "not_sure": st.warning}.get(pred.status, st.info)(pred.message)
if pred.status == "silence":
    st.caption("The model did not run: the recording is too quiet to contain a cry.")
else:
    st.plotly_chart(P.probability_figure(pred.probabilities, pred.label))
    if pred.timeline:
        st.plotly_chart(P.timeline_figure(pred.timeline))
        st.caption(f"The recording is longer than one {cfg.clip_seconds:g} s window: each window is classified "
                   "(half overlapping) and the answer averages them.")

    st.subheader("3 · Why this answer?")
    methods = explain.available_methods(predictor)
    if not methods:
        st.info("Saliency maps are not available for this kind of model.")
    else:
        c1, c2 = st.columns([2, 1])
        method = c1.radio("Method", methods, horizontal=True, format_func={
            "occlusion": "Occlusion (silence one patch at a time)", "gradcam": "Grad-CAM (last conv layer)"}.get)
        overlay = c2.toggle("Overlay on the spectrogram", value=True)
        try:
            with st.spinner("Computing the saliency map…"):
                sal = S.cached_saliency(run.path, data, name, method)
        except Exception as e:  # an explanation failure must not hide the answer above
            sal = None
            st.warning(f"The saliency map could not be computed: {S.one_line(e)}")
        if sal is not None:
            st.plotly_chart(P.spectrogram_figure(spec, hop_s, freqs, saliency=sal, overlay=overlay,
                                                 title=f"What the model relied on for “{L.display(pred.label)}”"))
            st.caption(("No region clearly supports this answer: the evidence is spread thin. " if sal.max() == 0
                        else "Warm = regions that support the answer most. ") + (
                "Each patch was replaced by silence; the more the answer's probability dropped, the warmer."
                if method == "occlusion" else "Gradient-weighted activations of the last convolutional block.")
                + (f" Only the first {cut:.0f} s are explained." if (cut := explain.covered_seconds(y, cfg)) else ""))

with st.expander("More evidence: XGBoost feature drivers, YAMNet's AudioSet view"):
    drivers = explain.feature_drivers(predictor, y)
    if drivers:
        st.plotly_chart(P.contributions_figure(drivers, L.display(pred.label)))
    if st.toggle("Ask YAMNet (AudioSet-pretrained) what it hears", value=False):
        try:
            with st.spinner("Loading YAMNet…"):
                ev = S.cached_audioset(data, name, cfg.sample_rate)
            st.metric("YAMNet: “Baby cry, infant cry”", f"{ev['baby_cry']:.0%}")
            st.dataframe({"AudioSet class": [c for c, _ in ev["top"]], "score": [round(p, 3) for _, p in ev["top"]]})
        except RuntimeError as e:  # YamnetUnavailable: one sentence with the fix
            st.warning(str(e))

st.subheader("4 · What to try")
shown = {"detected": [pred.label], "not_sure": [c for c, _ in pred.top(2)]}.get(pred.status, [])
tip_classes = [c for c in shown if c in L.TIPS]
for c in tip_classes:
    st.markdown(f"**{L.display(c)}**\n" + "\n".join(f"- {t}" for t in L.TIPS.get(c, [])))
if not tip_classes:
    st.markdown("Nothing specific to try for this answer.")
st.warning(L.SAFETY, icon=":material/medical_services:")

"""The Classify page's sections: choosing a recording, the recording as the model hears it, step 1 (is it a
cry?), step 2 (why?), the saliency map, more evidence and what to try. The page decodes and predicts, then calls
these in turn; each draws one section with Streamlit."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from babycry_core import paths
from babycry_core.app import answer, evidence, words as L
from babycry_core.ui import answer_view as V, app_state as S, audio_plots as P


def choose_clip(cfg):
    """(bytes, name) of the recording the user uploads, records or picks (a corpus clip or a demo), or None."""
    source = st.radio("Recording", ["Upload a file", "Record", "Sample clip"], horizontal=True)
    if source == "Upload a file":
        f = st.file_uploader("An audio file (phone recordings welcome)",
                             type=[e.lstrip(".") for e in answer.SUPPORTED_EXTENSIONS])
        return (f.getvalue(), f.name) if f else None
    if source == "Record":
        rec = st.audio_input("Record a few seconds of crying")
        return (rec.getvalue(), "recording.wav") if rec else None
    samples = S.sample_clips(str(paths.data_dir()))
    if samples:
        path = Path(samples[st.selectbox("Clip from the Donate-a-Cry corpus", list(samples))])
        try:
            return path.read_bytes(), path.name
        except OSError as e:
            st.error(f"Cannot read {path.name}: {e.strerror or e}")
            return None
    st.caption("No corpus here (`python -m babycry_core data build` gets it): generated demo signals.")
    demos = S.demo_clips(cfg.sample_rate)
    return demos[st.selectbox("Demo signal", list(demos))]


def recording(y, spec, name: str, cfg, sr: int):
    """The player, the waveform and the spectrogram the model sees. Returns (mel frequencies, hop in s)."""
    st.subheader("The recording")
    st.audio(evidence.wav_bytes(y, sr), format="audio/wav")  # no gain change, unlike st.audio(array)
    lo, hi = cfg.band_hz
    st.caption(f"{name} · {len(y) / sr:.1f} s · played as the model hears it: "
               f"{cfg.sample_rate / 1000:g} kHz, {lo:.0f}–{hi:.0f} Hz")
    freqs, hop_s = evidence.mel_centres(cfg), cfg.frame_hop_seconds
    c1, c2 = st.columns(2)
    c1.plotly_chart(P.waveform_figure(y, sr))
    c2.plotly_chart(P.spectrogram_figure(spec, hop_s, freqs))
    return freqs, hop_s


LONG_SECONDS = 30.0  # from this long on, a recording's crying episodes are found and drawn (as `detect` finds them)


def long_recording_episodes(y, predictor):
    """whole_recording.Recording of a long recording (>= LONG_SECONDS) by the rule of `detect` and the Listen page, with
    each episode's reason step; None for a short one or a predictor without a cry detector."""
    det = getattr(predictor, "detector", None)
    if det is None or len(y) < LONG_SECONDS * det.cfg.sample_rate:
        return None
    return answer.episodes_of(y, predictor)


def episodes_frame(rec) -> pd.DataFrame:
    """One row per episode of a recording: start and end (m:ss into it), duration, peak P(cry), reason."""
    from babycry_core.ui.listen_view import reason_text

    return pd.DataFrame([{"start": _mss(e.start), "end": _mss(e.end), "duration": f"{e.duration:.1f} s",
                          "peak P(cry)": f"{e.peak:.0%}", "reason": reason_text(e.reason)} for e in rec.episodes],
                        columns=["start", "end", "duration", "peak P(cry)", "reason"])


def _mss(t: float) -> str:
    return f"{int(t) // 60}:{int(t) % 60:02d}"  # m:ss into the recording


def _secs(x: float) -> str:
    return f"{x:.1f} s" if x < 60 else f"{x:.0f} s"  # as the table's durations, to the tenth while short


def _episodes(rec, detected: bool) -> None:
    n, r = len(rec.episodes), rec.rule
    rule = f"{r.on_seconds:g} s of crying within {r.window_seconds:g} s"
    if n and not detected:  # short cries in a long recording: the whole-recording answer says no cry
        first = rec.episodes[0]
        st.warning(f"Crying in part of this recording: {n} episode{'s' if n != 1 else ''} ({_secs(rec.cry_seconds)}), "
                   f"the first at {_mss(first.start)}. The answer above weighs the "
                   f"whole {rec.duration / 60:.1f} min, most of which is not crying.")
    st.markdown(f"**{n} crying episode{'s' if n != 1 else ''}**, {_secs(rec.cry_seconds)} of crying in "
                f"{rec.duration / 60:.1f} min (shaded above)." if n else f"**No crying episode**: nowhere {rule}.")
    if n:
        st.dataframe(episodes_frame(rec), hide_index=True)
    st.caption(f"An episode starts with {rule} above the threshold and ends after {r.off_seconds:g} s without crying, "
               "as `python -m babycry_core detect` and the Listen page decide; each gets the reason step on its own sound.")


def step1(pred, predictor, two_step: bool, why, y=None) -> None:
    """Is it a cry? The answer, and the per-window cry probability on the recording's timeline; for a long
    recording (y given, >= LONG_SECONDS) its crying episodes on that timeline and in a table."""
    st.subheader("Step 1 · Is it a cry?")
    kind, text = V.step1(pred, predictor)
    getattr(st, kind)(text)
    if getattr(getattr(predictor, "detector", None), "fusion_error", None):
        st.warning(predictor.detector.fusion_error, icon=":material/hearing_disabled:")
    if two_step and (pred.cry or {}).get("windows"):
        rec = long_recording_episodes(y, predictor) if y is not None else None
        eps = [e.to_dict() for e in rec.episodes] if rec is not None else None
        st.plotly_chart(V.cry_timeline_figure(pred.cry, pred.duration, episodes=eps))
        det = predictor.detector
        d = det.cfg
        st.caption(f"Each point is one {d.clip_seconds:g} s window, scored every {d.window_hop_samples / d.sample_rate:g} s by the "
                   f"detector ({det.kind}); the dashed line is the detector's threshold, set on validation recordings. The recording's cry probability is the mean "
                   "of its most cry-like third of windows. The reason model hears only the stretches above the line (the whole "
                   "recording when they add up to less than a second).")
        if rec is not None:
            _episodes(rec, detected=bool((pred.cry or {}).get("detected")))
        if len(pred.timeline) > 1:
            with st.expander("What the detector heard in each window"):
                st.plotly_chart(P.timeline_figure(pred.timeline, title="Cry, speech, laugh, noise, silence along the "
                                                                       "recording"))
    elif not two_step and pred.status != "silence" and why is None:  # an older single model heard no cry
        st.plotly_chart(P.probability_figure(pred.probabilities))


def step2(pred, model, cfg, two_step: bool, why) -> None:
    """Why? The reason answer with its probabilities beside the prior (two-step) or the single model's."""
    st.subheader("Step 2 · Why?")
    kind, text = why
    getattr(st, kind)(text)
    reason = pred.reason
    if two_step:
        st.plotly_chart(V.reason_figure(reason))
        held = V.held_out_text(reason)
        st.caption((held + " " if held else "No held-out figures for this reason model (no reason_naming.json). ")
                   + "A reason is named only where, at this probability, it was right at least 60 % of the time on "
                   "held-out babies and more often than its prior (its share among cries); the grey bars are that "
                   "prior.")
        return
    st.plotly_chart(P.probability_figure(pred.probabilities, pred.label if pred.status == "detected" else None))
    if pred.status == "detected":
        st.caption(f"A single model: it names its most probable class whenever its confidence passes the "
                   f"threshold fit on validation ({model.loaded.threshold:.0%}), with no check that held-out "
                   "babies confirm that reason more often than its share among cries. The two-step answer names "
                   "a reason only where they do.")
    if pred.timeline:
        st.plotly_chart(P.timeline_figure(pred.timeline))
        st.caption(f"The recording is longer than one {cfg.clip_seconds:g} s window: each window is classified "
                   "(half overlapping) and the answer averages them.")


def saliency(run, model, pred, clip, y, spec, freqs, hop_s, two_step: bool, explained_label) -> None:
    """What the reason model (two-step, for a cry) or the single model relied on, as a map on the spectrogram."""
    data, name = clip
    cfg = model.cfg
    st.subheader("What the model relied on")
    methods = evidence.methods(model)
    if two_step:
        target = explained_label
        subject = f"the reason model relied on for “{L.display(target)}”" + (
            "" if pred.reason.get("label") else " (its most probable reason, not named)")
    else:
        target, subject = None, f"the model relied on for “{L.display(pred.label)}”"
    if not methods:
        st.info("Saliency maps are not available for this kind of model.")
        return
    c1, c2 = st.columns([2, 1])
    method = c1.radio("Method", methods, horizontal=True, format_func={
        "occlusion": "Occlusion (silence one patch at a time)", "gradcam": "Grad-CAM (last conv layer)"}.get)
    overlay = c2.toggle("Overlay on the spectrogram", value=True)
    try:
        with st.spinner("Computing the saliency map…"):
            sal = S.cached_saliency(run.path, data, name, method, target)
    except Exception as e:  # an explanation failure must not hide the answer above
        st.warning(f"The saliency map could not be computed: {S.one_line(e)}")
        return
    st.plotly_chart(P.spectrogram_figure(spec, hop_s, freqs, saliency=sal, overlay=overlay, title=f"What {subject}"))
    st.caption(("No region clearly supports this answer: the evidence is spread thin. " if sal.max() == 0
                else "Warm = regions that support the answer most. ") + (
        "Each patch was replaced by silence; the more the answer's probability dropped, the warmer."
        if method == "occlusion" else "Gradient-weighted activations of the last convolutional block.")
        + (" The map covers the whole recording; the reason model's answer above heard only its crying part."
           if two_step else "")
        + (f" Only the first {cut:.0f} s are explained." if (cut := evidence.covered_seconds(y, cfg)) else ""))


def more_evidence(model, y, clip, sr: int, explained_label) -> None:
    """XGBoost feature drivers, and YAMNet's AudioSet view on request."""
    data, name = clip
    with st.expander("More evidence: XGBoost feature drivers, YAMNet's AudioSet view"):
        drivers = evidence.feature_drivers(model, y)
        if drivers:
            st.plotly_chart(P.contributions_figure(drivers, L.display(explained_label)))
        if st.toggle("Ask YAMNet (AudioSet-pretrained) what it hears", value=False):
            try:
                with st.spinner("Loading YAMNet…"):
                    ev = S.cached_audioset(data, name, sr)
                c1, c2 = st.columns([1, 3])
                c1.metric("YAMNet: “Baby cry, infant cry”", f"{ev['baby_cry_max']:.0%}",
                          help="its highest score over 0.975 s windows (mean over the recording: "
                               f"{ev['baby_cry']:.0%}); YAMNet alone is not babycry's cry detector")
                c1.dataframe({"AudioSet class": [c for c, _ in ev["top"]],
                              "mean score": [round(p, 3) for _, p in ev["top"]]}, hide_index=True)
                c2.plotly_chart(P.audioset_figure(ev["timeline"]))
            except RuntimeError as e:  # YamnetUnavailable: one sentence with the fix
                st.warning(str(e))


def what_to_try(pred, why) -> None:
    """Tips for the reasons worth checking first, and the safety line."""
    st.subheader("What to try")
    tip_classes = V.reasons_to_check(pred)
    if tip_classes and not (pred.reason or {}).get("label"):
        st.markdown("The reason is not clear from the sound. The ones worth checking first:")
    for c in tip_classes:
        st.markdown(f"**{L.display(c)}**\n" + "\n".join(f"- {t}" for t in L.TIPS.get(c, [])))
    if not tip_classes:
        st.markdown("Nothing specific to try for this answer." if why is not None else
                    "No cry was heard, so there is nothing specific to try.")
    st.warning(L.SAFETY, icon=":material/medical_services:")

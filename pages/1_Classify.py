"""Classify one recording in two steps: is it a cry? and, only for a cry, why? Then explain and say what to try."""
import json

import streamlit as st

from babycry_core.app import answer
from babycry_core.ui import answer_view as V, app_state as S, classify_view as C

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
model = V.explained(predictor)  # what the spectrogram and the saliency map show: the reason model of a two-step answer
cfg, sr, two_step = model.cfg, predictor.cfg.sample_rate, V.is_two_step(predictor)
if two_step:
    st.caption(f"Two-step answer: the cry detector `{predictor.detector.run_id}` listens first; only for a cry, "
               f"the reason model `{predictor.reason.run_id}` says why.")

clip = C.choose_clip(cfg)  # (bytes, name)
if clip is None:
    st.info(f"Upload or record a baby's cry to classify it. Formats: {', '.join(answer.SUPPORTED_EXTENSIONS)}; "
            f"up to {answer.MAX_UPLOAD_BYTES // 2**20} MB.")
    st.stop()
data, name = clip
try:
    y = S.decode(data, name, sr)
    spec = S.spectrogram(data, name, json.dumps(cfg.to_dict(), sort_keys=True))
except answer.AudioError as e:
    st.error(str(e))
    st.stop()
freqs, hop_s = C.recording(y, spec, name, cfg, sr)

try:
    pred = predictor.predict_waveform(y, name)
except Exception as e:  # audio errors (e.g. no samples) or a model that fails on this input
    st.error(str(e) if isinstance(e, answer.AudioError) else f"The model {run.run_id} failed: {S.one_line(e)}")
    st.stop()

why = V.step2(pred)  # None: no cry (or silence), nothing to explain
# the class the explanations below are about: the reason model's most probable reason (two-step), else the answer
reason_probs = (pred.reason or {}).get("probabilities") or {}
explained_label = max(reason_probs, key=reason_probs.get) if two_step and reason_probs else pred.label

C.step1(pred, predictor, two_step, why, y)
if why is not None:
    C.step2(pred, model, cfg, two_step, why)
if why is not None or (not two_step and pred.status != "silence"):
    C.saliency(run, model, pred, clip, y, spec, freqs, hop_s, two_step, explained_label)
C.more_evidence(model, y, clip, sr, explained_label)
C.what_to_try(pred, why)

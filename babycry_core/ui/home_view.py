"""Home's sections: what the app does and does not do, the pages, the trained models with their scores, the data.
Kept fast: no model is loaded and nothing here imports torch or TensorFlow (run metadata and manifests only)."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from babycry_core import paths
from babycry_core.app import catalog, words as L
from babycry_core.ui import app_state as S


def intro() -> None:
    """The title, what the app answers, the safety note, what it does and does not do."""
    st.title("babycry")
    st.markdown("**Why is the baby crying?** Upload or record a few seconds of sound and babycry answers in two steps: "
                "**is it a cry?** (or speech, laughing, noise, a quiet room), and only for a cry, **why?** (hungry, "
                "tired, discomfort, belly pain, burping, …) with how sure it is, which part of the sound it relied on, "
                "and what you could try.")
    st.warning(L.SAFETY, icon=":material/medical_services:")
    c1, c2 = st.columns(2)
    c1.markdown("**What it does**\n"
                "- classifies a recording (WAV, MP3, M4A, AAC, OGG, FLAC, 3GP, CAF; or the microphone)\n"
                "- names a reason only where held-out babies confirm it at that confidence; otherwise it says "
                "*reason unclear* and lists the reasons worth checking first\n"
                "- shows the evidence: spectrogram, per-class probabilities, saliency maps\n"
                "- lets you train and compare models on the public Donate-a-Cry corpus")
    c2.markdown("**What it does not do**\n"
                "- diagnose illness, pain or any medical condition\n"
                "- replace your judgement or a doctor's: its guesses are often wrong (see the scores below)\n"
                "- keep your recordings: uploads are processed in memory and never saved to disk")


def pages() -> None:
    """A link to every page."""
    st.header("Pages")
    for page, title in S.app_pages():
        S.page_link(page, {"Classify": "Classify a recording", "Train": "Train a model",
                           "Compare": "Compare models"}.get(title, title), icon=":material/arrow_forward:")


def fmt(m: dict, key: str) -> str:
    """0.42 [0.31–0.55]: a metric with its 95 % interval; — when there is none."""
    v, ci = m.get(key), m.get(f"{key}_ci") or []
    if not isinstance(v, (int, float)) or math.isnan(v):
        return "—"
    ok = len(ci) == 2 and all(isinstance(x, (int, float)) and not math.isnan(x) for x in ci)
    return f"{v:.2f} [{ci[0]:.2f}–{ci[1]:.2f}]" if ok else f"{v:.2f}"


def models() -> None:
    """The usable runs with macro-F1 and balanced accuracy, their intervals and the majority baseline."""
    st.header("Models")
    usable, corrupt = S.usable_runs()
    S.corrupt_runs_warning(corrupt)
    if not usable:
        S.no_checkpoint_notice()
    else:
        marks = S.default_marks(usable)  # the two-step pair (detector, reason), or the one default run
        rows = [{"run": r.run_id + (f"  {marks[r.run_id]}" if r.run_id in marks else ""), "model": r.model, "corpus": r.corpus,
                 "macro-F1 [95% CI]": fmt(r.metrics, "macro_f1"),
                 "balanced accuracy [95% CI]": fmt(r.metrics, "balanced_accuracy"),
                 "majority baseline macro-F1 / bal. acc.": "—" if not r.metrics.get("baseline") else
                 f"{r.metrics['baseline'].get('macro_f1', float('nan')):.2f} / "
                 f"{r.metrics['baseline'].get('balanced_accuracy', float('nan')):.2f}",
                 "test clips": r.metrics.get("n", "—")} for r in usable]
        st.dataframe(pd.DataFrame(rows).astype(str), hide_index=True)
        st.caption("Scores on held-out test babies (grouped split), with 95 % bootstrap intervals. The majority "
                   "baseline always answers the most frequent class: a model is only useful where it beats it. "
                   "★ marks the default answer: a cry detector (step 1) and a reason model (step 2) when "
                   "checkpoints/default.json names both.")


def data_summary() -> None:
    """The corpus's classes and their shares, or how to set it up."""
    st.header("Data")
    summary = catalog.data_summary("donateacry")
    if summary is None:
        st.info("The Donate-a-Cry corpus is not set up here, so Classify offers generated demo signals. To get it, run "
                "`./run.sh setup` or `python -m babycry_core data build` (it links `../shared/data` when present, "
                f"else clones {catalog.clone_url()}).", icon=":material/info:")
    else:
        st.markdown(f"Donate-a-Cry: **{int(summary['clips'].sum())} clips** in {len(summary)} classes "
                    f"(manifest in `{paths.data_dir() / 'donateacry'}`). The classes are very unbalanced.")
        table = summary.assign(label=summary["label"].map(L.display), share=(summary["share"] * 100).round(1))
        st.dataframe(table.rename(columns={"label": "class", "clips": "clips", "groups": "babies / sources",
                                           "share": "share %", "is_cry": "cry"}), hide_index=True)

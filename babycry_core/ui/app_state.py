"""Small helpers every page shares: the model that answers, the run lists, page links and common notices.

Stable API (other pages import these; keep the names):
    cached_predictor(run_path)   -> what answers for that run (app.answer.answerer, torch: the pages explain the
                                    network); loaded once per process and reloaded when the run's files change
    predictor_or_error(run)      -> the predictor, or None after one st.error line (damaged checkpoint)
    run_selectbox(usable)        -> the RunInfo picked in a select box (default: the two-step pair's reason run
                                    when checkpoints/default.json names one, else the default run)
    default_marks(usable)        -> {run_id: "★ default ..."} for the default run, or both runs of the default pair
    usable_runs(root=None)       -> (usable, corrupt): lists of runs.RunInfo, newest first
    corrupt_runs_warning(corrupt)   one st.warning naming every damaged run folder and why
    no_checkpoint_notice()          st.info: no trained model yet, with a link to the Train page
    page_link(page, label, icon)    st.page_link that never raises (plain text when the page is unknown)
    find_page(word)              -> "pages/3_Train.py" or None;  app_pages() -> [(path, title)]
    run_title(info)              -> "20261124-...-cnn-7a49 · cnn · macro-F1 0.12"
    one_line(exc)                -> the first line of an exception, for st.error
Classify helpers (cached pure transforms, keyed by content):
    decode(data, name, sr), spectrogram(data, name, cfg_json), sample_clips(data_dir, per_class),
    demo_clips(sr), cached_saliency(run_path, data, name, method, target=None)
A run that the answerer composes into the two-step answer (a reason model or a cry detector, with
checkpoints/default.json naming the other) gives a TwoStepPredictor; saliency explains its reason model.

Everything goes through babycry_core.app; nothing here imports torch or TensorFlow at import time: Home uses this
module and stays fast.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from babycry_core import paths
from babycry_core.app import answer, catalog, evidence


# ---------------------------------------------------------------- models

def cached_predictor(run_path: str | Path):
    """The run's predictor (a Predictor, or the two-step answer it composes into): app.answer.answerer with torch,
    which loads it once per process and again when the run, default.json or the default pair change. Raises what
    loading raises (ValueError for a damaged checkpoint, FileNotFoundError for a missing one)."""
    return answer.answerer(Path(run_path).resolve(), "torch")


def predictor_or_error(run):
    """cached_predictor(run.path), or None after one st.error line when the checkpoint cannot be loaded."""
    try:
        with st.spinner("Loading the model…"):
            return cached_predictor(run.path)
    except Exception as e:  # a damaged checkpoint that passed runs.run_info's cheap header check
        st.error(f"The model {run.run_id} could not be loaded: {one_line(e)}")
        return None


def run_selectbox(usable: list, label: str = "Model", **kw):
    """A select box over usable runs (shown with run_title), defaulting to the app's default run; -> RunInfo."""
    by_id = {r.run_id: r for r in usable}
    marks = default_marks(usable)
    kw.setdefault("help", "Finished runs in checkpoints/; the default is the pinned (default.json) or best one. "
                          "A reason model or a cry detector answers in two steps together with the default other half.")
    return by_id[st.selectbox(label, list(by_id), index=default_index(usable),
                              format_func=lambda i: run_title(by_id[i]) + (f"  {marks[i]}" if i in marks else ""),
                              **kw)]


def usable_runs(root: Path | None = None) -> tuple[list, list]:
    """(finished runs inference can use, corrupt run folders), both newest first. Running/failed/stopped
    runs are in neither list."""
    return catalog.usable_runs(root)


def _default_pair(root: Path | None = None) -> tuple[Path | None, Path | None]:
    det, reason = catalog.default_pair(root)
    return (det, reason) if det is not None and reason is not None else (None, None)


def default_index(usable: list, root: Path | None = None) -> int:
    """Index in `usable` of the app's default: the reason run of the default two-step pair (it answers together
    with the default detector), else the default run; 0 when it is not among them."""
    d = _default_pair(root)[1] or catalog.default_run(root)
    paths_ = [Path(r.path).resolve() for r in usable]
    return paths_.index(Path(d).resolve()) if d is not None and Path(d).resolve() in paths_ else 0


def default_marks(usable: list, root: Path | None = None) -> dict[str, str]:
    """{run_id: mark} for the app's default: both runs of the two-step pair, or the one default run."""
    det, reason = _default_pair(root)
    if det is not None:
        marks = {Path(det).name: "★ default, step 1: is it a cry?", Path(reason).name: "★ default, step 2: why?"}
    else:
        marks = {usable[default_index(usable, root)].run_id: "★ default"} if usable else {}
    ids = {r.run_id for r in usable}
    return {k: v for k, v in marks.items() if k in ids}


def run_title(info) -> str:
    f1 = info.macro_f1
    return f"{info.run_id} · {info.model}" + (f" · macro-F1 {f1:.2f}" if isinstance(f1, (int, float)) else "")


def corrupt_runs_warning(corrupt: list) -> None:
    if corrupt:
        # runs.run_info's message already names the folder ("checkpoint folder X is damaged: why")
        lines = "\n".join(f"- {r.message}" if r.run_id in (r.message or "") else
                          f"- `{r.run_id}`: {r.message or 'damaged'}" for r in corrupt)
        st.warning(f"{len(corrupt)} checkpoint folder(s) cannot be used and are left out:\n{lines}",
                   icon=":material/warning:")


def one_line(e: BaseException, limit: int = 200) -> str:
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- pages and notices

def app_pages() -> list[tuple[str, str]]:
    """[(path relative to the project root, title)] of the files in pages/, in sidebar order."""
    out = []
    for f in sorted((paths.ROOT / "pages").glob("*.py")):
        title = f.stem.split("_", 1)[-1] if f.stem[:1].isdigit() else f.stem
        out.append((f"pages/{f.name}", title.replace("_", " ")))
    return out


def find_page(word: str) -> str | None:
    """The page whose title contains `word` (case-insensitive), e.g. find_page("train") -> "pages/3_Train.py"."""
    return next((p for p, title in app_pages() if word.lower() in title.lower()), None)


def page_link(page: str | None, label: str, icon: str | None = None) -> bool:
    """st.page_link, or a plain line when the page does not exist (or the script is not run as the app's main
    page, e.g. in a test). Returns whether a real link was drawn."""
    if page:
        try:
            st.page_link(page, label=label, icon=icon)
            return True
        except Exception:  # StreamlitPageNotFoundError / StreamlitAPIException: the page is not registered
            pass
    st.markdown(f"{icon + ' ' if icon else ''}{label}")
    return False


def no_checkpoint_notice() -> None:
    st.info("No trained model yet. Train one on the Train page (a small CNN takes a few minutes on a laptop), "
            "or in a terminal: `python -m babycry_core train --model cnn`.", icon=":material/info:")
    page_link(find_page("train"), "Go to the Train page", icon=":material/model_training:")


# ---------------------------------------------------------------- classify: cached pure transforms

@st.cache_data(max_entries=16, show_spinner=False)
def decode(data: bytes, name: str, sr: int) -> np.ndarray:
    """The uploaded bytes at the model's rate (raises AudioError for bad input; not cached)."""
    return answer.decode(data, name, sr)


@st.cache_data(max_entries=16, show_spinner=False)
def spectrogram(data: bytes, name: str, cfg_json: str) -> np.ndarray:
    """The log-mel the model receives (the padded window, or the whole long clip)."""
    cfg = evidence.feature_config(json.loads(cfg_json))
    return evidence.model_input(decode(data, name, cfg.sample_rate), cfg)


@st.cache_data(max_entries=16, show_spinner=False)
def _saliency(key: tuple, data: bytes, name: str, method: str, target: str | None):
    from babycry_core.ui.answer_view import explained

    model = explained(cached_predictor(key[0]))  # a two-step answer: its reason model
    return evidence.saliency(model, decode(data, name, model.cfg.sample_rate), method, target)


def cached_saliency(run_path: str | Path, data: bytes, name: str, method: str,
                    target: str | None = None) -> np.ndarray | None:
    """The saliency map for this run and recording (the reason model of a two-step answer), cached by what the
    answer depends on (app.answer.answer_key), content, method and target class (None: the model's own answer)."""
    return _saliency(answer.answer_key(run_path), data, name, method, target)


@st.cache_data(ttl=300, show_spinner=False)
def sample_clips(data_dir: str, per_class: int = 3, corpus: str = "donateacry") -> dict[str, str]:
    """{title: file path} of a few corpus clips per class, test-split clips first (the models never trained
    on them). Empty when the corpus or its manifest is missing. `data_dir` only keys the cache."""
    return evidence.sample_clips(per_class, corpus)


def demo_clips(sr: int = 8000) -> dict[str, tuple[bytes, str]]:
    """Generated demo recordings {title: (wav bytes, name)} for when no corpus is present."""
    return evidence.demo_clips(sr)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_audioset(data: bytes, name: str, sr: int) -> dict:
    return evidence.audioset_opinion(decode(data, name, sr), sr)

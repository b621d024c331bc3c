"""Who answers a recording, and the answers. The one place a front end gets a model: `answerer(run, engine)`
chooses the runs once (inference.choice: checkpoints/default.json's cry detector + reason model by default), then
the engine, and keeps the one cache of built models, keyed by the files they were built from (a retrained run or
a new default.json loads afresh), so every caller in a process shares one model.

Engines: "torch" (the run folders), "onnx" (onnxruntime on the runs' exports, no torch), "auto" (onnx where every
run the answer needs has an export made from its current files, else torch): what `predict` and the API use.
"""
from __future__ import annotations

import threading
from pathlib import Path

from babycry_core.audio.decode import MAX_UPLOAD_BYTES, SUPPORTED_EXTENSIONS, load as _load_audio
from babycry_core.audio.errors import AudioError, label as safe_name, too_large
from babycry_core.audio.signal import SILENCE_DBFS  # below this level a recording is silence: no model runs
from babycry_core.fileio import newest_mtime

__all__ = ["ENGINES", "AudioError", "MAX_UPLOAD_BYTES", "SILENCE_DBFS", "SUPPORTED_EXTENSIONS", "answer_key",
           "answerer", "classify", "clock", "decode", "detect", "detect_upload", "engine_for", "engine_of",
           "episode_engine", "episodes_of", "live_listener", "safe_name", "stream_resampler", "too_large"]

ENGINES = ("auto", "torch", "onnx")


_ANSWERERS: dict[tuple, object] = {}  # the one cache of models: by engine, the runs' (or exports') files, threads
_LOCK = threading.Lock()


def _plan(run, engine: str, trust_pickle: bool) -> tuple[str, object]:
    """(the engine that answers, what it loads): the runs are chosen once (inference.choice), then "torch" loads
    them, "onnx" their exports; auto takes the exports where every run has a current one (made from its files as
    they are now), else torch, and always torch with trust_pickle (a pickle has no export)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    from babycry_core.inference import onnx_engine
    from babycry_core.inference.choice import choose

    if onnx_engine.is_export(run):  # an export folder: only onnxruntime can answer
        return "onnx", onnx_engine.export_choice(run)
    choice = choose(run)
    if engine == "torch" or (engine == "auto" and trust_pickle):
        return "torch", choice
    try:
        return "onnx", onnx_engine.exports_of(choice, current=engine == "auto")
    except (FileNotFoundError, ValueError):
        if engine == "onnx":
            raise
        return "torch", choice


def engine_for(run=None, engine: str = "auto", trust_pickle: bool = False) -> str:
    """The engine that answers: "torch" or "onnx" (see _plan)."""
    return _plan(run, engine, trust_pickle)[0]


def answerer(run=None, engine: str = "auto", *, trust_pickle: bool = False, threads: int | None = None):
    """What answers a recording: `predict(source, name=)` and `predict_waveform(y, name)` -> Prediction. The
    two-step answer where it can be composed (a detector and a reason model), else the one run. run: a run id or
    folder (an export folder with onnx); None: the app's default. threads: onnxruntime's per session. Cached by
    the files it was built from: a retrained run or a new default.json loads afresh.
    Raises FileNotFoundError (no such run, no checkpoint, no export) or ValueError (a damaged one)."""
    kind, plan = _plan(run, engine, trust_pickle)
    if kind == "onnx":
        from babycry_core.inference import onnx_engine

        threads = onnx_engine.ort_threads(threads)
        key = ("onnx", tuple((str(p.resolve()), newest_mtime(p)) if p else None for p in plan), threads)
        build = lambda: onnx_engine.build(plan, threads)  # noqa: E731
    else:
        from babycry_core.inference import predictor

        key = ("torch", plan.stamp(), bool(trust_pickle))
        build = lambda: predictor.build(plan, trust_pickle)  # noqa: E731
    with _LOCK:
        cached = _ANSWERERS.get(key)
    if cached is None:
        cached = build()
        with _LOCK:
            cached = _ANSWERERS.setdefault(key, cached)
    return cached


def engine_of(predictor) -> str:
    """"onnx" for an answerer built on the exports, else "torch"."""
    part = getattr(predictor, "detector", None) or predictor
    return "onnx" if type(part).__module__.endswith("onnx_engine") else "torch"


def classify(files, run=None, engine: str = "auto", *, trust_pickle: bool = False) -> list:
    """`predict`: a Prediction per file, or {"file", "error"} for one that fails (the others still run)."""
    from babycry_core.inference.predictor import predict_each

    return predict_each(answerer(run, engine, trust_pickle=trust_pickle), files)


def decode(data, name: str | None, sr: int):
    """An upload (bytes, path or file-like) as mono float32 at `sr` Hz. Raises AudioError for bad input."""
    return _load_audio(data, sr, name=name)


# ---------------------------------------------------------------- crying episodes

def detect(files, run=None, engine: str = "torch", *, threads: int | None = None, max_minutes: float | None = None,
           progress: bool = False, rule_kw: dict | None = None) -> list:
    """`detect`: each file's crying episodes (whole_recording.Recording), or {"file", "error"} for one that fails.
    rule_kw: on_seconds / window_seconds / off_seconds for the episode rule (default: the detector's)."""
    from babycry_core.audio.errors import each_file
    from babycry_core.detection.episodes import EpisodeRule
    from babycry_core.detection.whole_recording import detect_file

    if threads and engine == "torch":
        import torch

        torch.set_num_threads(threads)
    predictor = answerer(run, engine, threads=threads)
    det = getattr(predictor, "detector", None)
    if det is None:
        raise ValueError(f"detect needs a cry detector; {predictor.run_id} is not one (see checkpoints/default.json)")
    rule = EpisodeRule.for_detector(det, **rule_kw) if rule_kw else None
    max_s = None if max_minutes is None else max_minutes * 60
    return each_file(files, lambda f: detect_file(f, predictor, rule, max_seconds=max_s, progress=progress,
                                                  name=str(f)))


def detect_upload(predictor, data: bytes, name: str) -> dict:
    """The crying episodes of one uploaded recording, as JSON (the API's /v1/detect)."""
    from babycry_core.detection.whole_recording import detect_file

    return detect_file(data, predictor, name=name).to_dict()


def episodes_of(y, predictor):
    """The crying episodes of a decoded recording by `detect`'s rule (whole_recording.Recording)."""
    from babycry_core.detection.whole_recording import episodes_of as find

    return find(y, predictor)


def clock(seconds: float) -> str:
    """h:mm:ss."""
    from babycry_core.detection.whole_recording import clock as fmt

    return fmt(seconds)


# ---------------------------------------------------------------- live

def live_listener(predictor, on_seconds: float, window_seconds: float):
    """A detection.live.LiveListener: browser frames in, alerts and episodes out (the Listen page)."""
    from babycry_core.detection.live import LiveListener

    return LiveListener(predictor, on_seconds, window_seconds)


def episode_engine(predictor, batch_windows: int = 1):
    """An episodes.EpisodeEngine fed one window at a time (`listen` in the terminal)."""
    from babycry_core.detection.episodes import EpisodeEngine

    return EpisodeEngine(predictor, batch_windows=batch_windows)


def stream_resampler(sr: int):
    """A streaming resampler to `sr` Hz (audio.resample.StreamResampler)."""
    from babycry_core.audio.resample import StreamResampler

    return StreamResampler(sr)


# ---------------------------------------------------------------- for a caller's own cache

def answer_key(run) -> tuple:
    """What an answer of `run` depends on, for a cache of what is computed from it (the pages' saliency maps):
    the run folder (resolved), its files' newest mtime, checkpoints/default.json's and the default pair's."""
    from babycry_core import paths
    from babycry_core.runs import run_registry
    from babycry_core.runs.run_folder import PINNED_DEFAULTS

    root = paths.checkpoints_dir()
    try:
        pinned = (root / PINNED_DEFAULTS).stat().st_mtime
    except OSError:
        pinned = 0.0
    p = Path(run).resolve()
    pair = tuple((str(d), newest_mtime(d)) if d is not None else None for d in run_registry.default_pair(root))
    return (str(p), newest_mtime(p), pinned, *pair)

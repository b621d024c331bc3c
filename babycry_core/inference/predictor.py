"""Prediction: file or bytes → decoded audio → windows → model → calibrated probabilities → one answer.

`load_predictor()` is what the CLI and the pages call: the two-step answer (inference/two_step.py: cry detector, then a
reason model) where checkpoints/default.json or the chosen run allows it, else `Predictor`, one model rebuilt
from its run folder. A single model's answers come in four kinds: "detected" (a reason), "no_cry" (laugh /
noise / silence), "not_sure" (confidence below the validated threshold), and "silence" (digital silence,
caught before any model runs).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from babycry_core.audio import decode as audio
from babycry_core.inference import wording as L
from babycry_core.runs.checkpoint import LoadedModel, load
from babycry_core.runs.run_folder import RunFolder
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import log_mel, windows

from babycry_core.audio.signal import SILENCE_DBFS, rms_dbfs as level_dbfs
from babycry_core.inference.prediction import Prediction
from babycry_core.audio.errors import each_file


class TorchScorer:
    """Log-mel windows → logits with a torch network. Thread-safe: inference only, no module state changes."""

    def __init__(self, model):
        self.model = model

    def window_logits(self, wins: list[np.ndarray], cfg: FeatureConfig) -> np.ndarray:
        import torch

        X = np.stack([log_mel(w, cfg) for w in wins])[:, None]  # (windows, 1, n_mels, frames)
        with torch.inference_mode():
            return self.model(torch.from_numpy(X)).numpy()  # (windows, n_classes)


class Predictor:
    def __init__(self, loaded: LoadedModel, folder: RunFolder | None = None):
        """folder: the run as it was opened (its cached files serve the reason naming); default: loaded.run_dir."""
        self.loaded = loaded
        self.folder = folder if folder is not None else RunFolder.of(loaded.run_dir)
        self.labels = loaded.labels
        self.cfg = loaded.feature_config
        m = loaded.model
        self.scorer = m if hasattr(m, "window_logits") else TorchScorer(m)

    @property
    def run_id(self) -> str:
        return self.loaded.run_dir.name

    def predict(self, source, name: str | None = None, **load_kw) -> Prediction:
        """Decode and classify one recording (path, bytes or file-like). Raises audio.AudioError on bad input."""
        y = audio.load(source, self.cfg.sample_rate, name=name, **load_kw)
        return self.predict_waveform(y, name or (str(source) if isinstance(source, (str, Path)) else "upload"))

    def predict_waveform(self, y: np.ndarray, name: str = "") -> Prediction:
        cfg = self.cfg
        dur, lvl = len(y) / cfg.sample_rate, level_dbfs(y)
        if len(y) == 0:
            raise audio.EmptyFileError("The recording contains no audio samples.")
        wins = windows(y, cfg)
        if lvl < SILENCE_DBFS:
            p = {**{c: 0.0 for c in self.labels}, "silence": 1.0}  # also for models without a silence class
            msg = f"Silent recording (level {lvl:.0f} dBFS, below {SILENCE_DBFS:.0f} dBFS): nothing to hear."
            return Prediction(name, "silence", 1.0, p, "silence", msg, dur, lvl, [], self.run_id,
                              cry={"probability": 0.0, "detected": False, "seconds": 0.0}, heard="silence")
        from babycry_core.eval.calibration import softmax  # here: eval.metrics imports scikit-learn (~1.3 s)

        logits = self.scorer.window_logits([w for _, w in wins], cfg)
        proba = softmax(logits, self.loaded.temperature)  # (windows, n_classes)
        clip = proba.mean(axis=0)
        timeline = [{"start": s, "end": s + cfg.clip_seconds, "probabilities": dict(zip(self.labels, map(float, p)))}
                    for (s, _), p in zip(wins, proba)] if len(wins) > 1 else []
        probs = dict(zip(self.labels, map(float, clip)))
        label = self.labels[int(clip.argmax())]
        conf = float(clip.max())
        status, msg = answer(label, conf, probs, self.loaded.threshold)
        return Prediction(name, label, conf, probs, status, msg, dur, lvl, timeline, self.run_id,
                          **_one_model_steps(label, status, probs, dur))


def answer(label: str, conf: float, probs: dict[str, float], threshold: float) -> tuple[str, str]:
    """The sentence a caregiver reads, and its kind."""
    if not L.is_cry(label):
        return "no_cry", f"No cry detected ({L.display(label).lower()}, {conf:.0%})."
    if conf < threshold:
        top = sorted(probs.items(), key=lambda kv: -kv[1])[:2]
        return "not_sure", "Not sure: " + ", ".join(f"{L.display(c).lower()} {p:.0%}" for c, p in top) + "."
    return "detected", f"Detected: {L.display(label)} (confidence {conf:.0%})"


def _one_model_steps(label: str, status: str, probs: dict[str, float], dur: float) -> dict:
    """The two-step keys for a single model that answers both questions at once (flat or gate x reason)."""
    cry_p = float(sum(p for c, p in probs.items() if L.is_cry(c)))
    is_cry = L.is_cry(label)
    reasons = {c: p / cry_p for c, p in probs.items() if L.is_cry(c)} if cry_p > 0 else {}
    return {"cry": {"probability": cry_p, "detected": is_cry, "seconds": dur if is_cry else 0.0},
            "heard": "cry" if is_cry else label,
            "reason": {"label": label if status == "detected" else None, "named": status == "detected",
                       "probabilities": reasons, "prior": {}} if is_cry else None}


_CACHE: dict[tuple, Predictor] = {}
_CACHE_LOCK = threading.Lock()


def load_predictor(run: str | Path | RunFolder | None = None, trust_pickle: bool = False):
    """What answers a recording: the two-step answer (cry detector, then a reason model) where it can be
    composed, else the one model. run=None: the app's default (checkpoints/default.json: detector + reason);
    a reason model: the default detector + it; a detector: it + the default reason model. Each run is opened
    once (a RunFolder) and handed down, so its files are read once.

    trust_pickle: also read an old run's pickle (svm.joblib); see runs.checkpoint.load."""
    from babycry_core.runs import run_registry as runs

    det_dir, reason_dir = runs.default_folders()
    if run is not None:
        run_dir = runs.open_run(run)
        role = _role(run_dir)
        if role == "detector":
            det_dir = run_dir
        elif role == "reason" and det_dir is not None:
            reason_dir = run_dir
        else:
            return load_model(run_dir, trust_pickle)
    if det_dir is None or (reason_dir is None and run is None):
        return load_model(run, trust_pickle)
    from babycry_core.inference.two_step import TwoStepPredictor
    from babycry_core.inference.cry_detector import CryDetector

    key = ("two_step", str(Path(det_dir).resolve()), _mtime(det_dir),
           str(Path(reason_dir).resolve()) if reason_dir else "", _mtime(reason_dir) if reason_dir else 0.0,
           bool(trust_pickle))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        reason = load_model(reason_dir, trust_pickle) if reason_dir is not None else None
        cached = TwoStepPredictor(CryDetector(load_model(det_dir).loaded, folder=det_dir), reason)
        with _CACHE_LOCK:
            _CACHE[key] = cached
    return cached


def _role(run_dir: Path | RunFolder) -> str:
    """"detector", "reason" (every class a cry reason) or "" (a model that answers both questions)."""
    folder = RunFolder.of(run_dir)
    if folder.read(RunFolder.CONFIG, default={}).get("role") == "detector":
        return "detector"
    labels = folder.read(RunFolder.LABELS, default=[])
    return "reason" if labels and all(L.is_cry(c) for c in labels) else ""


def load_model(run: str | Path | RunFolder | None = None, trust_pickle: bool = False) -> Predictor:
    """A Predictor for one run id, folder or RunFolder (default: the app's default run), cached by path and mtime.

    trust_pickle: also read an old run's pickle (svm.joblib); see runs.checkpoint.load."""
    from babycry_core.runs import run_registry as runs

    _one_blas_thread()
    folder = runs.open_run(run) if run else runs.default_folder()
    if folder is None:
        raise FileNotFoundError("no trained checkpoint found; train one (Train page or `python -m babycry_core train`)")
    key = (str(folder.path.resolve()), _mtime(folder.path), bool(trust_pickle))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Predictor(load(folder, trust_pickle=trust_pickle), folder)
        return _CACHE[key]


def _one_blas_thread() -> None:
    """numpy's BLAS threads fight torch's for the same cores (2-3x slower on 2 cores): serving uses one."""
    from threadpoolctl import threadpool_limits

    if not _CACHE:
        threadpool_limits(limits=1, user_api="blas")


def _mtime(run_dir: Path | RunFolder) -> float:
    return max((f.stat().st_mtime for f in Path(run_dir).iterdir() if f.is_file()), default=0.0)


def predict(files, run: str | Path | RunFolder | None = None, trust_pickle: bool = False) -> list[Prediction | dict]:
    """Classify each file; a file that fails gives {"file", "error"} and the others still run."""
    return predict_each(load_predictor(run, trust_pickle), files)


def predict_each(predictor, files) -> list[Prediction | dict]:
    """predictor.predict on each file; a file that fails gives {"file", "error"} and the others still run."""
    return each_file(files, lambda f: predictor.predict(f, name=str(f)))

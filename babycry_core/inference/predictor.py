"""Prediction: file or bytes → decoded audio → windows → model → calibrated probabilities → one answer.

`build(choice)` makes the torch answerer of the runs inference.choice chose: the two-step answer (inference/two_step.py:
cry detector, then a reason model) where checkpoints/default.json or the chosen run allows it, else `Predictor`, one
model rebuilt from its run folder (front ends ask app.answer.answerer, which picks the engine and caches). A single model's answers come in four kinds: "detected" (a reason), "no_cry" (laugh /
noise / silence), "not_sure" (confidence below the validated threshold), and "silence" (digital silence,
caught before any model runs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core.audio import decode as audio
from babycry_core.inference import wording as L
from babycry_core.inference.choice import NO_CHECKPOINT, Choice, choose
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


_BLAS_LIMITED = False


def one_blas_thread() -> None:
    """numpy's BLAS (the mel matrix product) on one thread before the first model loads: its threads fight torch's
    and onnxruntime's for the same cores (2-3x slower on 2 cores otherwise)."""
    global _BLAS_LIMITED
    if not _BLAS_LIMITED:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _BLAS_LIMITED = True


def build(choice: Choice, trust_pickle: bool = False):
    """The torch answerer of a choice of runs (inference.choice): the two-step answer (cry detector, then the
    reason model) or the one run's Predictor. Not cached: app.answer.answerer keeps the one cache.

    trust_pickle: also read an old run's pickle (svm.joblib); see runs.checkpoint.load."""
    one_blas_thread()
    if choice.single is not None:
        return Predictor(load(choice.single, trust_pickle=trust_pickle), choice.single)
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.inference.two_step import TwoStepPredictor

    reason = Predictor(load(choice.reason, trust_pickle=trust_pickle), choice.reason) if choice.reason else None
    return TwoStepPredictor(CryDetector(load(choice.detector), folder=choice.detector), reason)


def load_predictor(run: str | Path | RunFolder | None = None, trust_pickle: bool = False):
    """What answers a recording with torch: `build(choose(run))` (the default: checkpoints/default.json's detector
    + reason model). Front ends ask app.answer.answerer, which chooses the engine and caches."""
    return build(choose(run), trust_pickle)


def load_model(run: str | Path | RunFolder | None = None, trust_pickle: bool = False) -> Predictor:
    """A Predictor for one run id, folder or RunFolder alone (default: the app's default run)."""
    from babycry_core.runs import run_registry as runs

    folder = runs.open_run(run) if run else runs.default_folder()
    if folder is None:
        raise FileNotFoundError(NO_CHECKPOINT)
    return build(Choice(single=folder), trust_pickle)


def predict_each(predictor, files) -> list[Prediction | dict]:
    """predictor.predict on each file; a file that fails gives {"file", "error"} and the others still run."""
    return each_file(files, lambda f: predictor.predict(f, name=str(f)))

"""The cry detector at inference: is there crying in this recording, where, and if not, what was heard.

A `cry_detector` run is a small CNN over 2 s log-mel windows, each normalised to its own peak (the shape of
the sound counts, not its level), scored every 0.5 s. Per window it gives P(cry, laugh, noise, silence,
speech). The recording's cry probability is the mean over its most cry-like third of windows (a cry need not
fill the recording; one odd window does not make one), compared with the threshold the run chose on
validation for cry recall >= 0.95 (`calibration.json`: cry_threshold).

Digital silence never reaches the model: the energy check in `inference/two_step.py` answers it first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from babycry_core.eval.calibration import softmax
from babycry_core.runs.checkpoint import LoadedModel
from babycry_core.runs.run_folder import RunFolder
from babycry_core.data.corpora import CRY
from babycry_core.features.logmel import log_mel, windows

TOP_FRACTION = 1 / 3
DEFAULT_THRESHOLD = 0.5


def clip_probability(window_p: np.ndarray, top_fraction: float = TOP_FRACTION) -> float:
    """A recording's cry probability from its windows': the mean of the top `top_fraction` (at least one)."""
    p = np.sort(np.asarray(window_p, dtype=np.float64))[::-1]
    if not len(p):
        return 0.0
    k = max(1, int(math.ceil(len(p) * top_fraction)))
    return float(p[:k].mean())


def segment_probability(starts: np.ndarray, window_p: np.ndarray, win_s: float, hop_s: float,
                        duration: float) -> tuple[np.ndarray, np.ndarray]:
    """(segment starts, P(cry)) on a grid of `hop_s`: each segment takes the mean of the windows covering it."""
    n = max(1, int(math.ceil(duration / hop_s)))
    seg = np.arange(n) * hop_s
    p = np.zeros(n)
    for j, s in enumerate(seg):
        mid = s + hop_s / 2
        cover = (starts <= mid) & (mid < starts + win_s)
        p[j] = window_p[cover].mean() if cover.any() else window_p[np.argmin(np.abs(starts - s))]
    return seg, p


@dataclass
class CryResult:
    """What the detector found in one recording."""

    probability: float  # the recording's P(cry)
    detected: bool
    seconds: float  # how long the recording is crying
    heard: str  # cry / speech / laugh / noise / silence
    heard_probabilities: dict[str, float]  # mean over windows of each class
    threshold: float
    windows: list[dict] = field(default_factory=list)  # [{"start", "end", "p"}] per window

    def to_dict(self) -> dict:
        return {"probability": self.probability, "detected": self.detected, "seconds": self.seconds,
                "threshold": self.threshold, "windows": self.windows}


class CryDetector:
    """A loaded cry_detector run. Inference only: safe to share between threads."""

    def __init__(self, loaded: LoadedModel, folder: RunFolder | None = None):
        """folder: the run as it was opened (its cached files serve the YAMNet sides); default: loaded.run_dir."""
        self.loaded = loaded
        self.folder = folder if folder is not None else RunFolder.of(loaded.run_dir)
        self.net = loaded.model
        self.labels = list(loaded.labels)
        self.cfg = loaded.feature_config
        self.cry_index = self.labels.index(CRY)
        cal = loaded.calibration
        self.temperature = float(cal.get("temperature", 1.0))
        self.threshold = float(cal.get("cry_threshold", DEFAULT_THRESHOLD))
        self.top_fraction = float(cal.get("top_fraction", TOP_FRACTION))
        self.fusion, self.fusion_error = None, None  # YAMNet's side of a fused run (inference/cry_fusion.py)
        self.verdict, self.verdict_error = None, None  # the upload verdict (inference/clip_verdict.py)
        from babycry_core.inference import clip_verdict, cry_fusion

        cry_fusion.attach(self)
        clip_verdict.attach(self)

    @property
    def run_id(self) -> str:
        return self.loaded.run_dir.name

    @property
    def kind(self) -> str:
        """What answers: the CNN alone, or the CNN with YAMNet (and how they are combined)."""
        return f"CNN + YAMNet ({self.fusion.mode})" if self.fusion is not None else "CNN"

    def features(self, wins: list[np.ndarray]) -> np.ndarray:
        return np.stack([log_mel(w, self.cfg) for w in wins])[:, None]  # (windows, 1, n_mels, frames)

    def feature_proba(self, X: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Calibrated class probabilities (windows, classes) for log-mel windows X (windows, 1, n_mels, frames)."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(X), batch_size):
                out.append(self.net(torch.from_numpy(np.ascontiguousarray(X[i : i + batch_size]))).numpy())
        logits = np.concatenate(out) if out else np.zeros((0, len(self.labels)), np.float32)
        return softmax(logits, self.temperature)

    def window_proba(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(window starts in s, class probabilities (windows, classes)) of a waveform at cfg.sample_rate."""
        wins = windows(y, self.cfg)
        starts = np.array([s for s, _ in wins])
        W = [w for _, w in wins]
        return starts, self.fused(W, self.feature_proba(self.features(W)))

    def fused(self, W, proba: np.ndarray) -> np.ndarray:
        """The CNN's class probabilities of windows W (windows, classes), with YAMNet's side of a fused run
        (inference/cry_fusion.py) applied; as they are for a plain CNN detector."""
        if self.fusion is None:
            return proba
        return self.fusion.apply(np.asarray(W), proba, self.cry_index, self.cfg.sample_rate)

    def judge(self, y: np.ndarray):
        """The upload verdict on a whole recording at cfg.sample_rate (crying / unsure / no_cry), or None for a
        detector without one (its windows decide)."""
        return None if self.verdict is None else self.verdict.judge(y, self.cfg.sample_rate)

    def detect(self, y: np.ndarray) -> CryResult:
        starts, proba = self.window_proba(y)
        return self.summarise(starts, proba, len(y) / self.cfg.sample_rate)

    def summarise(self, starts: np.ndarray, proba: np.ndarray, duration: float) -> CryResult:
        p_cry = proba[:, self.cry_index]
        clip_p = clip_probability(p_cry, self.top_fraction)
        detected = clip_p >= self.threshold
        win_s = self.cfg.clip_seconds
        hop_s = self.cfg.window_hop_samples / self.cfg.sample_rate
        if len(starts) == 1:
            seconds = duration if detected else 0.0
        else:
            _, seg_p = segment_probability(starts, p_cry, win_s, hop_s, duration)
            seconds = float(min(duration, hop_s * int((seg_p >= self.threshold).sum())))
        mean = proba.mean(axis=0)
        heard_p = dict(zip(self.labels, map(float, mean)))
        if detected:
            heard = CRY
        else:
            heard = max((c for c in self.labels if c != CRY), key=lambda c: heard_p[c])
        wins = [{"start": float(s), "end": float(min(s + win_s, max(duration, win_s))), "p": float(p)}
                for s, p in zip(starts, p_cry)]
        return CryResult(clip_p, bool(detected), round(seconds, 2), heard, heard_p, self.threshold, wins)


def choose_threshold(p: np.ndarray, is_cry: np.ndarray, min_recall: float = 0.95) -> dict:
    """The cry threshold from validation clips: among thresholds whose recall >= min_recall, the one with the
    best balanced accuracy (ties: the lower threshold). Returns the threshold and its validation figures."""
    p, t = np.asarray(p, dtype=np.float64), np.asarray(is_cry, dtype=bool)
    if not t.any() or t.all():
        return {"cry_threshold": DEFAULT_THRESHOLD, "val_recall": float("nan"), "val_false_alarm_rate": float("nan"),
                "rule": "default (validation lacks cries or non-cries)"}
    best = None
    for thr in np.unique(np.concatenate([p[t], [DEFAULT_THRESHOLD]])):
        rec = float((p[t] >= thr).mean())
        far = float((p[~t] >= thr).mean())
        if rec < min_recall:
            continue
        score = (rec + 1 - far) / 2
        if best is None or score > best[0] + 1e-12:
            best = (score, float(thr), rec, far)
    if best is None:  # cannot reach the recall: the lowest cry probability of a validation cry
        thr = float(p[t].min())
        best = (0.0, thr, float((p[t] >= thr).mean()), float((p[~t] >= thr).mean()))
    return {"cry_threshold": best[1], "val_recall": best[2], "val_false_alarm_rate": best[3],
            "min_recall": min_recall, "rule": f"best balanced accuracy with validation recall >= {min_recall}"}

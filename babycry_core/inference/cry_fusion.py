"""YAMNet's ear on the cry detector: the small CNN and YAMNet, window by window, in one decision.

The two ears err on opposite sides. The CNN normalises each window (a quiet cry is still a cry) but calls much
adult speech and some same-app noise a cry; YAMNet (AudioSet) knows speech, music and street sounds but misses
quiet cries. A fused run is a `cry_detector` run folder plus two files:

    fusion.json               the mode, the fused-logit weights, the screen, the clip threshold, the YAMNet weights'
                              identity and the figures it was fitted on
    yamnet_head.safetensors   a standardised logistic head on YAMNet's window features (features/yamnet_windows.py)

Modes (each window's P(cry); the CNN's other four classes are rescaled to fill the rest):
    head     the head's P(cry) alone
    cascade  the CNN screens every window; windows it scores below `screen` get P(cry) 0 and YAMNet never runs on
             them; the head decides the others
    fusion   sigmoid(w . [logit CNN P(cry), head logit, logit YAMNet's own cry score] + b), fitted on validation
             windows the CNN and the head never trained on; `screen` (optional) as in cascade

Without YAMNet's weights the run still loads as its plain CNN, with the CNN's own threshold, and says why
(`CryDetector.fusion_error`). numpy and the TFLite interpreter only: no torch, no scikit-learn.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babycry_core import fileio
from babycry_core.runs.run_folder import RunFolder

FILE, HEAD_FILE = RunFolder.FUSION_FILES
MODES = ("head", "cascade", "fusion")
EPS = 1e-4


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def sigmoid(z) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(z, np.float64)))


@dataclass
class YamnetFusion:
    """One fused detector's YAMNet side (see the module doc)."""

    mode: str
    mean: np.ndarray  # (N_FEATURES,) the head's standardisation
    scale: np.ndarray
    coef: np.ndarray  # (N_FEATURES,)
    intercept: float
    weights: tuple[float, float, float] = (0.0, 1.0, 0.0)  # fused logit: CNN, head, YAMNet's own score
    bias: float = 0.0
    screen: float | None = None
    threshold: float = 0.5
    model_key: str = ""
    handle: str | None = None
    info: dict = field(default_factory=dict)

    def head_logit(self, F: np.ndarray) -> np.ndarray:
        return ((np.asarray(F, np.float64) - self.mean) / self.scale) @ self.coef + self.intercept

    def combine(self, p_cnn: np.ndarray, F: np.ndarray) -> np.ndarray:
        """P(cry) of windows from the CNN's P(cry) (windows,) and YAMNet's window features (windows, N_FEATURES)."""
        h = self.head_logit(F)
        if self.mode != "fusion":
            return sigmoid(h)
        z = np.stack([logit(p_cnn), h, logit(np.asarray(F)[:, 0])], axis=1)  # (windows, 3)
        return sigmoid(z @ np.asarray(self.weights, np.float64) + self.bias)

    def screened(self, p_cnn: np.ndarray, features_of) -> np.ndarray:
        """P(cry) of windows (windows,) from the CNN's P(cry): 0 where the screen stops a window, else combine() with
        features_of(mask), YAMNet's features (mask.sum(), N_FEATURES) of the windows the screen lets through."""
        p_cnn = np.asarray(p_cnn, np.float64)
        ask = np.ones(len(p_cnn), bool) if self.screen is None else p_cnn >= self.screen
        out = np.zeros(len(p_cnn))
        if ask.any():
            out[ask] = self.combine(p_cnn[ask], features_of(ask))
        return out

    def cry_proba(self, W: np.ndarray, p_cnn: np.ndarray, sr: int) -> np.ndarray:
        """P(cry) of raw windows W (windows, samples), YAMNet run only where the screen lets a window through."""
        from babycry_core.features.yamnet_windows import window_features

        return self.screened(p_cnn, lambda ask: window_features(np.asarray(W)[ask], sr, self.handle))

    def apply(self, W: np.ndarray, proba: np.ndarray, cry_index: int, sr: int) -> np.ndarray:
        """The CNN's class probabilities (windows, classes) with the fused P(cry); the rest rescaled to sum to 1."""
        proba = np.asarray(proba, np.float64)
        if not len(proba):
            return proba.astype(np.float32)
        p = self.cry_proba(W, proba[:, cry_index], sr)
        rest = 1 - proba[:, cry_index]
        out = proba * np.where(rest > 1e-9, (1 - p) / np.maximum(rest, 1e-9), 0.0)[:, None]
        out[:, cry_index] = p
        return out.astype(np.float32)

    # ---------------------------------------------------------------- files

    def save(self, folder: Path | RunFolder) -> list[str]:
        from safetensors.numpy import save

        folder = RunFolder.of(folder)
        folder.write_bytes(HEAD_FILE, save({"mean": self.mean.astype(np.float32),
                                            "scale": self.scale.astype(np.float32),
                                            "coef": self.coef.astype(np.float32)}))
        folder.write(FILE, {
            "mode": self.mode, "intercept": float(self.intercept), "weights": [float(w) for w in self.weights],
            "bias": float(self.bias), "screen": None if self.screen is None else float(self.screen),
            "cry_threshold": float(self.threshold), "yamnet_model_key": self.model_key,
            "yamnet_handle": self.handle, "head_sha256": fileio.sha256_file(folder.file(HEAD_FILE)), **self.info})
        return [FILE, HEAD_FILE]

    @classmethod
    def load(cls, folder: Path | RunFolder) -> "YamnetFusion":
        from safetensors.numpy import load_file

        folder = RunFolder.of(folder)
        d = folder.read(FILE)
        if d.get("mode") not in MODES:
            raise ValueError(f"{folder.file(FILE)}: unknown mode {d.get('mode')!r}; valid: {', '.join(MODES)}")
        if fileio.sha256_file(folder.file(HEAD_FILE)) != d.get("head_sha256"):
            raise ValueError(f"{folder.file(HEAD_FILE)} does not match the sha256 in {FILE}")
        t = load_file(str(folder.file(HEAD_FILE)))
        known = {"mode", "intercept", "weights", "bias", "screen", "cry_threshold", "yamnet_model_key",
                 "yamnet_handle", "head_sha256"}
        return cls(d["mode"], t["mean"].astype(np.float64), t["scale"].astype(np.float64),
                   t["coef"].astype(np.float64), float(d["intercept"]), tuple(d["weights"]), float(d["bias"]),
                   d.get("screen"), float(d["cry_threshold"]), d.get("yamnet_model_key", ""),
                   d.get("yamnet_handle"), {k: v for k, v in d.items() if k not in known})


def yamnet_side(folder: Path | RunFolder, file: str, load):
    """A run folder's YAMNet side (a fusion or an upload verdict: anything with .handle and .model_key), bound to
    YAMNet's weights here: (side, None); (None, why) without the weights or with other ones; (None, None) when the
    folder has no such file."""
    from babycry_core.features.yamnet import YamnetMismatch, YamnetUnavailable, for_run

    folder = RunFolder.of(folder)
    if not folder.has(file):
        return None, None
    side = load(folder)
    try:
        side.handle = for_run(side.handle, side.model_key)
    except (YamnetUnavailable, YamnetMismatch) as e:
        return None, e
    return side, None


def attach(det) -> None:
    """Give a loaded detector its YAMNet side when its folder has one: det.fusion and the fused threshold; without
    YAMNet's weights (or with other ones), det.fusion_error says why and the detector stays its plain CNN."""
    from babycry_core.features.yamnet import YamnetUnavailable

    fusion, e = yamnet_side(det.folder, FILE, YamnetFusion.load)
    if e is not None:
        det.fusion_error = (f"YAMNet is not available, so this detector runs as its CNN alone: {e}"
                            if isinstance(e, YamnetUnavailable) else f"{e}; it runs as its CNN alone")
    elif fusion is not None:
        det.fusion, det.threshold = fusion, fusion.threshold

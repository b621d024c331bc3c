"""The one feature front end: `log_mel()` under a frozen `FeatureConfig` (features/config.py), shared by training,
inference and plots.

Donate-a-Cry is recorded at 8 kHz, so nothing above 4 kHz exists in the training data. Every input is
resampled to `sample_rate` (whose anti-alias filter removes everything above Nyquist) and the mel bank stops
at `fmax`, so a 44.1 kHz phone upload reaches the model limited to the band the model was trained on.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from babycry_core import fileio, paths
from babycry_core.audio.signal import fix_length
from babycry_core.features import mel_scale
from babycry_core.features.config import FeatureConfig


def mel_frequencies(n: int, fmin: float, fmax: float) -> np.ndarray:
    """n frequencies (Hz) evenly spaced on the Slaney mel scale (linear below 1 kHz, logarithmic above), as
    librosa.mel_frequencies computes them (without importing librosa and numba: a plain `predict` stays fast)."""
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp

    def to_mel(f: float) -> float:
        return min_log_mel + np.log(f / min_log_hz) / logstep if f >= min_log_hz else f / f_sp

    mels = np.linspace(to_mel(fmin), to_mel(fmax), n)
    hz = f_sp * mels
    log_t = mels >= min_log_mel
    hz[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    return hz


def mel_centres(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of each of the cfg.n_mels bands the model sees (YAMNet's: HTK mel, 125-7500 Hz)."""
    lo, hi = cfg.band_hz
    if cfg.frontend == "yamnet":
        return mel_scale.mel_to_hz(mel_scale.mel_edges(cfg.n_mels, cfg.fmin, cfg.fmax))[1:-1]
    return mel_frequencies(cfg.n_mels + 2, lo, hi)[1:-1]


@lru_cache(maxsize=8)
def _mel_basis(cfg: FeatureConfig) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) Slaney-normalised triangular filters over cfg.band_hz: librosa.filters.mel's."""
    lo, hi = cfg.band_hz
    fftfreqs = np.fft.rfftfreq(n=cfg.n_fft, d=1.0 / cfg.sample_rate)
    mel_f = mel_frequencies(cfg.n_mels + 2, lo, hi)
    fdiff, ramps = np.diff(mel_f), np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((cfg.n_mels, 1 + cfg.n_fft // 2), dtype=np.float32)
    for i in range(cfg.n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2 : cfg.n_mels + 2] - mel_f[: cfg.n_mels]))[:, np.newaxis]
    return weights


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    return np.hanning(n_fft + 1)[:-1].astype(np.float32)


def log_mel(y: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Log-mel spectrogram in dB, shape (n_mels, frames), float32. Silence maps to -top_db, not -inf.

    With cfg.normalize the peak of this call's input is 0 dB (call it once per model window). With
    cfg.frontend "yamnet", YAMNet's own log-mel (natural log) instead, for the YAMNet networks."""
    if cfg.frontend == "yamnet":
        from babycry_core.features.yamnet import frontend_log_mel

        return frontend_log_mel(y, cfg)
    y = np.asarray(y, dtype=np.float32)
    short = cfg.n_fft - 2 * (cfg.n_fft // 2) - len(y)  # a clip shorter than one FFT frame once padded
    if short > 0:
        y = np.pad(y, (0, short))
    return log_mel_batch(y[None], cfg)[0]


def log_mel_batch(W: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """`log_mel` of each row of W (windows, samples) at once: (windows, n_mels, frames), the same numbers."""
    if cfg.frontend == "yamnet":
        return np.stack([log_mel(w, cfg) for w in W]) if len(W) else np.zeros((0, cfg.n_mels, 0), np.float32)
    pad = cfg.n_fft // 2
    Y = np.pad(np.asarray(W, dtype=np.float32), ((0, 0), (pad, pad)))
    frames = np.lib.stride_tricks.sliding_window_view(Y, cfg.n_fft, axis=1)[:, :: cfg.hop_length]  # (windows, frames, n_fft)
    # numpy's FFT, not scipy's: importing scipy.fft costs a plain `predict` 0.3 s, and the features are the same
    # to 1e-5 dB; a detector's window scores over 5 minutes take as long either way
    spec = np.fft.rfft(frames * _window(cfg.n_fft), axis=-1)  # (windows, frames, n_fft//2+1)
    power = spec.real**2 + spec.imag**2
    mel = np.matmul(_mel_basis(cfg), power.transpose(0, 2, 1))  # (windows, n_mels, frames)
    # absolute reference (not per-clip max) so loudness stays visible to the model and the energy gate
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    if cfg.normalize:  # level-free: a cry at -45 dBFS looks like one at -5 dBFS
        db = db - db.max(axis=(1, 2), keepdims=True)
    return np.maximum(db, -cfg.top_db).astype(np.float32)


SHORT_SLACK = 1.15  # a recording up to this many windows long is one window (padded or trimmed), not two


def window_starts(length: int, n: int, hop: int, *, slack: float = SHORT_SLACK, tail: bool = True) -> list[int]:
    """The one windowing rule: start samples of the n-sample windows, hop apart, over `length` samples.

    A recording no longer than slack x n gives one window at 0 (padded by the caller). With `tail`, a last
    window aligned to the end covers what the hop grid leaves over. Used by `windows` (inference, plots),
    the detector's training windows (tail=False, slack=1) and the episode engine's last window."""
    if length <= n * slack:
        return [0]
    starts = list(range(0, length - n + 1, hop))
    if tail and starts[-1] + n < length:
        starts.append(length - n)
    return starts


def windows(y: np.ndarray, cfg: FeatureConfig) -> list[tuple[float, np.ndarray]]:
    """Split a waveform into model windows: [(start_seconds, window)], half overlapping, the last end-aligned
    (window_starts). A clip no longer than one window (plus a little slack) gives exactly one, padded."""
    n = cfg.clip_samples
    return [(s / cfg.sample_rate, fix_length(y[s : s + n], n))
            for s in window_starts(len(y), n, cfg.window_hop_samples)]


def clip_features(path: str | os.PathLike, cfg: FeatureConfig, *, cache: bool = True) -> np.ndarray:
    """Log-mel of one corpus file cut/padded to one window, cached on disk by config and file content."""
    from babycry_core.audio import decode as audio

    path = Path(path)

    def compute() -> np.ndarray:
        return log_mel(fix_length(audio.load(path, cfg.sample_rate), cfg.clip_samples), cfg)

    if not cache:
        return compute()
    key = hashlib.sha1(f"{cfg.key()}:{audio.content_hash(path)}".encode()).hexdigest()
    return fileio.cached_npy(paths.cache_dir() / "features" / f"{key}.npy", compute)

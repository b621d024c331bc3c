"""Generated test and demo signals: silence, noise, a sine and a cry-like harmonic sweep.

Used by the tests and by the app when no corpus is present. No corpus audio is ever committed.
"""
from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def silence(seconds: float = 7.0, sr: int = 8000) -> np.ndarray:
    return np.zeros(int(seconds * sr), dtype=np.float32)


def white_noise(seconds: float = 7.0, sr: int = 8000, level: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(seconds * sr))).clip(-1, 1).astype(np.float32)


def sine(seconds: float = 7.0, sr: int = 8000, freq: float = 440.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def cry_sweep(seconds: float = 7.0, sr: int = 8000, f_lo: float = 400.0, f_hi: float = 600.0,
              level: float = 0.5, seed: int = 0) -> np.ndarray:
    """A cry-like signal: bursts of a harmonic tone whose pitch sweeps between f_lo and f_hi."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = f_lo + (f_hi - f_lo) * 0.5 * (1 + np.sin(2 * np.pi * 0.7 * t))  # slow pitch contour
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 6))
    bursts = (np.sin(2 * np.pi * 0.8 * t) > -0.3).astype(float)  # cry / breath rhythm
    y = y * bursts + 0.01 * rng.standard_normal(n)
    return (level * y / np.abs(y).max()).astype(np.float32)


SIGNALS = {"silence": silence, "white_noise": white_noise, "sine": sine, "cry_sweep": cry_sweep}


def to_wav_bytes(y: np.ndarray, sr: int = 8000, subtype: str = "PCM_16") -> bytes:
    """Encode a waveform as WAV bytes (what an upload or `st.audio_input` delivers)."""
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()

"""Signal helpers shared by every layer: one level in dBFS, one silence floor, one one-shot resampler (streaming:
resample.py), one gain to a level."""
from __future__ import annotations

import math

import numpy as np

SILENCE_DBFS = -65.0  # RMS below this is treated as silence, whatever a model would say


def rms_dbfs(y: np.ndarray) -> float:
    """RMS level in dBFS (full scale = 1.0); -inf for an empty or all-zero signal."""
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def scaled_to_level(y: np.ndarray, dbfs: float, *, peak_limit: bool = False) -> np.ndarray | None:
    """`y` scaled to an RMS of `dbfs`, in y's own precision; None for a silent (or non-finite) signal, which has no
    level to move. peak_limit: then divided by its peak where that exceeds full scale (1.0), so it never clips.
    The one place that turns a dBFS target into a gain: `at_level` here and `augment.waveform.gain` use it."""
    now = rms_dbfs(y)
    if not math.isfinite(now):
        return None
    z = y * 10 ** ((dbfs - now) / 20)
    if peak_limit:
        peak = float(np.abs(z).max())
        if peak > 1:
            z = z / peak
    return z


def at_level(y: np.ndarray, dbfs: float) -> np.ndarray:
    """`y` scaled to an RMS of `dbfs` (no limiting), float32; a silent signal comes back unchanged."""
    z = scaled_to_level(y, dbfs)
    return np.asarray(y, np.float32) if z is None else z.astype(np.float32)


def resample(y: np.ndarray, sr: int, to: int) -> np.ndarray:
    """Mono float32 resampled from `sr` to `to` with soxr (high quality; band-limits to to/2)."""
    y = np.asarray(y, np.float32)
    if sr == to:
        return y
    import soxr

    return soxr.resample(y, sr, to).astype(np.float32)


def fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad a waveform to exactly n samples."""
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))

"""The HTK mel scale (mel = 1127 ln(1 + f / 700)), one home: YAMNet's front end and the log-mel features use it.

YAMNet (and VGGish, tf.signal.linear_to_mel_weight_matrix) space their mel bands on this scale; the torch port
(yamnet_net.mel_matrix) builds its filterbank from it and logmel.mel_centres reports the same bands' centres.
numpy only and float64 throughout, so both callers get the values they computed before. (The Slaney scale that
librosa uses for the other log-mel front ends stays in logmel.py.)
"""
from __future__ import annotations

import numpy as np

MEL_BREAK_HZ = 700.0  # the scale is about linear below this, logarithmic above
MEL_HIGH_Q = 1127.0  # 1000 / ln(1 + 1000 / 700): 1000 Hz is 1000 mel


def hz_to_mel(f) -> np.ndarray:
    """HTK mel of frequency `f` (Hz; scalar or array), float64."""
    return MEL_HIGH_Q * np.log1p(np.asarray(f, np.float64) / MEL_BREAK_HZ)


def mel_to_hz(mel) -> np.ndarray:
    """Frequency (Hz) of HTK mel `mel` (scalar or array), float64: the inverse of hz_to_mel."""
    return MEL_BREAK_HZ * np.expm1(np.asarray(mel, np.float64) / MEL_HIGH_Q)


def mel_edges(n_mels: int, lo_hz: float, hi_hz: float) -> np.ndarray:
    """n_mels + 2 points (in mel) evenly spaced from lo_hz to hi_hz: band i has lower edge [i], centre [i + 1]
    and upper edge [i + 2], as in tf.signal.linear_to_mel_weight_matrix."""
    return np.linspace(hz_to_mel(lo_hz), hz_to_mel(hi_hz), n_mels + 2)

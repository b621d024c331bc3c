"""YAMNet's patch sequence over a whole recording, level-normalised: what the clip verdict (inference/clip_verdict.py)
hears.

A recording at the detector's 8 kHz (band-limited to 4 kHz whatever the phone recorded, so that no model learns
the sample rate: the corpus's cries are 8 kHz) is scaled to a peak of PEAK_DBFS (a cry at -40 dBFS sounds to YAMNet
as one at -3), upsampled to 16 kHz and cut into YAMNet's 0.975 s patches every 0.48 s. Each patch gives YAMNet's
521 class scores and its 1024-d embedding. Cached on disk by content, YAMNet's weights and the level rule.
"""
from __future__ import annotations

import hashlib

import numpy as np

from babycry_core import fileio, paths
from babycry_core.features.yamnet_errors import EMBED_DIM

PEAK_DBFS = -3.0
N_SCORES = 521
VERSION = "seq1"


def normalise(y: np.ndarray) -> np.ndarray:
    """y scaled to a peak of PEAK_DBFS (silence left as it is: the energy check answers it before any model)."""
    y = np.asarray(y, np.float32)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak < 1e-6:
        return y
    return (y * (10 ** (PEAK_DBFS / 20) / peak)).astype(np.float32)


def patch_sequence(y: np.ndarray, sr: int, handle: str | None = None, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(scores (patches, 521), embeddings (patches, 1024)) of one recording at `sr` (see the module doc)."""
    from babycry_core.features.yamnet import model_key, run, to_16k

    def compute() -> np.ndarray:
        scores, emb, _ = run(to_16k(normalise(y), sr), handle)
        return np.concatenate([scores, emb], axis=1).astype(np.float32)  # (patches, 521 + 1024)

    if not cache:
        out = compute()
    else:
        key = hashlib.sha1(np.ascontiguousarray(y, np.float32).tobytes()
                           + f"{sr}/{model_key(handle)}/{PEAK_DBFS}/{VERSION}".encode()).hexdigest()
        out = fileio.cached_npy(paths.cache_dir() / "yamnet_sequence" / f"{key}.npy", compute)
    return out[:, :N_SCORES], out[:, N_SCORES:N_SCORES + EMBED_DIM]

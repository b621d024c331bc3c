"""YAMNet over the cry detector's 2 s windows: what the fused detector (inference/cry_fusion.py) hears.

Each window gets three 0.975 s YAMNet patches, at 0, 0.5 and 1.0 s into it. Windows are 0.5 s apart, so the
patches of a recording lie on one 0.5 s grid and consecutive windows share two of their three: with the patch
cache below, a stream costs one YAMNet call per 0.5 s hop (about 1 ms on one core). A window's features (2049,)
are the highest "Baby cry, infant cry" score of its patches, then the mean and the max of their 1024-d
embeddings: the layout of bench/cry_yamnet.py's clip features, so one head reads either.

Patches are resampled to 16 kHz one by one (the same patch always gives the same input, whatever window it is in).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from babycry_core.audio.signal import fix_length, resample
from babycry_core.features.yamnet_errors import EMBED_DIM, SAMPLE_RATE

PATCH_OFFSETS_S = (0.0, 0.5, 1.0)
PATCH_SECONDS = 0.975  # YAMNet's patch: 15600 samples at 16 kHz
N_FEATURES = 1 + 2 * EMBED_DIM
CACHE_PATCHES = 4096


class PatchCache:
    """What YAMNet gives for a patch, kept for the last `size` patches by content (thread-safe LRU)."""

    def __init__(self, size: int = CACHE_PATCHES):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()
        self.calls = 0  # YAMNet invocations (what the cache saves is visible in tests and benchmarks)

    def get(self, key: bytes):
        with self.lock:
            v = self.items.get(key)
            if v is not None:
                self.items.move_to_end(key)
            return v

    def put(self, key: bytes, value) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def through(self, patch: np.ndarray, sr: int, run):
        """run(the patch resampled to YAMNet's 16 kHz input) for one patch of `sr` audio, or its cached result."""
        from babycry_core.features.yamnet_errors import PATCH_SAMPLES

        patch = np.ascontiguousarray(patch, np.float32)
        key = hashlib.sha1(patch.tobytes() + str(sr).encode()).digest()
        hit = self.get(key)
        if hit is None:
            hit = run(fix_length(resample(patch, sr, SAMPLE_RATE), PATCH_SAMPLES))
            self.calls += 1
            self.put(key, hit)
        return hit


_CACHE = PatchCache()


def window_patches(w: np.ndarray, sr: int) -> list[np.ndarray]:
    """A window's three YAMNet patches (PATCH_OFFSETS_S into it, PATCH_SECONDS long, zero-padded at the end)."""
    n = int(round(PATCH_SECONDS * sr))
    return [fix_length(w[int(o * sr):], n) for o in PATCH_OFFSETS_S]


def patch_output(model, patch: np.ndarray, sr: int, cry_index: int, cache: PatchCache = _CACHE):
    """(cry score, embedding (1024,)) of one patch of `sr` audio, through the loaded TFLite YAMNet."""
    def run(x):
        scores, emb, _ = model.run(x)
        return float(scores[cry_index]), emb.astype(np.float32)

    return cache.through(patch, sr, run)


def window_features(W: np.ndarray, sr: int, handle: str | None = None, cache: PatchCache = _CACHE) -> np.ndarray:
    """(windows, N_FEATURES) for windows W (windows, samples) at `sr`: max cry score, mean and max embedding."""
    from babycry_core.features.yamnet import BABY_CRY_INDEX, load_yamnet

    W = np.asarray(W, np.float32)
    out = np.zeros((len(W), N_FEATURES), np.float32)
    if not len(W):
        return out
    model = load_yamnet(handle)
    if not hasattr(model, "run"):
        raise ValueError("YAMNet's window features need the TFLite file (set BABYCRY_YAMNET to a yamnet.tflite)")
    for i, w in enumerate(W):
        res = [patch_output(model, p, sr, BABY_CRY_INDEX, cache) for p in window_patches(w, sr)]
        emb = np.stack([e for _, e in res])  # (patches, 1024)
        out[i, 0] = max(s for s, _ in res)
        out[i, 1:] = np.concatenate([emb.mean(0), emb.max(0)])
    return out

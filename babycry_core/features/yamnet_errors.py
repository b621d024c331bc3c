"""What every way into YAMNet shares (the TFLite file in features/yamnet.py, a SavedModel in features/yamnet_hub.py):
its sample rate, patch and embedding sizes, the setting that names the weights, and the one-line error when they cannot be had."""
from __future__ import annotations

import socket
import urllib.error

DEFAULT_HANDLE = "https://tfhub.dev/google/yamnet/1"  # the SavedModel on TF Hub (as a TF Hub cache folder's key)
WEIGHTS_ENV = "BABYCRY_YAMNET"  # a .tflite file, or a SavedModel folder / TF Hub handle
SAMPLE_RATE = 16000
EMBED_DIM = 1024
WINDOW, HOP, FFT = 400, 160, 512  # the front end: 0.025 s window, 0.010 s hop, next power of two
N_MELS = 64
PATCH_FRAMES, PATCH_HOP_FRAMES = 96, 48  # 0.96 s patches every 0.48 s
PATCH_SAMPLES = WINDOW + (PATCH_FRAMES - 1) * HOP  # 15600 = 0.975 s: one patch
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP  # 7680


class YamnetUnavailable(RuntimeError):
    """YAMNet's weights cannot be had; the message says what failed and how to fix it, in one sentence."""


def is_url(h: str) -> bool:
    return "://" in h


def unavailable(h: str, reason: str) -> YamnetUnavailable:
    """YamnetUnavailable for handle h: what failed and how to fix it, in one line."""
    if is_url(h):
        fix = f"Connect once to download it, or set {WEIGHTS_ENV} to a yamnet.tflite file or a SavedModel folder."
    else:
        fix = (f"Set {WEIGHTS_ENV} to a yamnet.tflite file or a folder holding YAMNet's saved_model.pb, or run "
               f"`python -m babycry_core data link`.")
    return YamnetUnavailable(f"YAMNet could not be loaded from {h} ({reason}). {fix}")


def reason_of(e: BaseException) -> str:
    """A loading error in a few words (no network?, HTTP 404, no such folder, ...)."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code}"
    if isinstance(e, (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, socket.gaierror)):
        return "no network?"
    if isinstance(e, OSError) and "does not exist" in str(e):
        return "no such folder"
    text = (str(e) or type(e).__name__).splitlines()[0]
    return f"{type(e).__name__}: {text[:120]}"

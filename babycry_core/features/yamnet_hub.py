"""YAMNet as a TensorFlow Hub SavedModel (a local SavedModel or TF Hub cache folder, or a TF Hub URL): the older way
in, kept for BABYCRY_YAMNET pointing at one. TensorFlow is imported only here, through `tf_import` (torch and
torchvision first), and only when such a handle is used; the TFLite file needs none of it (features/yamnet.py)."""
from __future__ import annotations

import hashlib
import socket
from functools import lru_cache
from pathlib import Path

import numpy as np

from babycry_core.features.yamnet_errors import (DEFAULT_HANDLE, EMBED_DIM, SAMPLE_RATE, YamnetUnavailable, is_url,
                                          reason_of, unavailable)

LOAD_TIMEOUT_S = 8.0  # socket timeout while hub.load downloads: an unreachable host fails, never hangs


def local_target(h: str) -> str:
    """A SavedModel folder, or the YAMNet entry of a TF Hub cache folder."""
    p = Path(h)
    if not p.is_dir():
        raise unavailable(h, "no such folder")
    if (p / "saved_model.pb").is_file():
        return str(p)
    cached = p / hashlib.sha1(DEFAULT_HANDLE.encode("utf8")).hexdigest()  # how tensorflow_hub names its cache
    if (cached / "saved_model.pb").is_file():
        return str(cached)
    found = sorted(d for d in p.iterdir() if (d / "saved_model.pb").is_file())
    if len(found) == 1:
        return str(found[0])
    raise unavailable(h, "no saved_model.pb in it, nor a TF Hub cache entry for YAMNet")


@lru_cache(maxsize=32)
def _fingerprint_cached(target: str, _stamp: tuple) -> str:
    h = hashlib.sha1(target.encode())
    for rel in ("saved_model.pb", "variables/variables.index"):
        f = Path(target) / rel
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def hub_key(h: str) -> str:
    """A SavedModel folder's identity: its path and a digest of its graph and variables index."""
    target = local_target(h)
    stamp = tuple((f.stat().st_mtime_ns, f.stat().st_size) for f in (Path(target) / "saved_model.pb",)
                  if f.exists())
    return f"{target}#{_fingerprint_cached(target, stamp)}"


def load_hub(h: str):
    """The SavedModel through tensorflow_hub.load, checked to be YAMNet; YamnetUnavailable within seconds otherwise."""
    from babycry_core.features import tf_import

    target = h if is_url(h) else local_target(h)
    try:
        hub = tf_import.tensorflow_hub()
    except Exception as e:  # noqa: BLE001 (ImportError, or pkg_resources missing with setuptools>=82)
        raise YamnetUnavailable(f"YAMNet needs tensorflow and tensorflow_hub, which could not be imported "
                                f"({reason_of(e)}); install them with `pip install -r requirements.txt`.") from e
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(LOAD_TIMEOUT_S)
    try:
        model = hub.load(target)
    except Exception as e:  # noqa: BLE001 (URLError, OSError, TF's own errors for a broken SavedModel)
        raise unavailable(h, reason_of(e)) from e
    finally:
        socket.setdefaulttimeout(old)
    try:
        _, emb, _ = call_hub(model, np.zeros(SAMPLE_RATE, np.float32))
    except Exception as e:  # noqa: BLE001
        raise unavailable(h, f"not a YAMNet model: calling it on a waveform failed ({reason_of(e)})") from e
    if emb.ndim != 2 or emb.shape[1] != EMBED_DIM:
        raise unavailable(h, f"not a YAMNet model: embeddings of shape {emb.shape}, expected (frames, {EMBED_DIM})")
    return model


def call_hub(model, w16: np.ndarray):
    """(scores, embeddings, log_mel) of the SavedModel on a 16 kHz waveform."""
    from babycry_core.features import tf_import

    tf = tf_import.tensorflow()
    scores, emb, log_mel = model(tf.constant(np.asarray(w16, np.float32).reshape(-1)))
    return np.asarray(scores.numpy(), np.float32), np.asarray(emb.numpy(), np.float32), np.asarray(log_mel.numpy())

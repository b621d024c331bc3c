"""YAMNet (Google's AudioSet classifier, 521 classes): finding its weights, running it, its front end, clip embeddings.

- Weights (`resolve_handle`): env BABYCRY_YAMNET (or the older BABYCRY_YAMNET_HANDLE, or --yamnet-handle): a
  `.tflite` file, a SavedModel / TF Hub cache folder, or a TF Hub URL; else the TFLite file `data link` linked into
  data/corpus/yamnet/ from ../shared/data/yamnet/ or downloaded once into data/yamnet/. None: `YamnetUnavailable`,
  one line with the fix, and nothing else in the app needs YAMNet.
- A `.tflite` file runs in PyTorch (features/yamnet_net.py, weights read by features/yamnet_tflite.py): no
  TensorFlow. A SavedModel still loads through `tensorflow_hub` (imported only then, through `tf_import`).
- Input: 16 kHz mono. Audio is decoded at the run's FeatureConfig rate (8 kHz: the Donate-a-Cry band) and upsampled,
  so YAMNet hears 0-4 kHz in training and for any upload; config.json says so.
- `run` gives (scores [frames, 521], embeddings [frames, 1024], log_mel [frames', 64]), one frame per 0.48 s hop of
  0.96 s. Frame embeddings are cached per clip on disk (keyed by the weights' sha256 and the clip's content hash)
  and pooled to one clip embedding: mean and std -> 2048-d.
- `audioset_evidence`: YAMNet's own "Baby cry, infant cry" score, its top classes, and its scores window by window.
- `frontend_log_mel`: YAMNet's front end as a feature (FeatureConfig frontend "yamnet") for `yamnet_ft`.

The `yamnet` and `yamnet_ft` registry models are in models/yamnet_transfer.py.
"""
from __future__ import annotations

import csv
import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from babycry_core import fileio, paths
from babycry_core.audio.signal import fix_length, resample
from babycry_core.features.yamnet_errors import (  # noqa: F401  (the YAMNet vocabulary, read from here)
    DEFAULT_HANDLE, EMBED_DIM, SAMPLE_RATE, WEIGHTS_ENV, YamnetUnavailable, is_url, reason_of, unavailable)

# `cfg` below is always a features.config.FeatureConfig, not imported here: only its fields are read (logmel
# imports this module for YAMNet's front end, FeatureConfig frontend "yamnet")
HANDLE_ENV = "BABYCRY_YAMNET_HANDLE"  # the older name of the same setting, still read
TFLITE_NAME, CLASS_MAP_NAME = "yamnet.tflite", "yamnet_class_map.csv"
# Google's YAMNet as TFLite (MediaPipe's audio classifier): what setup downloads when online and nothing is linked
OFFICIAL_TFLITE_URL = "https://storage.googleapis.com/mediapipe-models/audio_classifier/yamnet/float32/1/yamnet.tflite"
LICENCE = "Apache-2.0 (Google, tensorflow/models research/audioset/yamnet)"
N_AUDIOSET = 521
FRAME_SECONDS, HOP_SECONDS = 0.96, 0.48
BABY_CRY = "Baby cry, infant cry"
BABY_CRY_INDEX = 20  # its row in YAMNet's class map, for a model shipped without the CSV


# ---------------------------------------------------------------- finding the weights

def is_tflite(h: str) -> bool:
    return not is_url(h) and h.endswith(".tflite")


def tflite_candidates() -> list[Path]:
    """Where setup puts the TFLite file: linked from ../shared/data/yamnet/ (`data link`), or downloaded once;
    then the shared folder itself (a checkout whose data/ was set up elsewhere)."""
    return [paths.data_dir() / "corpus" / "yamnet" / TFLITE_NAME, paths.data_dir() / "yamnet" / TFLITE_NAME,
            paths.shared_data_dir() / "yamnet" / TFLITE_NAME]


NO_WEIGHTS = (f"YAMNet's weights are not here: run `python -m babycry_core data link` (it links or downloads "
              f"{TFLITE_NAME}), or set {WEIGHTS_ENV} to a yamnet.tflite file or a SavedModel folder")


def resolve_handle(handle: str | None = None) -> str:
    """The weights to use, in order: the explicit handle; env BABYCRY_YAMNET (or BABYCRY_YAMNET_HANDLE); the TFLite
    file setup linked or downloaded into data/. A handle is a .tflite file, a SavedModel or TF Hub cache folder, or
    a TF Hub URL. Local paths come back absolute. None of them: YamnetUnavailable, in one line."""
    h = ((str(handle).strip() if handle else "") or os.environ.get(WEIGHTS_ENV, "").strip()
         or os.environ.get(HANDLE_ENV, "").strip())
    if h:
        return h if is_url(h) else str(Path(h).expanduser().resolve())
    for f in tflite_candidates():
        if f.is_file():
            return str(f.absolute())
    raise YamnetUnavailable(NO_WEIGHTS)


def handle_for_run(recorded: str | None) -> str:
    """The weights a saved run uses: env BABYCRY_YAMNET when set (a moved or offline copy), else the recorded
    file when it is still there, else wherever setup put the TFLite file on this machine."""
    env = os.environ.get(WEIGHTS_ENV, "").strip() or os.environ.get(HANDLE_ENV, "").strip()
    if env:
        return resolve_handle(env)
    if recorded and (is_url(recorded) or Path(recorded).exists()):
        return resolve_handle(recorded)
    return resolve_handle(None)


@lru_cache(maxsize=8)
def _sha256(path: str, _stamp: tuple) -> str:
    return fileio.sha256_file(path)


def for_run(recorded_handle: str | None, recorded_key: str = "") -> str:
    """The YAMNet handle a run fitted with (recorded_handle, recorded_key) uses here, loaded. Raises
    YamnetUnavailable without the weights, and YamnetMismatch when the weights here are other ones."""
    h = handle_for_run(recorded_handle)
    load_yamnet(h)
    key = model_key(h)
    if recorded_key and key.split("/")[0] != recorded_key.split("/")[0]:
        raise YamnetMismatch(f"YAMNet's weights here ({key}) are not the ones it was fitted with ({recorded_key})")
    return h


class YamnetMismatch(ValueError):
    """YAMNet's weights here differ from those a run was fitted with."""


def model_key(handle: str | None = None) -> str:
    """Identity of the YAMNet model behind a handle (URL; or local file / folder + content digest): the cache key."""
    h = resolve_handle(handle)
    if is_url(h):
        return h
    if is_tflite(h):
        f = Path(h)
        if not f.is_file():
            raise unavailable(h, "no such file")
        return f"{f.name}#{_sha256(str(f), (f.stat().st_mtime_ns, f.stat().st_size))[:16]}/litert"
    from babycry_core.features.yamnet_hub import hub_key

    return hub_key(h)


_MODELS: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def load_yamnet(handle: str | None = None):
    """The loaded TF Hub model (cached per model). Raises YamnetUnavailable within seconds when it cannot be had."""
    h = resolve_handle(handle)
    key = model_key(h)  # also raises YamnetUnavailable for a missing local folder
    with _LOAD_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load(h)
        return _MODELS[key]


def _load(h: str):
    if is_tflite(h):
        return _load_tflite(h)
    from babycry_core.features.yamnet_hub import load_hub

    return load_hub(h)


def _load_tflite(h: str):
    """The TFLite file under ai-edge-litert's interpreter (the AudioSet view, frozen embeddings): no TensorFlow."""
    try:
        from babycry_core.features.yamnet_litert import TfliteYamnet

        return TfliteYamnet(h)
    except ImportError as e:
        raise YamnetUnavailable(f"reading {h} needs ai-edge-litert ({reason_of(e)}); install it with "
                                f"`pip install -r requirements.txt`") from e
    except (ValueError, RuntimeError, OSError, KeyError, StopIteration) as e:  # not a YAMNet file, or damaged
        raise unavailable(h, reason_of(e)) from e


def _call(model, w16: np.ndarray):
    if hasattr(model, "run_waveform"):  # the TFLite file
        return model.run_waveform(w16)
    from babycry_core.features.yamnet_hub import call_hub

    return call_hub(model, w16)


def run(waveform_16k: np.ndarray, handle: str | None = None):
    """YAMNet on one 16 kHz mono waveform: (scores [frames, 521], embeddings [frames, 1024], log_mel [frames', 64])."""
    return _call(load_yamnet(handle), waveform_16k)


def _read_class_map(path) -> list[str] | None:
    try:
        with open(path, newline="") as f:
            return [row["display_name"] for row in csv.DictReader(f)] or None
    except (OSError, KeyError, csv.Error):
        return None


def class_names(handle: str | None = None) -> list[str]:
    """AudioSet display names: the class map CSV beside a .tflite file, or a SavedModel's class_map_path();
    "class_<i>" when there is none."""
    key = model_key(handle)
    if key not in _NAMES:
        h = resolve_handle(handle)
        model = load_yamnet(h)
        if is_tflite(h):
            names = _read_class_map(Path(h).with_name(CLASS_MAP_NAME))
        else:
            try:
                path = model.class_map_path().numpy()
                names = _read_class_map(path.decode() if isinstance(path, bytes) else str(path))
            except Exception:  # noqa: BLE001 (no such method / asset in a stand-in model)
                names = None
        if not names:
            scores, _, _ = _call(model, np.zeros(SAMPLE_RATE, np.float32))
            names = [f"class_{i}" for i in range(scores.shape[1])]
        _NAMES[key] = names
    return _NAMES[key]


_NAMES: dict[str, list[str]] = {}


def audioset_evidence(waveform_16k: np.ndarray, handle: str | None = None, top: int = 5, classes: int = 8) -> dict:
    """YAMNet's own view of a 16 kHz recording: {"baby_cry": mean score of "Baby cry, infant cry", "baby_cry_max":
    its highest window score, "top": [(AudioSet class, mean score), ...], "frames": n windows, "timeline":
    {"starts": window starts in s (0.975 s windows every 0.48 s), "classes": the `classes` classes scoring highest
    in some window ("Baby cry, infant cry" always among them), "scores": [[score per window] per class]}}."""
    scores, _, _ = run(waveform_16k, handle)
    names = class_names(handle)
    mean = scores.mean(0)
    i = names.index(BABY_CRY) if BABY_CRY in names else (BABY_CRY_INDEX if len(mean) == N_AUDIOSET else None)
    order = np.argsort(-mean, kind="stable")[:top]
    loudest = [j for j in np.argsort(-scores.max(0), kind="stable") if j != i][: classes - (i is not None)]
    shown = ([i] if i is not None else []) + loudest
    return {"baby_cry": float(mean[i]) if i is not None else float("nan"),
            "baby_cry_max": float(scores[:, i].max()) if i is not None else float("nan"),
            "top": [(names[j], float(mean[j])) for j in order], "frames": int(len(scores)),
            "timeline": {"starts": [round(k * HOP_SECONDS, 3) for k in range(len(scores))],
                         "classes": [names[j] for j in shown], "scores": scores[:, shown].T.round(4).tolist()}}


def body_weights(handle: str | None = None) -> tuple[dict, str]:
    """(state_dict of YAMNet's 14 conv layers, where they came from), for fine-tuning; from the TFLite file."""
    h = resolve_handle(handle)
    net = torch_yamnet(h)
    return {k[len("layers."):]: v.clone() for k, v in net.state_dict().items() if k.startswith("layers.")}, \
        model_key(h).removesuffix("/litert")


@lru_cache(maxsize=2)
def _torch_cached(h: str, _key: str):
    try:
        from babycry_core.features.yamnet_tflite import load_yamnet_from_tflite

        return load_yamnet_from_tflite(h)
    except ImportError as e:
        raise YamnetUnavailable(f"reading {h} needs ai-edge-litert ({reason_of(e)}); install it with "
                                f"`pip install -r requirements.txt`") from e
    except (ValueError, RuntimeError, OSError) as e:
        raise unavailable(h, reason_of(e)) from e


def torch_yamnet(handle: str | None = None):
    """YAMNet in torch (features/yamnet_net.py) with the TFLite file's weights: for fine-tuning and its front end."""
    h = resolve_handle(handle)
    if not is_tflite(h):
        raise YamnetUnavailable(f"YAMNet in torch reads its weights from a .tflite file, not {h}; "
                                f"set {WEIGHTS_ENV} to yamnet.tflite or run `python -m babycry_core data link`")
    return _torch_cached(h, model_key(h))


# ---------------------------------------------------------------- YAMNet's front end, as a FeatureConfig

_FRONTEND_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _frontend(key: str):
    """The front end of the YAMNet the weights are (its DFT and mel matrices, int8 input rounding as the TFLite
    kernels do); a SavedModel's YAMNet computes its own, so the exact float front end stands in for it."""
    from babycry_core.features.yamnet_net import YamnetFrontEnd

    h = resolve_handle(None)
    if is_tflite(h):
        return torch_yamnet(h).frontend
    return YamnetFrontEnd().eval()


def frontend_log_mel(y: np.ndarray, cfg) -> np.ndarray:
    """YAMNet's log-mel of one window at cfg.sample_rate: upsampled to 16 kHz (so the band stays 0-sr/2), padded as
    YAMNet pads, (64, frames) with frames = cfg.n_frames for a whole window. Raises YamnetUnavailable."""
    import torch

    from babycry_core.features.yamnet_net import pad_waveform

    with _FRONTEND_LOCK:
        fe = _frontend(model_key(None))
    wave = torch.from_numpy(to_16k(np.asarray(y, np.float32), cfg.sample_rate)).reshape(1, -1)  # (1, samples)
    with torch.inference_mode():
        out = fe.log_mel(pad_waveform(wave))[0]  # (frames, 64)
    return out.T.contiguous().numpy().astype(np.float32)  # (64, frames)


# ---------------------------------------------------------------- clip embeddings

def to_16k(y: np.ndarray, sr: int) -> np.ndarray:
    """Resample to YAMNet's 16 kHz (upsampling 8 kHz audio keeps it band-limited to 4 kHz)."""
    return resample(y, sr, SAMPLE_RATE)


def pool(frames: np.ndarray) -> np.ndarray:
    """Frame embeddings (frames, 1024) → clip embedding (2048,): mean and std over frames."""
    frames = np.asarray(frames, np.float32)
    return np.concatenate([frames.mean(0), frames.std(0)]).astype(np.float32)


def frame_embeddings(waveform_16k: np.ndarray, handle: str | None = None) -> np.ndarray:
    return run(waveform_16k, handle)[1]


def clip_frame_embeddings(path, cfg, handle: str | None = None, cache: bool = True) -> np.ndarray:
    """Frame embeddings of one corpus clip (decoded at cfg.sample_rate, cut/padded to one window, upsampled to
    16 kHz), cached on disk by model and clip content."""
    from babycry_core.audio import decode as audio

    def compute() -> np.ndarray:
        y = fix_length(audio.load(path, cfg.sample_rate), cfg.clip_samples)
        return frame_embeddings(to_16k(y, cfg.sample_rate), handle)

    if not cache:
        return compute()
    key = hashlib.sha1(f"{model_key(handle)}:{audio.content_hash(path)}:{cfg.sample_rate}:{cfg.clip_samples}"
                       .encode()).hexdigest()
    return fileio.cached_npy(paths.cache_dir() / "yamnet" / f"{key}.npy", compute)


def clip_embeddings(items, cfg, handle: str | None = None, *, progress: bool = False,
                    cache: bool = True) -> np.ndarray:
    """(n, 2048) pooled embeddings of clip paths (cached) or of waveform windows at cfg.sample_rate."""
    from tqdm import tqdm

    items = list(items)
    out = []
    for it in tqdm(items, desc="embeddings (yamnet)", leave=False, disable=not progress):
        if isinstance(it, np.ndarray):
            out.append(pool(frame_embeddings(to_16k(it, cfg.sample_rate), handle)))
        else:
            out.append(pool(clip_frame_embeddings(it, cfg, handle, cache=cache)))
    return np.stack(out).astype(np.float32) if out else np.zeros((0, 2 * EMBED_DIM), np.float32)


def describe(handle: str, cfg) -> dict:
    """What config.json records about the YAMNet front end."""
    top = min(cfg.sample_rate / 2, SAMPLE_RATE / 2)
    return {"kind": "yamnet", "handle": handle, "model_key": model_key(handle), "input_sample_rate": SAMPLE_RATE,
            "decoded_at": cfg.sample_rate, "band_hz": [0.0, float(top)],
            "band_note": f"audio is decoded at {cfg.sample_rate} Hz and upsampled to 16 kHz: YAMNet sees 0-{top:.0f} Hz",
            "frames": f"{FRAME_SECONDS} s frames, {HOP_SECONDS} s hop", "pooling": "mean+std of frame embeddings",
            "dim": 2 * EMBED_DIM}

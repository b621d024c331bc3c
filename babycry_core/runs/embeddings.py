"""Clip embeddings for the classical heads (SVM, XGBoost), behind one function: `embed(source, items, cfg)`.

Sources (TrainConfig.embedding):
  "handcrafted"  a named acoustic set computed from `features.log_mel` (the same 0-4 kHz front end as the
                 CNNs): MFCC mean/std, MFCC-delta mean/std, log-mel band statistics, energy and spectral
                 centroid statistics, active fraction (110 features, e.g. "mfcc3_mean").
  "yamnet"       YAMNet frame embeddings pooled to mean + std (2048-d), see `features/yamnet.py`.
  a CNN run      id or folder of a trained torch run: its penultimate layer (`LogMelNet.embed`) on the
                 log-mel of each window, with that run's own FeatureConfig.
`items` are either paths of corpus clips (decoded at cfg.sample_rate and cut/padded to one window, exactly
like the CNN training clips; cached on disk per clip content) or waveform windows already at
cfg.sample_rate (what inference passes, from `features.windows`; not cached).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from babycry_core import fileio, paths
from babycry_core.features.handcrafted import handcrafted, handcrafted_names
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import fix_length, log_mel
from babycry_core.runs.family import family_of
from babycry_core.runs.run_folder import RunFolder, recorded_family

HANDCRAFTED = "handcrafted"
YAMNET = "yamnet"
HANDCRAFTED_VERSION = 1  # bump when the handcrafted set changes: old cache entries are then ignored
_BATCH = 32


@dataclass(frozen=True)
class Source:
    """A resolved embedding source."""

    kind: str  # "handcrafted" | "yamnet" | "cnn"
    run_dir: Path | None = None  # cnn: the run folder whose penultimate layer is used
    handle: str | None = None  # yamnet: the resolved model handle

    @property
    def name(self) -> str:
        return self.run_dir.name if self.kind == "cnn" else self.kind


def resolve(source, handle: str | None = None) -> Source:
    """"handcrafted", "yamnet" or a CNN run id/folder → Source. Unknown runs raise FileNotFoundError."""
    if isinstance(source, Source):
        return source
    s = str(source)
    if s == HANDCRAFTED:
        return Source(HANDCRAFTED)
    if s == YAMNET:
        from babycry_core.features.yamnet import resolve_handle

        return Source(YAMNET, handle=resolve_handle(handle))
    from babycry_core.runs import run_registry as runs

    run_dir = Path(runs.find_run(s)).resolve()
    config = RunFolder(run_dir).config
    fam = family_of(config)
    if fam is None or not fam.embeds:
        raise ValueError(f"embedding run {run_dir.name} is a {recorded_family(config)!r} model; a CNN (torch) run is needed, "
                         f"or 'handcrafted' / 'yamnet'")
    return Source("cnn", run_dir=run_dir)


def source_feature_config(source: Source, cfg: FeatureConfig) -> FeatureConfig:
    """The FeatureConfig the embeddings are computed with: a CNN source imposes its own."""
    if source.kind == "cnn":
        return RunFolder(source.run_dir).feature_config
    return cfg


def dim(source: Source, cfg: FeatureConfig) -> int:
    if source.kind == HANDCRAFTED:
        return len(handcrafted_names(cfg))
    if source.kind == YAMNET:
        from babycry_core.features.yamnet import EMBED_DIM

        return 2 * EMBED_DIM
    return int(_cnn(source.run_dir).feat_dim)


def feature_names(source: Source, cfg: FeatureConfig, n: int | None = None) -> list[str]:
    """One name per embedding dimension (meaningful for the handcrafted set)."""
    if source.kind == HANDCRAFTED:
        return handcrafted_names(cfg)
    n = n or dim(source, cfg)
    if source.kind == YAMNET:
        half = n // 2
        return [f"yamnet_mean{i}" for i in range(half)] + [f"yamnet_std{i}" for i in range(n - half)]
    return [f"cnn{i}" for i in range(n)]


def embed(source, items, cfg: FeatureConfig, *, handle: str | None = None, progress: bool = False,
          cache: bool = True) -> np.ndarray:
    """(n, d) float32 embeddings of clips (paths) or waveform windows (arrays at cfg.sample_rate)."""
    src = resolve(source, handle)
    items = list(items)
    if not items:
        return np.zeros((0, dim(src, cfg)), np.float32)
    if src.kind == YAMNET:
        from babycry_core.features.yamnet import clip_embeddings

        return clip_embeddings(items, cfg, src.handle, progress=progress, cache=cache)
    if isinstance(items[0], np.ndarray):
        return _embed_waves(src, [np.asarray(w, np.float32) for w in items], cfg)
    return _embed_paths(src, items, cfg, progress, cache)


# ---------------------------------------------------------------- clips on disk

def _embed_paths(src: Source, items, cfg: FeatureConfig, progress: bool, cache: bool) -> np.ndarray:
    from tqdm import tqdm

    from babycry_core.audio import decode as audio

    tag = _cache_tag(src, cfg)
    folder = paths.cache_dir() / "embeddings"
    out: list[np.ndarray | None] = [None] * len(items)
    todo = []
    for i, p in enumerate(items):
        f = folder / f"{hashlib.sha1(f'{tag}:{audio.content_hash(p)}'.encode()).hexdigest()}.npy" if cache else None
        if f is not None and f.exists():
            try:
                out[i] = np.load(f)
                continue
            except (OSError, ValueError):
                pass  # corrupt cache entry: recompute and overwrite
        todo.append((i, p, f))
    bar = tqdm(total=len(todo), desc=f"embeddings ({src.name})", leave=False, disable=not progress or not todo)
    for j in range(0, len(todo), _BATCH):
        chunk = todo[j : j + _BATCH]
        waves = [fix_length(audio.load(p, cfg.sample_rate), cfg.clip_samples) for _, p, _ in chunk]
        for (i, _, f), v in zip(chunk, _embed_waves(src, waves, cfg)):
            out[i] = v
            if f is not None:
                fileio.write_npy(f, v)
        bar.update(len(chunk))
    bar.close()
    return np.stack(out).astype(np.float32)


def _cache_tag(src: Source, cfg: FeatureConfig) -> str:
    if src.kind == HANDCRAFTED:
        return f"handcrafted-v{HANDCRAFTED_VERSION}-{cfg.key()}"
    return f"cnn-{_weights_sha256(src.run_dir)[:20]}-{cfg.key()}"


def _embed_waves(src: Source, waves: list[np.ndarray], cfg: FeatureConfig) -> np.ndarray:
    if src.kind == HANDCRAFTED:
        return np.stack([handcrafted(w, cfg) for w in waves]).astype(np.float32)
    import torch

    model = _cnn(src.run_dir)
    outs = []
    for j in range(0, len(waves), _BATCH):
        X = np.stack([log_mel(w, cfg) for w in waves[j : j + _BATCH]])[:, None]  # (batch, 1, n_mels, frames)
        with torch.inference_mode():
            outs.append(model.embed(torch.from_numpy(X)).numpy())
    return np.concatenate(outs).astype(np.float32)


# ---------------------------------------------------------------- CNN penultimate layer

_CNN_LOCK = threading.Lock()


def _cnn(run_dir: Path):
    f = RunFolder(run_dir).file(RunFolder.WEIGHTS)
    return _cnn_cached(str(Path(run_dir).resolve()), f.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _cnn_cached(run_dir: str, _mtime: int):
    from babycry_core.runs.weights import load_torch_model

    with _CNN_LOCK:
        return load_torch_model(Path(run_dir))


def _weights_sha256(run_dir: Path) -> str:
    f = RunFolder(run_dir).file(RunFolder.WEIGHTS)
    st = f.stat()
    return _sha256_cached(str(f.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _sha256_cached(path: str, _mtime: int, _size: int) -> str:
    return fileio.sha256_file(path)

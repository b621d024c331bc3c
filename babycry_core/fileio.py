"""Atomic file writes: write to a temp file in the same folder, fsync, then os.replace.

A process killed half way leaves the old file (or none), never a truncated one that looks complete.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


def atomic_write(target: str | os.PathLike, write: Callable[[object], None], mode: str = "wb") -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are ordinary project files
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_bytes(target, data: bytes) -> Path:
    return atomic_write(target, lambda f: f.write(data))


def write_json(target, obj) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, default=json_default)
    return atomic_write(target, lambda f: f.write(text), mode="w")


def write_npy(target, arr: np.ndarray) -> Path:
    return atomic_write(target, lambda f: np.save(f, arr))


def cached_npy(path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The array saved at `path`, or compute() saved there atomically (a corrupt entry is recomputed)."""
    path = Path(path)
    if path.exists():
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass  # corrupt cache entry: recompute and overwrite
    arr = compute()
    write_npy(path, arr)
    return arr


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read in 1 MB blocks (checks that project-written files are unchanged)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def newest_mtime(folder) -> float:
    """The newest modification time of the files directly in a folder (0 when it cannot be read): what a cache of
    something built from the folder's files keys on."""
    try:
        return max((f.stat().st_mtime for f in Path(folder).iterdir() if f.is_file()), default=0.0)
    except OSError:
        return 0.0


def read_json(path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        if default is not None:
            return default
        raise


def json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")

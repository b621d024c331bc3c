"""Project folders, resolved once from the package location (never from the working directory).

Each folder can be overridden with an environment variable, which tests use to work in a temp dir.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _dir(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """`data/`: the linked corpus, manifests and splits."""
    return _dir("BABYCRY_DATA", ROOT / "data")


def checkpoints_dir() -> Path:
    """`checkpoints/`: one self-describing folder per trained run."""
    return _dir("BABYCRY_CHECKPOINTS", ROOT / "checkpoints")


def results_dir() -> Path:
    """`results/`: leaderboards and benchmark outputs read by the Compare page."""
    return _dir("BABYCRY_RESULTS", ROOT / "results")


def cache_dir() -> Path:
    """`.cache/`: features and embeddings, keyed by config and content."""
    return _dir("BABYCRY_CACHE", ROOT / ".cache")


def shared_data_dir() -> Path:
    """`../shared/data` beside the project, where this workplace keeps the corpora."""
    return _dir("BABYCRY_SHARED_DATA", ROOT.parent / "shared" / "data")

"""The one entry point that trains any registry model: it picks the family's trainer.

    torch       train.fit (the log-mel CNNs, from their corpus split)
    detector    detector_train.fit_detector (its own corpus and augmentation, then train.fit's epoch loop)
    others      the family's `fit` in the registry (classical, yamnet, two_stage; see issue 12)
"""
from __future__ import annotations

from pathlib import Path


def fit(cfg, run_dir: Path | None = None, *, progress: bool = True) -> Path:
    from .models import get_spec

    family = get_spec(cfg.model).family  # unknown names fail before any work
    if family == "detector":
        from .detector_train import fit_detector

        return fit_detector(cfg, run_dir, progress=progress)
    from .train import fit as fit_torch

    return fit_torch(cfg, run_dir, progress=progress)

"""The detector family: the cry detector (models/detector_net.py; ModelSpec family "detector"). It trains on its own
corpus and augmentation; what it trains is a torch network, so its runs record "torch" and load, check, evaluate,
export and answer as the torch family's."""
from __future__ import annotations

from pathlib import Path

from babycry_core.families.torch_family import TorchFamily
from babycry_core.runs.family import register


@register
class DetectorFamily(TorchFamily):
    name = "detector"
    records = "torch"
    takes_log_mel_parts = False  # it reads its own corpus

    def fit(self, cfg, run_dir: Path | None = None, *, progress: bool = True, **kw) -> Path:
        """training.detector_fit.fit_detector, on cfg made a detector's config (its features and classes)."""
        from babycry_core.training.detector_fit import as_detector_config, fit_detector

        return fit_detector(as_detector_config(cfg), run_dir, progress=progress, **kw)

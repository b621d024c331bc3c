"""The one entry point that trains any registry model: it asks the model's family (runs.family; the spec's family,
models/registry.py) for its `fit`:
    torch       training.loop.fit (the log-mel CNNs, from their corpus split; the one epoch loop)
    detector    training.detector_fit.fit_detector (its own corpus and augmentation, then training.loop.fit's epoch loop)
    classical   training.classical_fit.fit_classical (svm, xgboost: the one scikit-learn / XGBoost fit path)
    yamnet      training.yamnet_head.fit_yamnet (YAMNet embeddings, then the head through training/loop.py's epoch loop)
    two_stage   training.two_stage_fit.fit_two_stage (gate and reason, each a training.loop.fit run, combined)
Every trainer writes its run folder with runs.writer.RunWriter; runs.checkpoint.load rebuilds any of them.
"""
from __future__ import annotations

from pathlib import Path

from babycry_core.runs.family import family


def with_model_defaults(cfg):
    """cfg with what its model's spec asks for where cfg left the default: its own FeatureConfig
    (params["features"], e.g. yamnet_ft's YAMNet front end) and pretrained weights (params["pretrained"])."""
    import dataclasses

    from babycry_core.features.config import FeatureConfig
    from babycry_core.models import get_spec

    params = get_spec(cfg.model).params
    if "features" in params and FeatureConfig.from_dict(cfg.features) == FeatureConfig():
        cfg = dataclasses.replace(cfg, features=dict(params["features"]))
    if params.get("pretrained") and not cfg.pretrained:
        cfg = dataclasses.replace(cfg, pretrained=True)
    return cfg


def fit(cfg, run_dir: Path | None = None, *, progress: bool = True, data_parts=None) -> Path:
    """Train cfg.model (any family) into run_dir (default: a new folder under checkpoints/); return the folder.

    data_parts: (labels, parts) already loaded, for a torch model (the leaderboard loads a fold's log-mel once for
    every CNN); the other families read their own data."""
    from babycry_core.models import get_spec

    fam = family(get_spec(cfg.model).family)  # unknown names fail before any work
    cfg = with_model_defaults(cfg)
    if data_parts is not None:
        if not fam.takes_log_mel_parts:
            raise ValueError(f"data_parts are log-mel features for a torch model; {cfg.model} is a {fam.name!r} model")
        return fam.fit(cfg, run_dir, progress=progress, data_parts=data_parts)
    return fam.fit(cfg, run_dir, progress=progress)

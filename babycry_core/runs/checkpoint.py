"""Rebuild a model from its run folder alone (nanoGPT-style: the folder carries its model args).

`load(run)` checks the folder (weights.weights_problem), reads its config, labels, feature config and calibration
(through runs.run_folder.RunFolder: a caller that opened the run once reads each file once), and rebuilds the
model with its family's `load` (runs.family, config.json["family"]; babycry_core.families):
    torch       the registry network + model.safetensors (weights.load_torch_model)
    classical   embedding source + svm.skops (sklearn_io: trusted types only) or xgboost.json + scaler.json
    yamnet      YAMNet (loaded on first use) + the head's model.safetensors
    two_stage   the gate/ and reason/ torch runs, combined (models/two_stage.TwoStageModel)
Weights are safetensors and scikit-learn models skops files: nothing in a checkpoint can execute code, and
every recorded model file is checked against its sha256 before it is deserialised. A fused cry detector's
folder also holds RunFolder.FUSION_FILES (its YAMNet side, read by inference/cry_fusion.py), and a detector with
an upload verdict RunFolder.VERDICT_FILES (inference/clip_verdict.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from babycry_core.features.config import FeatureConfig
from babycry_core.runs.family import family_of
from babycry_core.runs.run_folder import RunFolder, recorded_family
from babycry_core.runs.weights import weights_problem  # noqa: F401  (importers: checkpoint.weights_problem)

FUSION_FILES = RunFolder.FUSION_FILES  # kept for importers (inference.cry_fusion, runs.detector_card)
VERDICT_FILES = RunFolder.VERDICT_FILES  # kept for importers (inference.clip_verdict, runs.verdict_card)


@dataclass
class LoadedModel:
    """Everything inference needs, rebuilt from one folder."""

    run_dir: Path
    model: object  # torch.nn.Module (eval mode), or another family's predictor
    labels: list[str]
    feature_config: FeatureConfig
    config: dict
    calibration: dict

    @property
    def temperature(self) -> float:
        return float(self.calibration.get("temperature", 1.0))

    @property
    def threshold(self) -> float:
        return float(self.calibration.get("threshold", 0.0))


def load(run_dir: Path | RunFolder | os.PathLike, *, trust_pickle: bool = False) -> LoadedModel:
    """Rebuild a model from its run folder (a path or a RunFolder, whose cached reads are used). Raises ValueError
    with a readable reason if the folder is damaged.

    trust_pickle: also read an old run's pickle file (svm.joblib, with a warning); without it such a run raises a
    ValueError that says how to convert it (env BABYCRY_TRUST_PICKLE=1 trusts it too).
    """
    if trust_pickle:
        from babycry_core.runs.sklearn_io import trusting_pickle

        with trusting_pickle():
            return load(run_dir)
    folder = RunFolder.of(run_dir)
    problem = weights_problem(folder)
    if problem:
        raise ValueError(f"checkpoint {folder.name} is damaged: {problem}")
    config, labels, fcfg = folder.config, folder.labels, folder.feature_config
    calibration = dict(folder.calibration)
    found = family_of(config)
    if found is None:  # weights_problem refuses an unknown family first; kept as a guard
        raise ValueError(f"checkpoint {folder.name}: a {recorded_family(config)!r} run holds no model to load")
    return LoadedModel(folder.path, found.load(folder), labels, fcfg, config, calibration)

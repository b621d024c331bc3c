"""Rebuild a model from its run folder alone (nanoGPT-style: the folder carries its model args).

`load(run_dir)` checks the folder (weights.weights_problem), reads its config, labels, feature config and
calibration, and rebuilds the model with the family's loader from LOADERS (config.json["family"]):
    torch       the registry network + model.safetensors (weights.load_torch_model)
    classical   embedding source + svm.skops (sklearn_io: trusted types only) or xgboost.json + scaler.json
    yamnet      YAMNet (loaded on first use) + the head's model.safetensors
    two_stage   the gate/ and reason/ torch runs, combined (models/two_stage.TwoStageModel)
Weights are safetensors and scikit-learn models skops files: nothing in a checkpoint can execute code, and
every recorded model file is checked against its sha256 before it is deserialised. A fused cry detector's
folder also holds FUSION_FILES (its YAMNet side, read by inference/cry_fusion.py), and a detector with an upload
verdict VERDICT_FILES (inference/clip_verdict.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babycry_core import fileio
from babycry_core.features.config import FeatureConfig
from babycry_core.runs.weights import WEIGHTS, load_torch_model, verify_files, weights_problem

FUSION_FILES = ("fusion.json", "yamnet_head.safetensors")
VERDICT_FILES = ("verdict.json", "verdict.safetensors")  # a detector's upload verdict (inference/clip_verdict.py)


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


def load(run_dir: Path, *, trust_pickle: bool = False) -> LoadedModel:
    """Rebuild a model from its run folder. Raises ValueError with a readable reason if the folder is damaged.

    trust_pickle: also read an old run's pickle file (svm.joblib, with a warning); without it such a run raises a
    ValueError that says how to convert it (env BABYCRY_TRUST_PICKLE=1 trusts it too).
    """
    if trust_pickle:
        from babycry_core.runs.sklearn_io import trusting_pickle

        with trusting_pickle():
            return load(run_dir)
    run_dir = Path(run_dir)
    problem = weights_problem(run_dir)
    if problem:
        raise ValueError(f"checkpoint {run_dir.name} is damaged: {problem}")
    config = fileio.read_json(run_dir / "config.json")
    labels = fileio.read_json(run_dir / "labels.json")
    fcfg = FeatureConfig.from_dict(fileio.read_json(run_dir / "feature_config.json"))
    calibration = fileio.read_json(run_dir / "calibration.json", default={"temperature": 1.0, "threshold": 0.0}) \
        if (run_dir / "calibration.json").exists() else {"temperature": 1.0, "threshold": 0.0}
    family = config.get("family", "torch")
    if family not in LOADERS:
        raise ValueError(f"checkpoint {run_dir.name}: a {family!r} run holds no model to load")
    model = LOADERS[family](run_dir, config, labels)
    return LoadedModel(run_dir, model, labels, fcfg, config, calibration)


# ---------------------------------------------------------------- the families' loaders

def _load_torch(run_dir: Path, config: dict, labels: list[str]):
    return load_torch_model(run_dir)


def _load_classical(run_dir: Path, config: dict, labels: list[str]):
    """The whole chain (embedding source → scaler → classifier), every model file checked first."""
    from babycry_core.runs.embedding_models import SvmModel, XgbModel, source_of

    verify_files(run_dir, config)  # before any deserialisation
    fcfg = FeatureConfig.from_dict(fileio.read_json(run_dir / "feature_config.json"))
    source = source_of(run_dir, config)
    if config["model"] == "svm":
        from babycry_core.runs.sklearn_io import load_pipeline

        return SvmModel(load_pipeline(run_dir, config, build=False), source, fcfg, labels)  # numpy head if it can
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(run_dir / "xgboost.json"))
    sc = fileio.read_json(run_dir / "scaler.json")
    names = booster.feature_names or sc.get("feature_names")
    return XgbModel(booster, sc["mean"], sc["scale"], names, source, fcfg, labels,
                    config.get("classes_trained", range(len(labels))))


def _load_yamnet(run_dir: Path, config: dict, labels: list[str]):
    """The head from model.safetensors; YAMNet itself is loaded on first use (yamnet_hub.handle_for_run)."""
    from safetensors.torch import load_file

    from babycry_core.runs.embedding_models import YamnetModel
    from babycry_core.runs.embeddings import YAMNET, Source
    from babycry_core.models.yamnet_transfer import D_IN, HIDDEN, YamnetHead
    from babycry_core.features.yamnet import handle_for_run

    verify_files(run_dir, config)
    h = config.get("head", {})
    head = YamnetHead(len(labels), h.get("d_in", D_IN), h.get("hidden", HIDDEN), h.get("dropout", 0.3))
    head.load_state_dict(load_file(str(run_dir / WEIGHTS)))
    fcfg = FeatureConfig.from_dict(fileio.read_json(run_dir / "feature_config.json"))
    handle = handle_for_run((config.get("yamnet") or {}).get("handle") or config.get("yamnet_handle"))
    return YamnetModel(head, Source(YAMNET, handle=handle), fcfg, labels)


def _load_two_stage(run_dir: Path, config: dict, labels: list[str]):
    """The combined model from the gate/ and reason/ torch runs, each stage with its usable temperature."""
    from babycry_core.models.two_stage import STAGES, TwoStageModel, usable_temperature

    fcfg = FeatureConfig.from_dict(fileio.read_json(run_dir / "feature_config.json"))
    nets, stage_labels, temps = {}, {}, {}
    for stage in STAGES:
        nets[stage] = load_torch_model(run_dir / stage)
        stage_labels[stage] = fileio.read_json(run_dir / stage / "labels.json")
        temps[stage] = usable_temperature(fileio.read_json(run_dir / stage / "calibration.json"))
        if stage_labels[stage] != config["stages"][stage]["labels"]:
            raise ValueError(f"checkpoint {run_dir.name}: {stage}/labels.json disagrees with config.json")
    model = TwoStageModel(nets["gate"], nets["reason"], labels, stage_labels["gate"], stage_labels["reason"], fcfg,
                          temps["gate"], temps["reason"])
    model.run_dir = run_dir
    return model


LOADERS = {"torch": _load_torch, "classical": _load_classical, "yamnet": _load_yamnet, "two_stage": _load_two_stage}

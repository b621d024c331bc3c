"""Save and rebuild models from a run folder alone (nanoGPT-style: the folder carries its model args).

Weights are safetensors (no pickle: nothing in a checkpoint can execute code), written atomically;
scikit-learn models are skops files (models/classical.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import fileio
from .features import FeatureConfig

WEIGHTS = "model.safetensors"


def save_weights(model, run_dir: Path) -> None:
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    fileio.write_bytes(Path(run_dir) / WEIGHTS, save(state))


def weights_problem(run_dir: Path) -> str | None:
    """None when the run's weights file is complete and readable, else why not (cheap header check)."""
    run_dir = Path(run_dir)
    cfg = fileio.read_json(run_dir / "config.json", default={})
    family = cfg.get("family", "torch")
    if family == "cv":
        return None  # a cross-validation summary: metrics only, no single model
    if family != "torch":  # other families check their own files (registry param "check")
        from .models import UnknownModelError, get_spec

        try:
            check = get_spec(cfg.get("model", "")).params.get("check")
        except UnknownModelError:
            return f"unknown model {cfg.get('model')!r} in config.json"
        return check(run_dir) if check else None
    f = run_dir / WEIGHTS
    if not f.exists():
        return f"no {WEIGHTS}"
    try:
        from safetensors import safe_open

        with safe_open(str(f), framework="numpy") as sf:  # header only; no torch import for listing runs
            if not list(sf.keys()):
                return f"{WEIGHTS} holds no tensors"
    except Exception as e:  # safetensors raises its own error type for a truncated header
        return f"{WEIGHTS} is unreadable ({type(e).__name__})"
    return None


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
        from .models.classical import trusting_pickle

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
    if family == "torch":
        model = load_torch_model(run_dir)
    else:
        from .models import get_spec

        model = get_spec(config["model"]).params["load"](run_dir, config, labels)
    return LoadedModel(run_dir, model, labels, fcfg, config, calibration)


def load_torch_model(run_dir: Path):
    """The network of a torch run, in eval mode, from config.json + model.safetensors."""
    from safetensors.torch import load_file

    from .models import build_model

    config = fileio.read_json(Path(run_dir) / "config.json")
    model = build_model(config["model"], config["n_classes"], dropout=config.get("dropout", 0.3), pretrained=False)
    state = load_file(str(run_dir / WEIGHTS))
    model.load_state_dict(state)
    model.eval()
    return model

"""TrainConfig: everything one training run is told (the model, its data, its optimiser), and the CLI call that
reproduces a run from its config.json (for people: the model card shows it). Front ends hand a TrainConfig to
babycry_core.app.train; a launched run receives it as JSON, never as CLI flags."""
from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field

from babycry_core.features.config import FeatureConfig


@dataclass
class TrainConfig:
    model: str = "cnn"
    corpus: str = "donateacry"
    split: str = "fixed"  # "fixed" or "fold"
    fold: int | None = None  # with split="fold": which grouped fold is the test set
    protocol: str = "grouped"  # "grouped" (by baby) or "random" (leaky; leaderboard comparison only)
    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 1e-4  # L2
    dropout: float = 0.3
    seed: int = 0
    balance: str = "sampler"  # "sampler" (class-balanced), "sqrt" (sampling ∝ 1/sqrt(count)), "loss" or "none"
    specaugment: bool = True
    mixup: float = 0.2  # Beta(alpha, alpha); 0 switches mixup off
    patience: int = 8  # epochs without a better validation macro-F1 before stopping
    score_train: bool = True  # score the whole training part after each epoch (curves); False saves time
    epoch_size: int = 0  # examples drawn per epoch; 0: as many as the training part holds
    pretrained: bool = False
    threads: int = 0  # torch threads; 0 keeps torch's default
    embedding: str = "handcrafted"  # svm/xgboost input: "handcrafted", "yamnet", or a CNN run id/folder
    yamnet_handle: str | None = None  # YAMNet model: TF Hub URL, local SavedModel or cache folder
    features: dict = field(default_factory=lambda: FeatureConfig().to_dict())

    @property
    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def train_command(config: dict) -> str:
    """The CLI call that reproduces a run from its config (fields left at their defaults are not written)."""
    from babycry_core.runs.family import family_of

    cfg, d, fam = TrainConfig.from_dict(config), TrainConfig(), family_of(config)
    args = ["python", "-m", "babycry_core", "train", "--model", cfg.model]
    flags = {"corpus": "--corpus", "epochs": "--epochs", "lr": "--lr", "batch_size": "--batch-size",
             "weight_decay": "--weight-decay", "dropout": "--dropout", "seed": "--seed", "balance": "--balance",
             "mixup": "--mixup", "patience": "--patience", "threads": "--threads"}
    for name, flag in flags.items():
        if getattr(cfg, name) != getattr(d, name):
            args += [flag, str(getattr(cfg, name))]
    for wanted, extra in ((not cfg.specaugment, ["--no-augment"]), (cfg.split == "fold", ["--fold", str(cfg.fold)]),
                          (cfg.protocol != "grouped", ["--protocol", cfg.protocol]), (cfg.pretrained, ["--pretrained"]),
                          (cfg.embedding != d.embedding, ["--embedding", cfg.embedding]),
                          (cfg.yamnet_handle, ["--yamnet-handle", str(cfg.yamnet_handle)]),
                          (fam is not None, list(fam.train_flags if fam else ()))):
        if wanted:
            args += extra
    return shlex.join(args)

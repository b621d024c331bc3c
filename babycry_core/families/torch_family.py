"""The torch family: the log-mel CNNs of the registry (models/cnn.py, models/vision.py, yamnet_ft of
models/yamnet_transfer.py; ModelSpec family "torch"). A run holds the network's model.safetensors."""
from __future__ import annotations

from pathlib import Path

from babycry_core.runs.card_sections import CardSections, epochs_line
from babycry_core.runs.family import Family, register
from babycry_core.runs.run_folder import RunFolder


class TorchCard(CardSections):
    def training(self, cfg: dict) -> list[str]:
        return [epochs_line(cfg)]


@register
class TorchFamily(Family):
    name = "torch"
    takes_log_mel_parts = True
    embeds = True
    card = TorchCard()

    def fit(self, cfg, run_dir: Path | None = None, *, progress: bool = True, **kw) -> Path:
        """training.loop.fit: the CNN on its corpus split (kw: data_parts, log-mel features already loaded)."""
        from babycry_core.training.loop import fit

        return fit(cfg, run_dir, progress=progress, **kw)

    def load(self, folder: RunFolder):
        from babycry_core.runs.weights import load_torch_model

        return load_torch_model(folder)

    def check(self, folder: RunFolder, config: dict) -> str | None:
        from babycry_core.runs.weights import torch_problem

        return torch_problem(folder, config)

    def evaluate(self, folder: RunFolder) -> dict:
        from babycry_core.training.evaluate_runs import evaluate_torch

        return evaluate_torch(folder)

    def unexportable(self, run_id: str, config: dict) -> str | None:
        return None  # every torch network of the registry exports

    def export(self, loaded, out: Path) -> dict:
        from babycry_core.runs.export import export_torch

        return export_torch(loaded, out)

    def ort_load(self, folder: Path, manifest: dict, feature_config, labels: list[str], threads: int):
        from babycry_core.inference.onnx_engine import OrtNet

        return OrtNet(Path(folder) / RunFolder.EXPORT_MODEL, threads)

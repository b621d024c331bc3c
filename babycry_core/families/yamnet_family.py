"""The yamnet family: a small head on frozen YAMNet clip embeddings (the `yamnet` model of
models/yamnet_transfer.py; ModelSpec family "yamnet"). A run holds the head's model.safetensors (its sha256 in its
config); YAMNet's own weights are never in the run folder. It does not export: its embedder runs outside the head."""
from __future__ import annotations

from pathlib import Path

from babycry_core.runs.card_sections import CardSections, epochs_line
from babycry_core.runs.family import Family, register
from babycry_core.runs.run_folder import RunFolder


class YamnetCard(CardSections):
    yamnet_based = True

    def training(self, cfg: dict) -> list[str]:
        return [epochs_line(cfg)]


@register
class YamnetFamily(Family):
    name = "yamnet"
    card = YamnetCard()

    def fit(self, cfg, run_dir: Path | None = None, *, progress: bool = True, **kw) -> Path:
        """training.yamnet_head.fit_yamnet: YAMNet embeddings, then the head through the torch epoch loop."""
        from babycry_core.training.yamnet_head import fit_yamnet

        return fit_yamnet(cfg, run_dir, progress=progress, **kw)

    def load(self, folder: RunFolder):
        """The head from model.safetensors; YAMNet itself is loaded on first use (yamnet_hub.handle_for_run)."""
        from safetensors.torch import load_file

        from babycry_core.features.yamnet import handle_for_run
        from babycry_core.models.yamnet_transfer import D_IN, HIDDEN, YamnetHead
        from babycry_core.runs.embedding_models import YamnetModel
        from babycry_core.runs.embeddings import YAMNET, Source
        from babycry_core.runs.weights import verify_files

        config, labels = folder.config, folder.labels
        verify_files(folder, config)
        h = config.get("head", {})
        head = YamnetHead(len(labels), h.get("d_in", D_IN), h.get("hidden", HIDDEN), h.get("dropout", 0.3))
        head.load_state_dict(load_file(str(folder.file(RunFolder.WEIGHTS))))
        handle = handle_for_run((config.get("yamnet") or {}).get("handle") or config.get("yamnet_handle"))
        return YamnetModel(head, Source(YAMNET, handle=handle), folder.feature_config, labels)

    def check(self, folder: RunFolder, config: dict) -> str | None:
        from babycry_core.runs.weights import recorded_files_problem

        return recorded_files_problem(folder, config)

    def evaluate(self, folder: RunFolder) -> dict:
        from babycry_core.training.evaluate_runs import evaluate_embedding

        return evaluate_embedding(folder)

    def unexportable(self, run_id: str, config: dict) -> str | None:
        return (f"run {run_id} ({config.get('model', '?')}) does not export to ONNX: its embedder, YAMNet, runs "
                "outside the head; yamnet_ft, the torch networks, two_stage, svm and xgboost export")

    def export(self, loaded, out: Path) -> dict:
        from babycry_core.runs.export import NotExportable

        raise NotExportable(self.unexportable(loaded.run_dir.name, loaded.config))

    def ort_load(self, folder: Path, manifest: dict, feature_config, labels: list[str], threads: int):
        raise self.no_onnx_form(folder)

"""The cv family: a k-fold cross-validation summary run (training/cv.py writes it; no ModelSpec names it). It holds
pooled metrics and no model (its fold models are in folds/), so every model part says so in one line."""
from __future__ import annotations

from pathlib import Path

from babycry_core.runs.card_sections import CardSections
from babycry_core.runs.family import Family, register
from babycry_core.runs.run_folder import RunFolder


class CvCard(CardSections):
    weights_note = f"none: a cross-validation run keeps pooled metrics (its fold models are in {RunFolder.FOLDS}/)"
    selection = ""
    interval = "bootstrap over all folds' test clips."

    def describe(self, cfg: dict) -> str:
        return (f"{cfg.get('folds')}-fold cross-validation of `{cfg.get('model')}` ({cfg.get('protocol', 'grouped')} "
                "folds): every clip is tested once, by a model trained without it; the figures are pooled over the "
                "folds. There is no single model to classify with.")

    def split(self, cfg: dict) -> str:
        return f"{cfg.get('folds')} folds, each the test part once"

    def no_sizes(self, m: dict) -> str:
        return f"{m.get('n')} clips tested in all, each once."

    def training(self, cfg: dict) -> list[str]:
        return [f"Each fold is trained with this run's settings (see the command); its model is in {RunFolder.FOLDS}/."]


@register
class CvFamily(Family):
    name = "cv"
    has_model = False
    train_flags = ("--cv",)
    card = CvCard()

    def fit(self, cfg, run_dir: Path | None = None, *, progress: bool = True, **kw) -> Path:
        raise ValueError("a cross-validation run is made by training.cv.cross_validate (`python -m babycry_core train "
                         "--cv`), which trains each fold with its model's own family")

    def load(self, folder: RunFolder):
        raise ValueError(f"checkpoint {folder.name}: a {self.name!r} run holds no model to load")

    def check(self, folder: RunFolder, config: dict) -> str | None:
        return None  # metrics only: nothing to check

    def evaluate(self, folder: RunFolder) -> dict:
        raise ValueError(f"run {folder.name}: a {self.name!r} run has no model to evaluate")

    def unexportable(self, run_id: str, config: dict) -> str | None:
        return f"run {run_id} is a {self.name!r} run: it holds no model to export"

    def export(self, loaded, out: Path) -> dict:
        from babycry_core.runs.export import NotExportable

        raise NotExportable(self.unexportable(loaded.run_dir.name, loaded.config))

    def ort_load(self, folder: Path, manifest: dict, feature_config, labels: list[str], threads: int):
        raise self.no_onnx_form(folder)

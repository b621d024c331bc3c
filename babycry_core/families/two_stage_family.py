"""The two_stage family: a cry gate and a cry-reason CNN, combined (models/two_stage.py; ModelSpec family
"two_stage"). A run holds gate/ and reason/, each a complete torch run folder, with every stage file's sha256 in
its config; it exports one .onnx file per stage."""
from __future__ import annotations

from pathlib import Path

from babycry_core import fileio
from babycry_core.runs.card_two_stage import TwoStageCard
from babycry_core.runs.family import Family, register
from babycry_core.runs.run_folder import RunFolder


@register
class TwoStageFamily(Family):
    name = "two_stage"
    card = TwoStageCard()

    def fit(self, cfg, run_dir: Path | None = None, *, progress: bool = True, **kw) -> Path:
        """training.two_stage_fit.fit_two_stage: gate and reason, each a training.loop.fit run, combined."""
        from babycry_core.training.two_stage_fit import fit_two_stage

        return fit_two_stage(cfg, run_dir, progress=progress, **kw)

    def load(self, folder: RunFolder):
        """The combined model from the gate/ and reason/ torch runs, each stage with its usable temperature."""
        from babycry_core.models.two_stage import STAGES, TwoStageModel, usable_temperature
        from babycry_core.runs.weights import load_torch_model

        config = folder.config
        nets, stage_labels, temps = {}, {}, {}
        for name in STAGES:
            stage = folder.stage(name)
            nets[name] = load_torch_model(stage)
            stage_labels[name] = stage.labels
            temps[name] = usable_temperature(stage.read(RunFolder.CALIBRATION))
            if stage_labels[name] != config["stages"][name]["labels"]:
                raise ValueError(f"checkpoint {folder.name}: {name}/{RunFolder.LABELS} disagrees with "
                                 f"{RunFolder.CONFIG}")
        model = TwoStageModel(nets["gate"], nets["reason"], folder.labels, stage_labels["gate"],
                              stage_labels["reason"], folder.feature_config, temps["gate"], temps["reason"])
        model.run_dir = folder.path
        return model

    def check(self, folder: RunFolder, config: dict) -> str | None:
        """Both stage folders are complete and match the sha256 recorded in config.json."""
        from babycry_core.runs.weights import weights_problem

        files = config.get("files") or {}
        if not files:
            return f"{RunFolder.CONFIG} records no stage files"
        for name in RunFolder.STAGES:
            stage = folder.stage(name)
            problem = weights_problem(stage) if stage.path.is_dir() else f"no {name}/ folder"
            if problem:
                return f"{name}: {problem}"
        for rel, sha in files.items():
            f = folder.file(rel)
            if not f.is_file():
                return f"no {rel}"
            if fileio.sha256_file(f) != sha:
                return f"{rel} does not match the sha256 recorded in {RunFolder.CONFIG}"
        return None

    def evaluate(self, folder: RunFolder) -> dict:
        from babycry_core.training.two_stage_checks import evaluate_metrics

        return evaluate_metrics(folder.path)

    def unexportable(self, run_id: str, config: dict) -> str | None:
        return None  # both stages are torch networks

    def export(self, loaded, out: Path) -> dict:
        from babycry_core.runs.export import export_two_stage

        return export_two_stage(loaded, out)

    def ort_load(self, folder: Path, manifest: dict, feature_config, labels: list[str], threads: int):
        from babycry_core.inference.onnx_engine import ort_two_stage

        return ort_two_stage(Path(folder), manifest, feature_config, labels, threads)

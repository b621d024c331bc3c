"""The classical family: svm and xgboost heads on clip embeddings (models/classical.py; ModelSpec family
"classical"). A run holds svm.skops (or an old svm.joblib) or xgboost.json + scaler.json, every file's sha256 in
its config, and the embedding source it was fitted on (a CNN source is copied into the run)."""
from __future__ import annotations

from pathlib import Path

from babycry_core.runs.card_format import f as _f
from babycry_core.runs.card_sections import CardSections
from babycry_core.runs.family import Family, register
from babycry_core.runs.run_folder import RunFolder


class ClassicalCard(CardSections):
    selection = ("Hyperparameters are chosen by grouped CV on the training part; validation fits the temperature and "
                 "the abstention threshold; the test part is used once, for the figures below.")

    def training(self, cfg: dict) -> list[str]:
        s = cfg.get("search") or {}
        return [f"Class-balanced, grid search by grouped CV on the training part: best {s.get('best_params')} "
                f"(CV macro-F1 {_f(s.get('best_cv_macro_f1'))})."]


@register
class ClassicalFamily(Family):
    name = "classical"
    budget = ("embedding",)  # a head on embeddings: no epochs
    card = ClassicalCard()

    def fit(self, cfg, run_dir: Path | None = None, *, progress: bool = True, **kw) -> Path:
        """training.classical_fit.fit_classical: the one scikit-learn / XGBoost fit path."""
        from babycry_core.training.classical_fit import fit_classical

        return fit_classical(cfg, run_dir, progress=progress, **kw)

    def load(self, folder: RunFolder):
        """The whole chain (embedding source → scaler → classifier), every model file checked first."""
        from babycry_core.runs.embedding_models import SvmModel, XgbModel, source_of
        from babycry_core.runs.weights import verify_files

        config, labels = folder.config, folder.labels
        verify_files(folder, config)  # before any deserialisation
        fcfg, source = folder.feature_config, source_of(folder.path, config)
        if config["model"] == "svm":
            from babycry_core.runs.sklearn_io import load_pipeline

            return SvmModel(load_pipeline(folder.path, config, build=False), source, fcfg, labels)  # numpy if it can
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(folder.file(RunFolder.XGBOOST)))
        sc = folder.read(RunFolder.SCALER)
        names = booster.feature_names or sc.get("feature_names")
        return XgbModel(booster, sc["mean"], sc["scale"], names, source, fcfg, labels,
                        config.get("classes_trained", range(len(labels))))

    def check(self, folder: RunFolder, config: dict) -> str | None:
        from babycry_core.runs.weights import recorded_files_problem

        return recorded_files_problem(folder, config)

    def evaluate(self, folder: RunFolder) -> dict:
        from babycry_core.training.evaluate_runs import evaluate_embedding

        return evaluate_embedding(folder)

    def unexportable(self, run_id: str, config: dict) -> str | None:
        kind = (config.get("embedding_source") or {}).get("kind")
        if kind != "handcrafted":
            return (f"run {run_id} ({config.get('model', '?')} on the {kind} embedding) does not export to ONNX: only "
                    "classical models on the handcrafted embedding do")
        return None

    def export(self, loaded, out: Path) -> dict:
        from babycry_core.runs.export import export_classical

        return export_classical(loaded, out)

    def ort_load(self, folder: Path, manifest: dict, feature_config, labels: list[str], threads: int):
        from babycry_core.inference.onnx_engine import OnnxClassical, OrtNet

        return OnnxClassical(OrtNet(Path(folder) / RunFolder.EXPORT_MODEL, threads), feature_config, labels,
                             manifest["classes"], manifest.get("scaler"))

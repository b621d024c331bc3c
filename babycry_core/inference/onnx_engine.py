"""`predict --engine onnx`: the same answer path with onnxruntime, from export folders (export.py), without torch.

Only the network call changes. The answer is composed by the same code as with torch: `answer.TwoStepPredictor`
(step 1 the cry detector, step 2 the reason model, named only where validated), `inference.Predictor` for one
model, `detector.CryDetector` for the detector's windows and decision, `models.two_stage.TwoStageModel` for the
combination. Decoding is `audio.load`, features the one `features.log_mel` in numpy, and the classical heads'
input the handcrafted embedding in numpy; onnxruntime runs the CNNs (model.onnx), the SVM (skl2onnx) and XGBoost
(onnxmltools). torch is never imported (tests check sys.modules); neither are scikit-learn's model loading (skops)
nor xgboost.

`load_onnx_predictor(run)` answers with the exports of the runs `inference.choice.choose` picks (checkpoints/
default.json's detector + reason pair by default); each run's export is found in `registry.export_dir_for(run)`, or `run` may be an export
folder itself (a device has only those). A run without an export is a one-line FileNotFoundError with the command
that makes it. Each run family builds its onnxruntime model (its `ort_load` part: runs.family) from the classes
here. Not covered: yamnet runs and classical heads on CNN / YAMNet embeddings (they do not export).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from babycry_core import fileio
from babycry_core.eval.calibration import softmax
from babycry_core.runs.checkpoint import LoadedModel
from babycry_core.inference.cry_detector import CryDetector
from babycry_core.runs.embedding_models import EmbeddingModel
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import log_mel
from babycry_core.inference.predictor import Predictor, one_blas_thread
from babycry_core.models.two_stage import TwoStageModel
from babycry_core.runs.family import family_of
from babycry_core.runs.run_folder import RunFolder

MANIFEST = RunFolder.EXPORT_MANIFEST
FORMAT = "babycry-onnx"
BATCH = 64


class OrtNet:
    """One ONNX model in an onnxruntime session (thread-safe: `run` may be called from several threads)."""

    def __init__(self, path: Path, threads: int = 0):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads)  # 0: onnxruntime's default (the physical cores)
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting beside other work
        so.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        outs = [o.name for o in self.session.get_outputs()]
        self.output = "probabilities" if "probabilities" in outs else outs[0]

    def run(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, np.float32)
        parts = [self.session.run([self.output], {self.input: X[i: i + BATCH]})[0] for i in range(0, len(X), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def window_logits(self, wins: list[np.ndarray], cfg: FeatureConfig) -> np.ndarray:
        """Log-mel windows → logits (inference.TorchScorer's counterpart: what inference.Predictor calls)."""
        X = np.stack([log_mel(w, cfg) for w in wins])[:, None]
        return self.run(X)



class OnnxTwoStage(TwoStageModel):
    """The two-stage combination unchanged; each stage's network runs in onnxruntime."""

    @staticmethod
    def _proba(net, X: np.ndarray, temperature: float, batch_size: int = BATCH) -> np.ndarray:
        return softmax(net.run(X), temperature) if len(X) else np.zeros((0, 0))


class OnnxClassical(EmbeddingModel):
    """Handcrafted embedding (numpy) → the exported SVM / XGBoost head (onnxruntime)."""

    def __init__(self, net: OrtNet, feature_config: FeatureConfig, labels, classes, scaler: dict | None):
        from babycry_core.runs.embeddings import HANDCRAFTED, Source

        super().__init__(Source(HANDCRAFTED), feature_config, labels, classes)
        self.net, self.scaler = net, scaler

    def head_proba(self, E):
        from babycry_core.runs.embedding_models import standardise

        return self.net.run(standardise(E, self.scaler)).astype(np.float64)


class _ExportedRun:
    """The run id an exported model answers with (its folder is the export, not the run)."""

    def __init__(self, loaded: LoadedModel, run_id: str):
        super().__init__(loaded)
        self._run_id = run_id

    @property
    def run_id(self) -> str:
        return self._run_id


class OnnxPredictor(_ExportedRun, Predictor):
    pass


class OnnxCryDetector(_ExportedRun, CryDetector):
    def batch_logits(self, X: np.ndarray) -> np.ndarray:
        """Logits of log-mel windows X (windows, 1, n_mels, frames): what window_scoring.WindowScorer calls."""
        return self.net.run(X) if len(X) else np.zeros((0, len(self.labels)), np.float32)

    def feature_proba(self, X: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        return softmax(self.batch_logits(X), self.temperature)


# ---------------------------------------------------------------- export folders

def read_export(folder: Path) -> dict:
    """An export folder's model.json, checked: the format, and every file against its recorded sha256."""
    folder = Path(folder)
    m = fileio.read_json(folder / MANIFEST)
    if m.get("format") != FORMAT:
        raise ValueError(f"{folder}: {MANIFEST} is not a babycry ONNX export")
    for rel, sha in (m.get("files") or {}).items():
        if not (folder / rel).is_file() or fileio.sha256_file(folder / rel) != sha:
            raise ValueError(f"export {folder} is damaged: {rel} is missing or does not match its recorded sha256")
    emb = m.get("embedding")
    if emb:
        from babycry_core.runs.embeddings import HANDCRAFTED_VERSION

        if emb.get("version") != HANDCRAFTED_VERSION:
            raise ValueError(f"export {folder}: made with handcrafted features v{emb.get('version')}, this code "
                             f"computes v{HANDCRAFTED_VERSION}; export the run again")
    return m


def find_export(run) -> Path:
    """An export folder for a run id, a run folder or an export folder. FileNotFoundError says how to make one."""
    p = Path(str(run))
    if (p / MANIFEST).is_file():
        return p
    from babycry_core.runs import run_registry as runs

    run_dir = runs.find_run(run)
    folder = runs.export_dir_for(run_dir)
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(f"run {run_dir.name} has no ONNX export; make it with "
                                f"`python -m babycry_core export {run_dir.name} --format onnx` "
                                f"(or `export default` for the app's default models)")
    return folder


def load_export(folder: Path, threads: int = 0):
    """(model.json, the predictor or detector of one export folder)."""
    folder = Path(folder)
    m = read_export(folder)
    cfg = FeatureConfig.from_dict(m["feature_config"])
    labels = list(m["labels"])
    family = m["family"]
    found = family_of({"family": family})
    if found is None:
        raise ValueError(f"export {folder} holds a {family!r} model, which has no ONNX form")
    model = found.ort_load(folder, m, cfg, labels, threads)
    loaded = LoadedModel(folder, model, labels, cfg, {"model": m["model"], "family": family, "role": m["role"]},
                         dict(m.get("calibration") or {"temperature": m["temperature"], "threshold": m["threshold"]}))
    if m["role"] == "detector":
        return m, OnnxCryDetector(loaded, m["run_id"])
    return m, OnnxPredictor(loaded, m["run_id"])


def ort_two_stage(folder: Path, m: dict, cfg, labels, threads) -> OnnxTwoStage:
    """A two-stage export's model: its gate and reason networks (the two_stage family's ort_load)."""
    st = m["stages"]
    return OnnxTwoStage(OrtNet(folder / st["gate"]["file"], threads), OrtNet(folder / st["reason"]["file"], threads),
                        labels, st["gate"]["labels"], st["reason"]["labels"], cfg,
                        st["gate"]["temperature"], st["reason"]["temperature"])


def current_export(run) -> Path | None:
    """The run's own export folder (export_dir_for) when it was made from the run's files as they are now (its
    source_sha256 matches), else None: what `predict` answers with by default, without torch."""
    from babycry_core.runs import run_registry as runs

    run_dir = runs.find_run(run)
    m = fileio.read_json(runs.export_dir_for(run_dir) / MANIFEST, default={})
    return runs.export_dir_for(run_dir) if m.get("source_sha256") == runs.source_sha256(run_dir) else None


def _current_or_raise(run) -> Path:
    folder = current_export(run)
    if folder is None:
        raise FileNotFoundError(f"{Path(run).name}: no export made from its files as they are now")
    return folder


def is_export(run) -> bool:
    """`run` is an export folder itself (a device may hold only those), not a run."""
    return run is not None and not isinstance(run, RunFolder) and (Path(str(run)) / MANIFEST).is_file()


def exports_of(choice, current: bool = False) -> tuple:
    """(detector, reason, single) export folders of the runs an inference.choice.Choice names. current: only
    exports made from the runs' files as they are now (`predict`'s auto engine). FileNotFoundError otherwise."""
    find = _current_or_raise if current else find_export
    return tuple(find(f.path) if f is not None else None for f in (choice.detector, choice.reason, choice.single))


def export_choice(folder) -> tuple:
    """(detector, reason, single) for an export folder given as the run: composed with the default pair's exports
    by its manifest's role, as inference.choice composes runs."""
    from babycry_core.runs import run_registry as runs

    folder = Path(str(folder))
    det_run, reason_run = runs.default_pair()
    role = fileio.read_json(folder / MANIFEST).get("role", "")
    if role == "detector":
        return folder, find_export(reason_run) if reason_run is not None else None, None
    if role == "reason" and det_run is not None:
        return find_export(det_run), folder, None
    return None, None, folder


def ort_threads(threads: int | None) -> int:
    """onnxruntime's intra-op threads per session: as given, else env BABYCRY_ORT_THREADS, else 0 (its default)."""
    return int(os.environ.get("BABYCRY_ORT_THREADS", 0)) if threads is None else int(threads)


def build(exports: tuple, threads: int | None = None):
    """The onnxruntime answerer of (detector, reason, single) export folders (ort_threads). Not cached:
    app.answer.answerer keeps the one cache."""
    threads = ort_threads(threads)
    one_blas_thread()
    det, reason, single = exports
    if single is not None:
        return load_export(single, threads)[1]
    from babycry_core.inference.two_step import TwoStepPredictor

    return TwoStepPredictor(load_export(det, threads)[1], load_export(reason, threads)[1] if reason else None)


def load_onnx_predictor(run=None, threads: int | None = None):
    """What answers a recording with onnxruntime: the exports of the runs inference.choice chooses for `run`, or
    `run` as an export folder (export_choice)."""
    if is_export(run):
        return build(export_choice(run), threads)
    from babycry_core.inference.choice import choose

    return build(exports_of(choose(run)), threads)

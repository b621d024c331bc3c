"""The one owner of a run folder's files: their names, and reading and writing them.

No module outside this one names a run file. A `RunFolder` reads each JSON file at most once (a cache per
object), so a caller that opens a run once gets its config, labels, feature config and calibration from one
read each. Writes go through fileio (atomic) and refresh the cache. Pollers (the Train page) make a fresh
RunFolder per poll, or call `forget()`.

A run folder is self-describing:
    config.json          training config (+ model name, family, recorded model files and their sha256)
    feature_config.json  the FeatureConfig the model was trained on
    labels.json          class names, in output order
    model.safetensors    weights of the best epoch
    calibration.json     temperature and abstention threshold
    history.jsonl        one JSON progress event per line (start, epoch, end)
    metrics.json         test metrics
    status.json          running / finished / failed / stopped (+ pid, times, message)
    train.log            the training process's stdout/stderr
    split.json           the clip ids of each part
    MODEL_CARD.md        the model card
Family files: svm.skops / xgboost.json + scaler.json (classical), fusion.json + yamnet_head.safetensors (a fused
detector's YAMNet side), verdict.json + verdict.safetensors (a detector's upload verdict), reason_naming.json,
gate/ and reason/ (a two-stage run's stages, each a run folder), folds/ + summary.json (cross-validation),
onnx/ (the ONNX export: model.json + *.onnx).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from babycry_core import fileio

_MISSING = object()
NO_CALIBRATION = {"temperature": 1.0, "threshold": 0.0}
DEFAULT_FAMILY = "torch"  # what a run folder without config.json["family"] is (the oldest runs)
PINNED_DEFAULTS = "default.json"  # checkpoints/default.json: the runs the app answers with by default


def recorded_family(config: dict) -> str:
    """The family name a run's config.json records."""
    return config.get("family", DEFAULT_FAMILY)


class RunFolder:
    """One run folder on disk (see the module doc)."""

    CONFIG = "config.json"
    FEATURES = "feature_config.json"
    LABELS = "labels.json"
    WEIGHTS = "model.safetensors"
    CALIBRATION = "calibration.json"
    HISTORY = "history.jsonl"
    METRICS = "metrics.json"
    STATUS = "status.json"
    LOG = "train.log"
    PID = "pid"
    SPLIT = "split.json"
    CARD = "MODEL_CARD.md"
    # family files
    SVM = "svm.skops"
    SVM_PICKLE = "svm.joblib"  # an old run's pickle: read only when trusted
    XGBOOST = "xgboost.json"
    SCALER = "scaler.json"
    FUSION = "fusion.json"
    YAMNET_HEAD = "yamnet_head.safetensors"
    VERDICT = "verdict.json"
    VERDICT_WEIGHTS = "verdict.safetensors"
    NAMING = "reason_naming.json"
    SUMMARY = "summary.json"
    FOLDS = "folds"
    EMBEDDER = "embedder"  # a classical run's copy of the CNN run it embeds with (a run folder itself)
    STAGES = ("gate", "reason")
    # the ONNX export folder inside a run, and its files
    EXPORT_DIR = "onnx"
    EXPORT_MANIFEST = "model.json"
    EXPORT_MODEL = "model.onnx"

    REQUIRED = (CONFIG, FEATURES, LABELS)  # what a finished run must hold
    FUSION_FILES = (FUSION, YAMNET_HEAD)
    VERDICT_FILES = (VERDICT, VERDICT_WEIGHTS)
    # files the folder keeps about itself, which no answer reads: an export made before they changed is current
    BOOKKEEPING = frozenset({CARD, HISTORY, STATUS, METRICS, SPLIT, "log.txt", "progress.json", LOG})
    # what a copy of a run (a fused or verdict run made from another) leaves behind
    NOT_COPIED = ("*.pid", "log.txt", "progress.json")

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._json: dict[str, object] = {}

    @classmethod
    def of(cls, run: "RunFolder | str | os.PathLike") -> "RunFolder":
        """A RunFolder as given, or one for the path given (callers may pass either)."""
        return run if isinstance(run, RunFolder) else cls(run)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    # ------------------------------------------------------------ paths and presence

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, *names: str) -> bool:
        """All of the named files exist."""
        return all((self.path / n).exists() for n in names)

    def missing(self, names=REQUIRED) -> list[str]:
        return [n for n in names if not (self.path / n).exists()]

    def stage(self, name: str) -> "RunFolder":
        """A sub-run: a two-stage run's gate/ or reason/, or a cross-validation fold."""
        return RunFolder(self.path / name)

    def export_dir(self) -> Path:
        """Where the run's own ONNX export lives ($BABYCRY_EXPORTS may put it elsewhere: runs.run_registry)."""
        return self.path / self.EXPORT_DIR

    # ------------------------------------------------------------ JSON files, read once

    def read(self, name: str, default=_MISSING):
        """A JSON file's content (cached). Without a default a missing file raises FileNotFoundError."""
        if name not in self._json:
            try:
                self._json[name] = json.loads((self.path / name).read_text())
            except FileNotFoundError:
                if default is _MISSING:
                    raise
                return default
        return self._json[name]

    def write(self, name: str, obj) -> Path:
        """Write a JSON file atomically; later reads return it."""
        out = fileio.write_json(self.path / name, obj)
        self._json.pop(name, None)
        return out

    def update(self, name: str, **fields) -> dict:
        """Merge fields into a JSON object file (created if missing); returns the new object."""
        obj = {**self.read(name, default={}), **fields}
        self.write(name, obj)
        return obj

    def write_bytes(self, name: str, data: bytes) -> Path:
        self._json.pop(name, None)
        return fileio.write_bytes(self.path / name, data)

    def forget(self) -> "RunFolder":
        """Drop the cache (a poller reading a folder that another process writes)."""
        self._json.clear()
        return self

    @property
    def config(self) -> dict:
        return self.read(self.CONFIG)

    @property
    def labels(self) -> list[str]:
        return self.read(self.LABELS)

    @property
    def family(self) -> str:
        """The family config.json records ("torch" when absent: the oldest runs)."""
        return recorded_family(self.read(self.CONFIG, default={}))

    @property
    def feature_config(self):
        from babycry_core.features.config import FeatureConfig

        return FeatureConfig.from_dict(self.read(self.FEATURES))

    @property
    def calibration(self) -> dict:
        return self.read(self.CALIBRATION, default=NO_CALIBRATION)

    @property
    def metrics(self) -> dict:
        return self.read(self.METRICS, default={})

    @property
    def status(self) -> dict:
        return self.read(self.STATUS, default={})

    # ------------------------------------------------------------ progress events and the log

    def append_event(self, event: dict) -> None:
        """Append one progress event (a JSON line). Readers ignore a torn last line."""
        with open(self.path / self.HISTORY, "a") as f:
            f.write(json.dumps(event) + "\n")
            f.flush()

    def events(self) -> list[dict]:
        """The progress events so far (never cached: the run may still be writing)."""
        try:
            lines = (self.path / self.HISTORY).read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # the line being written when the process died
        return out

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join((self.path / self.LOG).read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""

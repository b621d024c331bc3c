"""The one writer of run folders, for every family (the torch CNNs, the cry detector, the YAMNet head, the classical
heads, the two-stage model and each of its stages).

A run folder is self-describing (its files are runs/run_folder.py's RunFolder). Every file is written atomically
(RunFolder.write, fileio), so a run killed half way never looks complete, and status.json says "finished" only after
the folder has rebuilt its model.
`RunWriter(run_dir, enabled=False)` writes nothing: under DDP only rank 0 writes.

    begin               the folder says "running" (pid, start time); given the config and family, also a first
                        config.json, so that even a run that fails early names its model
    run_files           config.json, feature_config.json, labels.json (and split.json: the clip ids of each part)
    weights, bytes      model files (torch weights as safetensors, other files as given); files() hashes them
    calibrate_and_test  calibration.json from validation logits, metrics.json from test logits (test_metrics)
    model_card          MODEL_CARD.md (model_card.py)
    end, fail           the last history.jsonl event and the final status; failing() wraps a run
`stop_on_sigterm()` turns SIGTERM (the Train page's Stop button) into a flag that training loops check.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from babycry_core.runs import run_registry as runs
from babycry_core.runs.run_folder import RunFolder


class StopFlag:
    """Set by SIGTERM; checked between batches and between stages."""

    def __init__(self):
        self.stop = False

    def __call__(self, *_):
        self.stop = True


@contextlib.contextmanager
def stop_on_sigterm():
    """Within this block SIGTERM sets the yielded StopFlag instead of ending the process (main thread only)."""
    flag = StopFlag()
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, flag) if main else None
    try:
        yield flag
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def make_dir(model: str, run_dir: Path | None = None) -> Path:
    """The given run folder (created if needed), or a fresh unique one under checkpoints/."""
    run_dir = Path(run_dir) if run_dir else runs.new_run_dir(model)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def test_metrics(logits: np.ndarray, y: np.ndarray, labels: list[str], cal: dict, clip_ids: list[str]) -> dict:
    """metrics.json: evaluate() + calibration figures + the per-clip answers (Compare's disagreement explorer)."""
    from babycry_core.eval import calibration
    from babycry_core.eval.metrics import evaluate

    pred = [labels[i] for i in logits.argmax(1)]
    true = [labels[i] for i in y]
    metrics = evaluate(pred, true, classes=labels)
    metrics.update(calibration.report(logits, y, cal))
    metrics.update(test_clip_ids=list(clip_ids), test_predictions=pred, test_labels=true,
                   test_confidence=calibration.softmax(logits, cal["temperature"]).max(1).round(4).tolist())
    return metrics


class RunWriter:
    """Writes one run folder (see the module doc); every method is a no-op when not enabled."""

    def __init__(self, run_dir: Path, enabled: bool = True):
        self.run_dir, self.enabled = Path(run_dir), enabled
        self.folder = RunFolder(self.run_dir)
        self.started = time.time()

    @classmethod
    def create(cls, model: str, run_dir: Path | None = None) -> "RunWriter":
        return cls(make_dir(model, run_dir))

    # ------------------------------------------------------------ lifecycle

    def begin(self, cfg=None, family: str | None = None, **status) -> "RunWriter":
        self.started = time.time()
        self.status("running", pid=os.getpid(), started=self.started, **status)
        if family is not None:
            self.config({**dataclasses.asdict(cfg), "family": family})
        return self

    def end(self, status: str, message: str | None = None, **extra) -> None:
        """The end event, then the final status (written last)."""
        ended = time.time()
        self.event({"event": "end", "status": status, **extra, "seconds": ended - self.started})
        if message is None:
            message = "stopped by request" if status == "stopped" else ""
        self.status(status, ended=ended, message=message, **extra)

    def fail(self, e: BaseException, where: str = "") -> None:
        self.status("failed", ended=time.time(), message=f"{where}{type(e).__name__}: {e}"[:500])
        self.event({"event": "end", "status": "failed", "message": str(e)[:300]})

    @contextlib.contextmanager
    def failing(self):
        """Any exception inside marks the run failed (with its message), then propagates."""
        try:
            yield self
        except BaseException as e:
            self.fail(e)
            raise

    def status(self, status: str, **extra) -> None:
        if self.enabled:
            runs.set_status(self.run_dir, status, **extra)

    def event(self, event: dict) -> None:
        if self.enabled:
            runs.append_event(self.run_dir, event)

    # ------------------------------------------------------------ files

    def json(self, name: str, obj) -> None:
        if self.enabled:
            self.folder.write(name, obj)

    def bytes(self, rel: str, data: bytes) -> None:
        if self.enabled:
            self.folder.write_bytes(rel, data)

    def config(self, meta: dict) -> None:
        self.json(RunFolder.CONFIG, meta)

    def run_files(self, meta: dict, fcfg, labels: list[str], parts: dict | None = None) -> None:
        """config.json, feature_config.json, labels.json; with `parts`, split.json (the clip ids of each part)."""
        self.config(meta)
        self.json(RunFolder.FEATURES, fcfg.to_dict())
        self.json(RunFolder.LABELS, labels)
        if parts is not None:
            self.split(parts)

    def split(self, parts: dict) -> None:
        """split.json: the clip ids of train / val / test this run used."""
        self.json(RunFolder.SPLIT, {p: parts[p][2]["clip_id"].tolist() for p in ("train", "val", "test")})

    def weights(self, model) -> None:
        """A torch network's weights as model.safetensors (a DDP wrapper is unwrapped)."""
        if self.enabled:
            from babycry_core.runs.weights import save_weights

            save_weights(getattr(model, "module", model), self.run_dir)  # a DDP wrapper holds the net as .module

    def files(self, rel_paths) -> dict:
        """{relative path: sha256} of model files written here (what config.json["files"] records)."""
        from babycry_core.runs.weights import file_hashes

        return file_hashes(self.run_dir, rel_paths)

    def calibration(self, cal: dict) -> None:
        self.json(RunFolder.CALIBRATION, cal)

    def metrics(self, metrics: dict) -> None:
        self.json(RunFolder.METRICS, metrics)

    def calibrate_and_test(self, labels: list[str], parts: dict, logits) -> dict:
        """Temperature and abstention threshold fit on validation (calibration.json), test metrics (metrics.json).
        `logits(part)` gives the model's logits on parts[part] ("val" or "test"). Returns the calibration."""
        from babycry_core.eval import calibration

        yva, yte = parts["val"][1], parts["test"][1]
        cal = calibration.fit(logits("val"), yva) if len(yva) else {"temperature": 1.0, "threshold": 0.0}
        self.calibration(cal)
        if len(yte):
            self.metrics(test_metrics(logits("test"), yte, labels, cal, parts["test"][2]["clip_id"].tolist()))
        return cal

    def model_card(self) -> None:
        if self.enabled:
            from babycry_core.runs.model_card import write_model_card

            write_model_card(self.run_dir)

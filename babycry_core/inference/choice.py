"""Which runs answer a recording: the one choice both engines make (torch on the run folders, onnxruntime on
their exports), so the app layer chooses once and then builds the model with either.

By default checkpoints/default.json's cry detector + reason model (the two-step answer), or the best usable run
alone where there is no pair. A detector given: it + the default reason model. A reason model given (every class
a cry reason): the default detector + it. Any other run answers alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babycry_core.fileio import newest_mtime
from babycry_core.inference import wording as L
from babycry_core.runs import run_registry as runs
from babycry_core.runs.run_folder import RunFolder

NO_CHECKPOINT = "no trained checkpoint found; train one (Train page or `python -m babycry_core train`)"


@dataclass(frozen=True)
class Choice:
    """The runs of one answer: a detector and (maybe) a reason model, or a single run. Each is the RunFolder its
    listing opened, so a loader reads its files no more."""

    detector: RunFolder | None = None
    reason: RunFolder | None = None
    single: RunFolder | None = None

    @property
    def folders(self) -> tuple[RunFolder, ...]:
        return tuple(f for f in (self.detector, self.reason, self.single) if f is not None)

    def stamp(self) -> tuple:
        """What the answer depends on: each run's folder and the newest mtime of its files (a cache key)."""
        return tuple((str(f.path.resolve()), newest_mtime(f.path)) if f is not None else None
                     for f in (self.detector, self.reason, self.single))


def role(folder: RunFolder | Path) -> str:
    """"detector", "reason" (every class a cry reason) or "" (a model that answers both questions)."""
    folder = RunFolder.of(folder)
    if folder.read(RunFolder.CONFIG, default={}).get("role") == "detector":
        return "detector"
    labels = folder.read(RunFolder.LABELS, default=[])
    return "reason" if labels and all(L.is_cry(c) for c in labels) else ""


def choose(run=None) -> Choice:
    """The runs that answer for `run` (a run id, folder or RunFolder; None: the app's default). Raises
    FileNotFoundError when there is no such run or no checkpoint at all."""
    det, reason = runs.default_folders()
    if run is not None:
        folder = runs.open_run(run)
        kind = role(folder)
        if kind == "detector":
            return Choice(detector=folder, reason=reason)
        if kind == "reason" and det is not None:
            return Choice(detector=det, reason=folder)
        return Choice(single=folder)
    if det is not None and reason is not None:
        return Choice(detector=det, reason=reason)
    folder = runs.default_folder()
    if folder is None:
        raise FileNotFoundError(NO_CHECKPOINT)
    return Choice(single=folder)


"""One object per model family: what trains, loads, checks, evaluates and exports its runs, and its card's sections.

A `Family` lists every part of one family in one place (lhotse's way of registering a feature extractor with its
config): `@register` on a subclass in `babycry_core.families` (one module per family, each naming the ModelSpec
family of models/registry.py it serves). The parts span layers (fit is training's, load runs', the ONNX loader
inference's), so the family modules sit above all of them and this registry finds them by plugin discovery:
the first lookup imports `babycry_core.families` by name, which registers every family. Callers below
(runs.checkpoint, runs.weights, runs.export, runs.model_card, inference.onnx_engine, training.fit,
training.evaluate_runs) ask `family(name)` or `family_of(config)` and never branch on a family's name.

A part a family has no use for is still provided: it raises (or, for export, `unexportable` returns) a one-line
reason. tests/models/test_families.py checks that every family provides every part.
"""
from __future__ import annotations

import abc
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from babycry_core.runs.run_folder import recorded_family

if TYPE_CHECKING:  # pragma: no cover
    from babycry_core.runs.card_sections import CardSections
    from babycry_core.runs.run_folder import RunFolder

PLUGINS = "babycry_core.families"  # the package whose import registers every family
_FAMILIES: dict[str, "Family"] = {}


class Family(abc.ABC):
    """A model family's parts. `name` is its ModelSpec family; `records` what its runs' config.json["family"] says
    (a trained detector is a torch network, so its runs record "torch")."""

    name: str = ""
    records: str = ""  # default: name
    has_model: bool = True  # False: a run of this family holds no model (a cross-validation summary)
    takes_log_mel_parts: bool = False  # fit accepts data_parts (log-mel features loaded once for several CNNs)
    embeds: bool = False  # its runs' networks give embeddings (an embedding source for the classical heads)
    train_flags: tuple[str, ...] = ()  # what `python -m babycry_core train` needs beyond the TrainConfig's fields
    # the TrainConfig fields that say what a run was trained with (the leaderboard's budget column)
    budget: tuple[str, ...] = ("epochs", "patience", "batch_size", "balance", "mixup", "specaugment", "threads")
    card: "CardSections"  # the model card's family-specific sections

    PARTS = ("fit", "load", "check", "evaluate", "unexportable", "export", "ort_load")

    @abc.abstractmethod
    def fit(self, cfg, run_dir: Path | None = None, *, progress: bool = True, **kw) -> Path:
        """Train cfg.model into run_dir (default: a new folder under checkpoints/); returns the run folder."""

    @abc.abstractmethod
    def load(self, folder: "RunFolder"):
        """The model (LoadedModel.model) of a run folder that `check` passed; ValueError when it holds none."""

    @abc.abstractmethod
    def check(self, folder: "RunFolder", config: dict) -> str | None:
        """None when the run's model files are complete and intact, else why not (cheap: listing runs calls it)."""

    @abc.abstractmethod
    def evaluate(self, folder: "RunFolder") -> dict:
        """The run's metrics recomputed on the test part of its split."""

    @abc.abstractmethod
    def unexportable(self, run_id: str, config: dict) -> str | None:
        """None when the run exports to ONNX, else the one line that says why it does not."""

    @abc.abstractmethod
    def export(self, loaded, out: Path) -> dict:
        """Write the ONNX files of a loaded run into `out`; returns the manifest's entries ({"files": {...}, ...})."""

    @abc.abstractmethod
    def ort_load(self, folder: Path, manifest: dict, feature_config, labels: list[str], threads: int):
        """The onnxruntime model of an export folder (what LoadedModel.model is for the ONNX engine)."""

    def no_onnx_form(self, folder: Path) -> ValueError:
        return ValueError(f"export {folder} holds a {self.name!r} model, which has no ONNX form")


def register(cls: type[Family]) -> type[Family]:
    """Class decorator: register one instance of a Family subclass under its name (once)."""
    from babycry_core.runs.card_sections import CardSections

    if not cls.name or cls.name in _FAMILIES:
        raise ValueError(f"family {cls.name!r} is unnamed or registered twice")
    if not isinstance(getattr(cls, "card", None), CardSections):
        raise TypeError(f"family {cls.name!r} has no model card sections (card)")
    inst = cls()  # abc: a family that misses a part cannot be made
    inst.records = cls.records or cls.name
    _FAMILIES[cls.name] = inst
    return cls


def families() -> dict[str, Family]:
    """Every registered family by name (discovered on first use)."""
    if PLUGINS not in sys.modules:  # not emptiness: one family module may have been imported on its own
        importlib.import_module(PLUGINS)
    return dict(_FAMILIES)


def family(name: str) -> Family:
    """The family of this name (a ModelSpec's family); ValueError for an unknown one."""
    found = families().get(name)
    if found is None:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(sorted(_FAMILIES))}")
    return found


def family_of(config: dict) -> Family | None:
    """The family of a run, from its config.json; None for a family this code does not know."""
    return families().get(recorded_family(config))

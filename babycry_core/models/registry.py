"""One registry of models: a name maps to a builder. Pages fill their select boxes from it.

Families: "torch" (log-mel CNNs trained end to end by train.py); later families (embeddings + classical
heads, YAMNet) register here too, with the trainer that knows how to fit them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


class UnknownModelError(ValueError):
    pass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    build: Callable
    description: str
    params: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}


def register(name: str, family: str, description: str, **params):
    """Decorator: register a builder under `name`."""

    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, family, fn, description, params)
        return fn

    return deco


def _ensure_loaded() -> None:
    # importing the modules runs their @register decorators; torch is imported here, never at package import
    from . import cnn, detector, vision, classical, yamnet, two_stage  # noqa: F401  (order = order in the pages)


def model_names(family: str | None = None) -> list[str]:
    _ensure_loaded()
    return [n for n, s in _REGISTRY.items() if family is None or s.family == family]


def get_spec(name: str) -> ModelSpec:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; valid names: {', '.join(sorted(_REGISTRY))}") from None


def build_model(name: str, n_classes: int, **kwargs):
    """Build a fresh model by registry name, e.g. build_model("resnet18", 5, pretrained=False)."""
    spec = get_spec(name)
    return spec.build(n_classes=n_classes, **kwargs)

"""One registry of models: a name maps to a builder and its spec. Pages fill their select boxes from it.

A spec (spec.ModelSpec) is the name, its family ("torch": log-mel CNNs; "detector"; "classical": svm / xgboost
on embeddings; "yamnet": a head on YAMNet embeddings; "two_stage"), a builder of the untrained network or
pipeline, a description and plain parameters (e.g. a hyperparameter grid). Each model module lists its specs
in SPECS; this module collects them (importing torch only then, never at package import). models/ builds only:
no I/O, no training, no run folders. What a family does beyond building (train, load, check, evaluate, export,
answer with onnxruntime, its model card) is its Family object, one per family name (runs.family;
babycry_core.families); tests/models/test_families.py checks that every spec's family has one, with every part.
"""
from __future__ import annotations

from babycry_core.models.spec import ModelSpec, UnknownModelError

_REGISTRY: dict[str, ModelSpec] = {}


def _ensure_loaded() -> dict[str, ModelSpec]:
    if not _REGISTRY:
        from babycry_core.models import classical, cnn, detector_net, two_stage, vision, yamnet_transfer

        specs = {}
        # the order of the pages' select boxes
        for module in (cnn, detector_net, vision, classical, yamnet_transfer, two_stage):
            for s in module.SPECS:
                if s.name in specs:
                    raise ValueError(f"model {s.name!r} registered twice")
                specs[s.name] = s
        _REGISTRY.update(specs)
    return _REGISTRY


def model_names(family: str | None = None) -> list[str]:
    return [n for n, s in _ensure_loaded().items() if family is None or s.family == family]


def get_spec(name: str) -> ModelSpec:
    registry = _ensure_loaded()
    try:
        return registry[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; valid names: {', '.join(sorted(registry))}") from None


def build_model(name: str, n_classes: int, **kwargs):
    """Build a fresh model by registry name, e.g. build_model("resnet18", 5, pretrained=False)."""
    spec = get_spec(name)
    return spec.build(n_classes=n_classes, **kwargs)

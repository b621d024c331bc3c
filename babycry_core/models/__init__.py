"""Model registry and model definitions. `build_model(name, n_classes)`; `model_names()`; `get_spec(name)`."""
from babycry_core.models.registry import build_model, get_spec, model_names
from babycry_core.models.spec import ModelSpec, UnknownModelError

__all__ = ["ModelSpec", "UnknownModelError", "build_model", "get_spec", "model_names"]

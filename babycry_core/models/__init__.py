"""Model registry and model definitions. `build_model(name, n_classes)`; `model_names()`."""
from .registry import UnknownModelError, build_model, get_spec, model_names, register

__all__ = ["UnknownModelError", "build_model", "get_spec", "model_names", "register"]

"""What the registry knows about a model: its name, family, builder, description and plain parameters."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


class UnknownModelError(ValueError):
    pass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # the name of its Family (runs.family; one module per family in babycry_core/families/)
    build: Callable
    description: str
    params: dict = field(default_factory=dict)

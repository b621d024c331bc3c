"""Every model family, one module each: a `runs.family.Family` subclass that lists the family's parts (fit, load,
check, evaluate, export, ONNX loader, model card sections), registered by `@register`. Importing this package
registers them all; runs.family imports it by name on its first lookup (plugin discovery), so the layers below
never import it. Each module imports only light modules at its top: what a part needs is imported when it runs
(a plain `predict` must not import training, torch or the exporters)."""
from babycry_core.families import (  # noqa: F401  (registration)
    classical_family,
    cv_family,
    detector_family,
    torch_family,
    two_stage_family,
    yamnet_family,
)

"""One family table: every per-family table of the package is keyed on the registry's families."""
from __future__ import annotations

import pytest

from babycry_core.models import registry
from babycry_core.models.registry import FAMILIES, RUN_FAMILIES, model_names, run_family


def test_families_are_the_specs_families():
    assert {registry.get_spec(n).family for n in model_names()} == set(FAMILIES)
    assert set(RUN_FAMILIES) == {run_family(f) for f in FAMILIES}
    assert run_family("detector") == "torch"  # a trained detector is a torch network


def _tables():
    from babycry_core.inference.onnx_engine import ORT_LOADERS
    from babycry_core.runs.checkpoint import LOADERS
    from babycry_core.runs.export import EXPORTERS
    from babycry_core.runs.weights import CHECKS
    from babycry_core.training.evaluate_runs import EVALUATORS
    from babycry_core.training.fit import FITTERS

    return {"training.fit.FITTERS": (FITTERS, FAMILIES), "runs.checkpoint.LOADERS": (LOADERS, RUN_FAMILIES),
            "runs.weights.CHECKS": (CHECKS, RUN_FAMILIES), "training.evaluate_runs.EVALUATORS": (EVALUATORS, RUN_FAMILIES),
            "runs.export.EXPORTERS": (EXPORTERS, RUN_FAMILIES),
            "inference.onnx_engine.ORT_LOADERS": (ORT_LOADERS, RUN_FAMILIES)}


@pytest.mark.parametrize("name", list(_tables()))
def test_each_table_covers_every_family(name):
    table, families = _tables()[name]
    missing = set(families) - set(table)
    assert not missing, f"{name} has no entry for {sorted(missing)}"
    unknown = set(table) - set(families) - {"cv"}  # "cv": a cross-validation summary folder, checked but not a model
    assert not unknown, f"{name} has entries for families the registry does not know: {sorted(unknown)}"

"""The front ends reach the core only through the application layer (.importlinter's front-ends-through-app
contract): a view, the CLI or the API importing the core directly breaks it; going through babycry_core.app does not."""
from __future__ import annotations

import pytest

from tests.test_layers import ROOT, lint

CONTRACT = "reach the core only"


def _with(tmp_path, module: str, line: str):
    import shutil

    work = tmp_path / "work"
    shutil.copytree(ROOT / "babycry_core", work / "babycry_core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", work / ".importlinter")
    f = work / "babycry_core" / module
    f.write_text(f.read_text() + f"\n\ndef _added():\n    {line}\n")
    return lint(work)


@pytest.mark.parametrize("module, bad", [
    ("ui/classify_view.py", "from babycry_core.inference.predictor import load_predictor"),
    ("cli/main.py", "from babycry_core.training.fit import fit"),
    ("serving/api.py", "from babycry_core.runs import run_registry"),
])
def test_a_front_end_importing_the_core_breaks_the_contract(tmp_path, module, bad):
    r = _with(tmp_path, module, bad)
    assert r.returncode != 0, r.stdout[-2000:]
    broken = r.stdout[r.stdout.index("Broken contracts"):]
    assert CONTRACT in broken and bad.split()[1] in broken


def test_going_through_the_app_layer_keeps_it(tmp_path):
    r = _with(tmp_path, "ui/train_view.py", "from babycry_core.app.answer import answerer")
    assert r.returncode == 0 and "0 broken" in r.stdout, r.stdout[-2000:]

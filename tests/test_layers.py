"""The package's layers (.importlinter), checked by import-linter: they hold, and a bad import breaks them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.fail(f"{LINT} is missing: import-linter is in requirements.txt")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--config", str(cwd / ".importlinter"), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_layers_hold():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


@pytest.mark.parametrize("module, bad, contract", [
    ("eval/metrics.py", "from babycry_core import paths", "eval works on predictions alone"),
    ("models/cnn.py", "from babycry_core.data import corpora", "models build networks and pipelines"),
    ("audio/signal.py", "from babycry_core.inference import wording", "Each package imports only the layers below it"),
    ("training/loop.py", "from babycry_core.ui import run_plots", "The core never imports a front end"),
])
def test_a_deliberate_bad_import_breaks_its_contract(tmp_path, module, bad, contract):
    work = tmp_path / "work"
    shutil.copytree(ROOT / "babycry_core", work / "babycry_core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", work / ".importlinter")
    f = work / "babycry_core" / module
    f.write_text(f.read_text() + f"\n\ndef _bad():  # a deliberate layer violation\n    {bad}\n")
    r = lint(work)
    assert r.returncode != 0, r.stdout[-2000:]
    broken = r.stdout[r.stdout.index("Broken contracts"):]
    assert contract in broken and bad.split()[1] in broken

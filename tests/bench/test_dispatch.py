"""`bench KIND`: every kind the command line offers reaches its own main, with --repeats defaulted as before."""
from __future__ import annotations

import pytest

from babycry_core.bench import dispatch
from babycry_core.cli.main import build_parser, main

# kind -> (module, function) that runs it
TARGETS = {"speed": ("speed", "main"), "accuracy": ("leaderboard", "run_accuracy"), "load": ("load", "main"),
           "cry": ("cry", "main"), "serve": ("serve", "main"), "export": ("serve", "main"),
           "episodes": ("episodes_bench", "main"), "startup": ("startup", "main"), "upload": ("upload", "main")}


def test_every_kind_is_registered():
    assert list(dispatch.KINDS) == list(TARGETS)
    assert build_parser().parse_args(["bench", "upload"]).kind == "upload"


@pytest.mark.parametrize("kind", list(TARGETS))
def test_kind_reaches_its_main(kind, monkeypatch):
    import importlib

    module, fn = TARGETS[kind]
    seen = []
    monkeypatch.setattr(importlib.import_module(f"babycry_core.bench.{module}"), fn,
                        lambda a: seen.append((a.kind, a.repeats)) or 3)
    assert main(["bench", kind]) == 3
    assert main(["bench", kind, "--repeats", "4"]) == 3
    default = None if kind == "startup" else dispatch.DEFAULT_REPEATS  # startup: its own default, 5 processes
    assert seen == [(kind, default), (kind, 4)]

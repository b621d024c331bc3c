"""The pages (Home.py, pages/*.py) import only the ui's views and figures and the application layer
(babycry_core.app), and stay short: what they draw lives in ui, what they do in app."""
from __future__ import annotations

import ast

import pytest

from babycry_core import paths

PAGES = [paths.ROOT / "Home.py", *sorted((paths.ROOT / "pages").glob("*.py"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_import_only_the_ui_and_the_app_layer(page):
    tree = ast.parse(page.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    ours = [n for n in names if n.startswith("babycry_core")]
    assert ours and all(n.startswith(("babycry_core.ui", "babycry_core.app")) for n in ours), ours
    assert len(page.read_text().splitlines()) <= 70

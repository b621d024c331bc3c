"""A fresh machine, for tests that run the CLI as a user would (with conftest's `fresh_env`): the CLI as a
subprocess, and local git repositories laid out like a public corpus, so a clone step runs for real (file://)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from babycry_core import paths

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def cli(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "babycry_core", *args], capture_output=True, text=True,
                          cwd=paths.ROOT, env=env, timeout=timeout)


def no_traceback(r):
    assert "Traceback" not in r.stdout and "Traceback" not in r.stderr, r.stdout + r.stderr


def git(*args, cwd=None) -> None:
    subprocess.run(["git", "-c", "user.name=babycry test", "-c", "user.email=test@example.org",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True, capture_output=True, text=True)


def bare_repo(root: Path, name: str, populate: Callable[[Path], None]) -> Path:
    """root/origin/<name>.git with one commit of what populate(work tree) writes. Returns the bare repository."""
    bare, work = root / "origin" / f"{name}.git", root / f"work-{name}"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--bare", "-q", str(bare))
    git("clone", "-q", str(bare), str(work))
    populate(work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", name, cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    return bare

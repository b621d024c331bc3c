"""The front door on a fresh machine: clone the corpus when ../shared/data is absent, one line (never a traceback)
when something expected is missing, and run.sh's argument routing. Everything runs as a subprocess, as a user
would start it, with data/, checkpoints/ and the shared-data lookup pointed into tmp_path."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from babycry_core import paths
from babycry_core.data import linking
from babycry_core.audio import synth
from tests.e2e.fresh_machine import bare_repo, cli, needs_git, no_traceback

NO_CORPUS_LINE = ("no corpus: the app offers generated demo signals; "
                  "run `python -m babycry_core data link` when online")


def _corpus_repo(tmp_path: Path) -> Path:
    """A bare git repository laid out like gveres/donateacry-corpus: the cleaned folder with one folder per
    reason, files named as the app named them. Returns the bare repository."""
    tags = {"hungry": "hu", "tired": "ti", "discomfort": "dc"}

    def populate(work: Path) -> None:
        for b in range(8):  # eight babies (app installs) with three recordings each: 8 clips per reason
            uuid = f"0e4e0d7a-7b4e-4b2d-9f1e-{b:012d}"
            for j, reason in enumerate(list(tags)[(b + k) % 3] for k in range(3)):
                f = (work / linking.CLEANED_FOLDER / reason
                     / f"{uuid}-{1430000000 + 10 * b + j}-1.0-{'mf'[b % 2]}-04-{tags[reason]}.wav")
                f.parent.mkdir(parents=True, exist_ok=True)
                sf.write(f, synth.cry_sweep(0.5, 8000, seed=10 * b + j), 8000, subtype="PCM_16")
        (work / "README.md").write_text("Donate-a-Cry corpus (test copy)\n")

    return bare_repo(tmp_path, "donateacry-corpus", populate)


# ---------------------------------------------------------------- data build on a fresh machine

@needs_git
def test_data_build_clones_the_corpus_when_shared_data_is_absent(tmp_path, fresh_env):
    bare = _corpus_repo(tmp_path)
    fresh_env["BABYCRY_CORPUS_URL"] = bare.as_uri()  # file://: a real shallow clone, as from GitHub
    r = cli(fresh_env, "data", "build", "--folds", "3")
    assert r.returncode == 0, r.stderr
    no_traceback(r)
    assert f"cloning {bare.as_uri()}" in r.stderr and "done" in r.stderr

    corpus = tmp_path / "data" / "corpus"
    assert (corpus / "donateacry").is_symlink()
    assert (corpus / "donateacry").resolve() == (corpus / "donateacry-corpus" / linking.CLEANED_FOLDER).resolve()
    clone = corpus / "donateacry-corpus"
    shallow = subprocess.run(["git", "-C", str(clone), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True)
    assert shallow.stdout.strip() == "true"
    assert not (corpus / ".donateacry-corpus.partial").exists()

    manifest = pd.read_csv(tmp_path / "data" / "donateacry" / "manifest.csv")
    assert len(manifest) == 24 and manifest["group"].nunique() == 8
    assert set(manifest["label"]) == {"hungry", "tired", "discomfort"}
    assert (tmp_path / "data" / "donateacry" / "splits.json").is_file()
    assert "24 clips, 8 groups" in r.stdout

    # a second build finds the clone and clones nothing
    r = cli(fresh_env, "data", "build", "--folds", "3")
    assert r.returncode == 0, r.stderr
    assert "cloning" not in r.stderr and "donateacry kept" in r.stderr


@needs_git
def test_clone_without_the_cleaned_folder_is_not_linked(tmp_path, fresh_env):
    bare = bare_repo(tmp_path, "other", lambda work: (work / "README.md").write_text("not the corpus\n"))
    fresh_env["BABYCRY_CORPUS_URL"] = bare.as_uri()
    r = cli(fresh_env, "data", "build")
    assert r.returncode == 1
    no_traceback(r)
    assert f"no {linking.CLEANED_FOLDER} folder" in r.stderr
    assert r.stderr.strip().splitlines()[-1] == NO_CORPUS_LINE
    assert not (tmp_path / "data" / "corpus" / "donateacry").exists()
    assert not (tmp_path / "data" / "corpus" / "donateacry-corpus").exists()


def test_unreachable_corpus_gives_the_one_no_corpus_line(tmp_path, fresh_env):
    fresh_env["BABYCRY_CORPUS_URL"] = "file:///nonexistent/repo.git"
    r = cli(fresh_env, "data", "build")
    assert r.returncode == 1
    no_traceback(r)
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == NO_CORPUS_LINE
    assert sum("no corpus" in ln for ln in lines) == 1
    # the clone step is one line that ends with git's reason (not its advice)
    [step] = [ln for ln in lines if ln.startswith("corpus: cloning")]
    assert "file:///nonexistent/repo.git" in step and "failed:" in step and "does not appear" in step
    assert r.stdout == ""
    assert not (tmp_path / "data" / "donateacry" / "manifest.csv").exists()
    assert not any(p.name.endswith(".partial") for p in (tmp_path / "data" / "corpus").iterdir())


def test_shared_data_is_linked_before_any_clone(tmp_path, fresh_env):
    shared = tmp_path / "no-shared" / "donateacry" / "hungry"
    shared.mkdir(parents=True)
    fresh_env["BABYCRY_CORPUS_URL"] = "file:///nonexistent/repo.git"  # a clone attempt would show
    r = cli(fresh_env, "data", "link")
    assert r.returncode == 0, r.stderr
    assert "cloning" not in r.stderr and "corpus: donateacry linked ->" in r.stderr
    assert (tmp_path / "data" / "corpus" / "donateacry" / "hungry").is_dir()
    assert '"donateacry"' in r.stdout  # stdout keeps the JSON summary


# ---------------------------------------------------------------- one line per expected failure

def test_evaluate_missing_run_is_one_line(fresh_env):
    r = cli(fresh_env, "evaluate", "no-such-run")
    assert r.returncode == 1
    no_traceback(r)
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("error: ") and "no-such-run" in r.stderr


def test_predict_with_a_bad_run_is_one_line(tmp_path, fresh_env):
    wav = tmp_path / "cry.wav"
    sf.write(wav, synth.cry_sweep(1.0, 8000), 8000)
    r = cli(fresh_env, "predict", str(wav), "--run", str(tmp_path / "no-such-run"))
    assert r.returncode == 2  # predict's own code for a missing run, kept
    no_traceback(r)
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: ")


def test_train_without_a_manifest_is_one_line(fresh_env):
    r = cli(fresh_env, "train", "--model", "cnn", "--epochs", "1")
    assert r.returncode == 1
    no_traceback(r)
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("error: ") and "data build" in r.stderr


def test_main_turns_expected_errors_into_one_line(monkeypatch, capsys):
    from babycry_core.cli import main as cli_mod

    def boom(a):
        raise ValueError("bad value\nsecond line")

    monkeypatch.setattr(cli_mod, "cmd_runs", boom)  # build_parser() picks it up
    assert cli_mod.main(["runs"]) == 1
    assert capsys.readouterr().err == "error: bad value second line\n"
    with pytest.raises(ValueError):  # -v shows the traceback
        cli_mod.main(["-v", "runs"])


# ---------------------------------------------------------------- run.sh

def run_sh(*args, env=None, timeout=30):
    e = {**os.environ, "BABYCRY_DRY_RUN": "1", **(env or {})}
    return subprocess.run(["bash", str(paths.ROOT / "run.sh"), *args], capture_output=True, text=True,
                          env=e, timeout=timeout)


@pytest.mark.parametrize("args, command", [
    (["--server.address", "0.0.0.0"], "streamlit run Home.py --server.address 0.0.0.0"),
    (["--server.port", "8611", "--server.headless", "true"], "streamlit run Home.py --server.port 8611 --server.headless true"),
    (["app", "--server.port", "8611"], "streamlit run Home.py --server.port 8611"),
    ([], "streamlit run Home.py"),
    (["test", "-k", "frontdoor"], "python -m pytest -k frontdoor"),
])
def test_run_sh_routes_arguments(args, command):
    r = run_sh(*args)
    assert r.returncode == 0, r.stderr
    assert "usage" not in r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("dry run: ") and last.endswith(command), r.stdout


def test_run_sh_unknown_command_is_a_usage_error():
    r = run_sh("bogus")
    assert r.returncode == 2 and "usage: ./run.sh" in r.stderr and "dry run" not in r.stdout


def test_run_sh_setup_without_a_corpus_does_not_abort(tmp_path, fresh_env):
    """Offline and without ../shared/data, `./run.sh setup` says "no corpus" once and succeeds.

    run.sh runs from a copy of the project whose venv is already "installed" (a wrapper around this Python), so
    the test never installs anything, whatever state the real .venv is in."""
    proj = tmp_path / "project"
    (proj / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(paths.ROOT / "run.sh", proj / "run.sh")
    (proj / "babycry_core").symlink_to(paths.ROOT / "babycry_core")
    (proj / "requirements.txt").write_text("# nothing to install\n")
    py = proj / ".venv" / "bin" / "python"
    py.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    py.chmod(0o755)
    want = subprocess.run(["bash", "-c", "cat requirements*.txt | sha1sum | cut -c1-40"], cwd=proj,
                          capture_output=True, text=True, check=True).stdout.strip()
    (proj / ".venv" / ".requirements.sha").write_text(want + "\n")

    fresh_env["BABYCRY_CORPUS_URL"] = "file:///nonexistent/repo.git"
    r = subprocess.run(["bash", str(proj / "run.sh"), "setup"], capture_output=True, text=True,
                       env=fresh_env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    no_traceback(r)
    out = r.stdout + r.stderr
    assert "installing" not in out
    assert out.count("no corpus") == 1 and NO_CORPUS_LINE in out
    assert (tmp_path / "data" / "corpus").is_dir() and not (proj / "data").exists()


def test_run_sh_refuses_to_install_on_a_full_disk(tmp_path):
    """Before a fresh install (about 9 GB), setup checks the free space and says so in one line: pip would
    otherwise fail half-way with "No space left on device" after minutes of downloads."""
    proj = tmp_path / "project"
    proj.mkdir()
    shutil.copy(paths.ROOT / "run.sh", proj / "run.sh")
    (proj / "requirements.txt").write_text("numpy\n")
    env = {**os.environ, "BABYCRY_MIN_FREE_GB": "1000000"}  # more than any disk: the check must refuse
    env.pop("BABYCRY_DRY_RUN", None)
    r = subprocess.run(["bash", str(proj / "run.sh"), "setup"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith("error: installing the dependencies needs about 1000000 GB free") and \
        len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (proj / ".venv").exists() and "installing" not in r.stdout

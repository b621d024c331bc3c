"""`data link --extras`: FSDD and giulbia cloned (for real, from local repositories laid out like the public
ones) and linked where the detector's corpus reads them; kept on a second run; a failed clone is one line."""
from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from babycry_core.data import extras as corpus_extras
from babycry_core.data import derived
from babycry_core.audio import synth
from tests.e2e.fresh_machine import bare_repo, cli, needs_git, no_traceback

GIULBIA_FOLDERS = {"301 - Crying baby": "cry", "901 - Silence": "silence", "902 - Noise": "noise",
                   "903 - Baby laugh": "laugh"}


def _wav(path: Path, seconds: float, sr: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synth.cry_sweep(seconds, sr, seed=seed), sr, subtype="PCM_16")


def _fsdd(work: Path) -> None:
    for i, speaker in enumerate(("george", "jackson")):
        for d in range(3):
            _wav(work / "recordings" / f"{d}_{speaker}_{i}.wav", 0.4, 8000, 10 * i + d)


def _giulbia(work: Path) -> None:
    for j, folder in enumerate(GIULBIA_FOLDERS):
        for n in range(2):
            _wav(work / "data" / folder / f"rec{j}.m4a_{n}.wav", 1.0, 44100, j + n)


@needs_git
def test_extras_are_cloned_linked_and_kept(tmp_path, fresh_env):
    fresh_env["BABYCRY_FSDD_URL"] = bare_repo(tmp_path, "fsdd", _fsdd).as_uri()
    fresh_env["BABYCRY_GIULBIA_URL"] = bare_repo(tmp_path, "giulbia", _giulbia).as_uri()
    fresh_env["BABYCRY_CORPUS_URL"] = "file:///nonexistent/repo.git"  # Donate-a-Cry unreachable: extras still run
    r = cli(fresh_env, "data", "link", "--extras")
    no_traceback(r)
    done = json.loads(r.stdout)
    corpus = tmp_path / "data" / "corpus"
    assert "cloned" in done["fsdd"] and "cloned" in done["giulbia"], done
    assert len(list((corpus / "fsdd" / "recordings").glob("*.wav"))) == 6
    for folder, kind in GIULBIA_FOLDERS.items():
        assert (corpus / "giulbia" / kind).resolve() == (corpus / "baby_cry_detection" / "data" / folder).resolve()
        assert len(list((corpus / "giulbia" / kind).glob("*.wav"))) == 2
    again = json.loads(cli(fresh_env, "data", "link", "--extras").stdout)
    assert again["fsdd"].startswith("kept") and again["giulbia"].startswith("kept"), again


def test_without_extras_nothing_is_cloned(tmp_path, fresh_env):
    fresh_env["BABYCRY_CORPUS_URL"] = "file:///nonexistent/repo.git"
    fresh_env["BABYCRY_FSDD_URL"] = fresh_env["BABYCRY_GIULBIA_URL"] = "file:///must/not/be/cloned.git"
    r = cli(fresh_env, "data", "link")
    no_traceback(r)
    corpus = tmp_path / "data" / "corpus"
    assert "cloned.git" not in r.stderr and "not available" in json.loads(r.stdout)["fsdd"]
    assert not (corpus / "free-spoken-digit-dataset").exists() and not (corpus / "baby_cry_detection").exists()


@needs_git
def test_a_failed_extra_is_reported_and_the_other_still_fetched(tmp_path, monkeypatch):
    data_env = tmp_path / "data"
    monkeypatch.setenv("BABYCRY_DATA", str(data_env))
    monkeypatch.setenv("BABYCRY_FSDD_URL", "file:///nonexistent/fsdd.git")
    monkeypatch.setenv("BABYCRY_GIULBIA_URL", bare_repo(tmp_path, "giulbia", _giulbia).as_uri())
    done = corpus_extras.fetch_extras(quiet=True)
    assert "failed" in done["fsdd"] and not (data_env / "corpus" / "fsdd").exists()
    assert derived.fsdd_dir() is None or "shared" in str(derived.fsdd_dir())
    assert (data_env / "corpus" / "giulbia" / "laugh").is_dir()


def test_giulbia_folders_are_matched_by_keyword(tmp_path):
    for folder in (*GIULBIA_FOLDERS, "README-notes", "999 - Other"):
        (tmp_path / folder).mkdir()
    found = corpus_extras.giulbia_folders(tmp_path)
    assert {k: p.name for k, p in found.items()} == {v: k for k, v in GIULBIA_FOLDERS.items()}

"""Setting up the corpora: link <data_dir>/corpus/* to ../shared/data where it exists, else shallow-clone the
Donate-a-Cry corpus ($BABYCRY_CORPUS_URL or CLONE_URL) and link its cleaned folder (`python -m babycry_core data
link`; `data build` calls it). Each step prints one line on stderr; a failed clone is reported, never raised.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from babycry_core import paths

CLONE_URL = "https://github.com/gveres/donateacry-corpus"
CLEANED_FOLDER = "donateacry_corpus_cleaned_and_updated_data"
LINKED = ("donateacry", "giulbia", "uploads-sample", "fsdd", "dac-rejected", "speech-more", "urbansound", "laughter", "ios-cries",
          "yamnet")
CORPUS_URL_ENV = "BABYCRY_CORPUS_URL"  # another clone URL or a local git repository (mirrors, tests)
NO_CORPUS = ("no corpus: the app offers generated demo signals; "
             "run `python -m babycry_core data link` when online")


class NoCorpusError(FileNotFoundError):
    """Donate-a-Cry is neither linked, in ../shared/data, nor cloned. The CLI prints the message as it is."""

    cli_prefix = ""  # the message is the whole line (no "error: ")


def clone_url() -> str:
    """The Donate-a-Cry git URL: $BABYCRY_CORPUS_URL, else the public repository."""
    return os.environ.get(CORPUS_URL_ENV, "").strip() or CLONE_URL


def say(text: str, end: str = "\n") -> None:
    print(text, end=end, file=sys.stderr, flush=True)


def _git_clone(url: str, dest: Path) -> None:
    # shallow, never prompting for credentials (a wrong URL fails instead of waiting for a password)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}
    subprocess.run(["git", "clone", "--depth", "1", "--quiet", url, str(dest)], check=True, capture_output=True,
                   text=True, timeout=900, stdin=subprocess.DEVNULL, env=env)


def _clone_error(e: BaseException) -> str:
    if isinstance(e, FileNotFoundError):
        return "git is not installed"
    if isinstance(e, subprocess.TimeoutExpired):
        return f"no answer within {int(e.timeout)} s"
    lines = [ln.strip() for ln in (getattr(e, "stderr", None) or str(e)).strip().splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]  # git's reason, not its advice
    return (fatal or lines or [type(e).__name__])[0]


def make_link(link: Path, target: Path) -> str:
    if link.is_symlink():
        if link.resolve() == target.resolve():
            return f"already linked -> {target}"
        link.unlink()
        os.symlink(os.path.relpath(target, link.parent), link)
        return f"relinked -> {target}"
    if link.exists():
        return f"kept existing folder {link}"
    os.symlink(os.path.relpath(target, link.parent), link)
    return f"linked -> {target}"


def shallow_clone(url: str, clone: Path, required: str, quiet: bool) -> tuple[bool, str]:
    """Shallow-clone url into `clone` (via a .partial folder, so an interrupted clone never looks complete)
    unless `clone/required` is there already. Returns (ok, what happened); a failure has been logged."""
    if (clone / required).is_dir():
        return True, f"clone in {clone}; "
    partial = clone.parent / f".{clone.name}.partial"
    if not quiet:  # the step's line is finished below, once git has answered
        say(f"corpus: cloning {url} (git clone --depth 1) ...", end=" ")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        _git_clone(url, partial)
    except (OSError, subprocess.SubprocessError) as e:
        shutil.rmtree(partial, ignore_errors=True)
        if not quiet:
            say(f"failed: {_clone_error(e)}")
        return False, f"clone of {url} failed: {_clone_error(e)}"
    if not (partial / required).is_dir():
        shutil.rmtree(partial, ignore_errors=True)
        if not quiet:
            say(f"failed: it has no {required} folder")
        return False, f"clone of {url} has no {required} folder"
    if clone.is_symlink() or clone.is_file():
        clone.unlink()
    shutil.rmtree(clone, ignore_errors=True)  # a stale copy without the required folder
    partial.rename(clone)
    if not quiet:
        say("done")
    return True, "cloned; "


def _clone_donateacry(target: Path, quiet: bool) -> tuple[bool, str]:
    """Clone the corpus into target/donateacry-corpus and link its cleaned folder as target/donateacry."""
    clone = target / "donateacry-corpus"
    ok, done = shallow_clone(clone_url(), clone, CLEANED_FOLDER, quiet)
    return (True, done + make_link(target / "donateacry", clone / CLEANED_FOLDER)) if ok else (False, done)


def link_corpus(target_dir: Path | None = None, quiet: bool = False) -> dict:
    """Symlink <data_dir>/corpus/{donateacry,giulbia,uploads-sample} to the shared data where it exists; else
    shallow-clone the Donate-a-Cry corpus ($BABYCRY_CORPUS_URL or CLONE_URL) and link its cleaned folder.

    Returns {name: what happened}; a failed clone is reported, not raised. Unless quiet, each step prints one
    line on stderr (stdout stays for results)."""
    target = Path(target_dir) if target_dir is not None else paths.data_dir() / "corpus"
    target.mkdir(parents=True, exist_ok=True)
    shared = paths.shared_data_dir()
    done = {}
    for name in LINKED:
        link, src = target / name, shared / name
        if src.is_dir():
            done[name] = make_link(link, src)
        elif link.is_dir():
            done[name] = f"kept {link} (no {src})"
        elif name == "donateacry":
            linked, done[name] = _clone_donateacry(target, quiet)
            if not linked:
                continue  # the clone step already said why
        elif name == "yamnet":
            done[name] = fetch_yamnet()
        else:
            done[name] = f"not available (no {src})"
            continue  # optional extras (development and tests): nothing to say
        if not quiet:
            say(f"corpus: {name} {done[name]}")
    return done


def fetch_yamnet(timeout: float = 60.0) -> str:
    """Without ../shared/data/yamnet: download Google's YAMNet TFLite file once into <data_dir>/yamnet/ and check
    that it loads; offline, one line says so (every other model works without it)."""
    import urllib.request

    from babycry_core.features.yamnet import OFFICIAL_TFLITE_URL, TFLITE_NAME, YamnetUnavailable, load_yamnet

    dest = paths.data_dir() / "yamnet" / TFLITE_NAME
    if dest.is_file():
        return f"kept {dest}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".partial")
    try:
        with urllib.request.urlopen(OFFICIAL_TFLITE_URL, timeout=timeout) as r, open(part, "wb") as f:
            shutil.copyfileobj(r, f)
        os.replace(part, dest)
        load_yamnet(str(dest))
    except OSError as e:
        part.unlink(missing_ok=True)
        return f"not available offline ({type(e).__name__}); the YAMNet models need it, every other model works"
    except YamnetUnavailable as e:
        dest.unlink(missing_ok=True)
        return f"downloaded but unusable: {e}"
    return f"downloaded {OFFICIAL_TFLITE_URL} -> {dest}"

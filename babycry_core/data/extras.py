"""The optional corpora, fetched only when asked: `python -m babycry_core data link --extras`.

The cry detector's not-a-cry side needs adult speech (FSDD) and giulbia's laugh / noise / silence (and its
cries). ../shared/data has both; a fresh machine has neither, and cloning them by default would stall every
offline setup and test run, so they are opt-in. Each is shallow-cloned once into data/corpus/ and linked
where the corpus specs read it:

    fsdd      github.com/Jakobovski/free-spoken-digit-dataset   data/corpus/fsdd/recordings/*.wav
    giulbia   github.com/giulbia/baby_cry_detection             data/corpus/giulbia/{cry,laugh,noise,silence}/

giulbia's data/ folders are named like "301 - Crying baby" or "903 - Baby laugh": each of our four folders
links to the one whose name holds its keyword. Its clips keep their own rate (audio.load resamples).
$BABYCRY_FSDD_URL and $BABYCRY_GIULBIA_URL replace the URLs (a mirror, a local repository).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from babycry_core import paths
from babycry_core.data.linking import make_link, say, shallow_clone


@dataclass(frozen=True)
class Extra:
    url: str
    env: str  # the variable that overrides url
    clone: str  # folder under data/corpus/
    required: str  # the folder a complete clone holds


EXTRAS = {
    "fsdd": Extra("https://github.com/Jakobovski/free-spoken-digit-dataset", "BABYCRY_FSDD_URL",
                  "free-spoken-digit-dataset", "recordings"),
    "giulbia": Extra("https://github.com/giulbia/baby_cry_detection", "BABYCRY_GIULBIA_URL",
                     "baby_cry_detection", "data"),
}
GIULBIA_KINDS = {"cry": "cry", "laugh": "laugh", "noise": "noise", "silence": "silence"}  # ours: keyword


def url_of(name: str) -> str:
    x = EXTRAS[name]
    return os.environ.get(x.env, "").strip() or x.url


def giulbia_folders(data_dir: Path) -> dict[str, Path]:
    """{our kind: the clone's data/ folder whose name holds its keyword} (case-insensitive; one per kind)."""
    out = {}
    for kind, word in GIULBIA_KINDS.items():
        hits = sorted(d for d in data_dir.iterdir() if d.is_dir() and word in d.name.lower())
        if hits:
            out[kind] = hits[0]
    return out


def _link_giulbia(link: Path, clone: Path) -> str:
    found = giulbia_folders(clone / EXTRAS["giulbia"].required)
    if not found:
        return f"its data/ folder names none of {', '.join(GIULBIA_KINDS)}"
    link.mkdir(parents=True, exist_ok=True)
    for kind, src in found.items():
        make_link(link / kind, src)
    missing = sorted(set(GIULBIA_KINDS) - set(found))
    return f"linked {', '.join(sorted(found))} -> {clone / 'data'}" + (f" (no {', '.join(missing)})" if missing else "")


def fetch_extras(target_dir: Path | None = None, quiet: bool = False) -> dict:
    """Clone and link FSDD and giulbia into target_dir (default data/corpus) unless they are there (linked
    from ../shared/data or fetched before). Returns {name: what happened}; failures are reported, not raised."""
    target = Path(target_dir) if target_dir is not None else paths.data_dir() / "corpus"
    target.mkdir(parents=True, exist_ok=True)
    done = {}
    for name, x in EXTRAS.items():
        link = target / name
        if link.exists():
            done[name] = f"kept {link}"
        else:
            ok, what = shallow_clone(url_of(name), target / x.clone, x.required, quiet)
            if not ok:
                done[name] = what
                continue  # the clone step already said why
            clone = target / x.clone
            done[name] = what + (make_link(link, clone) if name == "fsdd" else _link_giulbia(link, clone))
        if not quiet:
            say(f"corpus: {name} {done[name]}")
    return done

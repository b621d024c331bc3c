"""Real household sounds from free-software packages: more not-a-cry material for the detector's training part.

The corpus's not-a-cry side is thin: 108 ESC-50 noise clips, two laughing recordings, six men counting. Debian
ships real recordings in a few educational programs, under free licences (Scratch 1.4's media CC BY-SA 3.0,
Tux Paint's GPL-2):

    scratch                    Media/Sounds: animals (cats, dogs, rooster, sea lion...), effects, instruments,
                               music loops, coughs and sneezes, four adult laughs, sung phrases
    tuxpaint-data              sounds/: UI sounds and a child's giggle
    tuxpaint-stamps-default    stamps/: 100 animal, household and vehicle sounds, and 7,000 short spoken
                               descriptions in a dozen languages (women, men and children reading)

`python -m babycry_core data link --debian-sounds` downloads the three packages with `apt-get download` (a
Debian or Ubuntu machine with its package lists) and unpacks them with `dpkg-deb -x` into
data/corpus/debian-sounds/. Nothing is committed. The detector's training part then gets them as laugh,
noise and speech (clips(), each sound its own group); they are never tested, so every benchmark figure stays
on the corpus's own recordings. Screams and the one baby cry in Scratch are left out (neither side's example).
"""
from __future__ import annotations

import fnmatch
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths

FOLDER = "debian-sounds"
SECONDS = 5.0  # composed clips are as long as the generated household sounds
N_SPEECH = 150  # composed speech clips (several spoken descriptions of one language each)
AUDIO = (".wav", ".ogg", ".mp3", ".oga", ".flac")


@dataclass(frozen=True)
class Package:
    name: str
    root: str  # the sounds' folder inside the package
    rules: tuple[tuple[str, str | None], ...]  # (glob on the path under root, label or None to leave out); first wins


PACKAGES = (
    Package("scratch", "usr/share/scratch/Media/Sounds",
            (("Human/Laugh-*", "laugh"), ("Human/Scream-*", None), ("Human/BabyCry*", None), ("Vocals/*", "speech"),
             ("*", "noise"))),
    Package("tuxpaint-data", "usr/share/tuxpaint/sounds", (("giggle.*", "laugh"), ("*", "noise"))),
    Package("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps",
            (("*_desc_*", "speech"), ("symbols/*", None), ("*", "noise"))),
)


def root_dir() -> Path:
    return paths.data_dir() / "corpus" / FOLDER


def label_of(pkg: Package, rel: str) -> str | None:
    for pattern, label in pkg.rules:
        if fnmatch.fnmatch(rel, pattern):
            return label
    return None


def catalogue(root: Path | None = None) -> list[dict]:
    """[{"path", "label", "package", "rel"}] of every unpacked sound that has a label, sorted by path."""
    root = Path(root) if root is not None else root_dir()
    out = []
    for pkg in PACKAGES:
        base = root / pkg.name / pkg.root
        if not base.is_dir():
            continue
        for f in sorted(base.rglob("*")):
            rel = f.relative_to(base).as_posix()
            label = label_of(pkg, rel) if f.suffix.lower() in AUDIO else None
            if label:
                out.append({"path": f, "label": label, "package": pkg.name, "rel": rel})
    return out


def fetch(root: Path | None = None, quiet: bool = False) -> dict[str, str]:
    """Download and unpack the packages not unpacked yet. {package: what happened}; failures are said, not raised."""
    import tempfile

    from .corpus_setup import _say

    root = Path(root) if root is not None else root_dir()
    done = {}
    for pkg in PACKAGES:
        dest = root / pkg.name
        if (dest / pkg.root).is_dir():
            done[pkg.name] = f"kept {dest}"
        else:
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    subprocess.run(["apt-get", "download", "-q", pkg.name], cwd=tmp, check=True, capture_output=True,
                                   text=True, timeout=900, stdin=subprocess.DEVNULL)
                    deb = next(Path(tmp).glob(f"{pkg.name}_*.deb"))
                    dest.mkdir(parents=True, exist_ok=True)
                    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True, capture_output=True, timeout=900)
                done[pkg.name] = f"unpacked into {dest}"
            except FileNotFoundError:
                done[pkg.name] = "not fetched: apt-get and dpkg-deb are needed (a Debian or Ubuntu machine)"
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, StopIteration) as e:
                err = (getattr(e, "stderr", "") or "").strip().splitlines()
                done[pkg.name] = ("not fetched: " + (err[-1] if err else type(e).__name__) +
                                  " (run `apt-get update` first?)")
        if not quiet:
            _say(f"corpus: {FOLDER} {pkg.name} {done[pkg.name]}")
    return done


def _place(sounds: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """The sounds one after another at random gaps in an n-sample clip (a long one cut at a random start)."""
    y = np.zeros(n, np.float32)
    at = int(rng.integers(0, max(1, n // 4)))
    for s in sounds:
        if len(s) >= n - at:
            start = int(rng.integers(0, max(1, len(s) - (n - at) + 1)))
            y[at:] += s[start : start + n - at]
            break
        y[at : at + len(s)] += s
        at += len(s) + int(rng.uniform(0.1, 0.8) * len(s) + rng.integers(0, n // 10))
        if at >= n:
            break
    return y


def clips(sr: int, seed: int, root: Path | None = None) -> tuple[list[np.ndarray], list[dict]]:
    """Training clips of SECONDS each: every sound repeated 1-3 times at random gaps, and N_SPEECH clips of
    several spoken descriptions in one language; over a faint room floor, peak -1..-20 dBFS.
    Returns (waves, rows) with rows {"clip_id", "label", "group"}; ([], []) when nothing is unpacked."""
    from . import audio
    from .audio_errors import AudioError
    from .household import finish

    rng = np.random.default_rng(seed)
    n = int(SECONDS * sr)
    waves, rows = [], []
    cat = catalogue(root)
    spoken = [c for c in cat if "_desc_" in c["rel"]]  # short spoken descriptions: joined per language below
    for item in (c for c in cat if "_desc_" not in c["rel"]):
        try:
            y = audio.load(item["path"], sr)
        except AudioError:  # a file the decoder refuses is left out, as a corrupt upload would be
            continue
        if len(y) < sr // 20 or not np.any(y):
            continue
        waves.append(finish(_place([y] * int(rng.integers(1, 4)), n, rng), rng))
        rows.append({"clip_id": f"{FOLDER}/{item['package']}/{item['rel']}", "label": item["label"],
                     "group": f"{FOLDER}:{item['package']}/{item['rel']}"})
    by_lang: dict[str, list[dict]] = {}
    for c in spoken:
        by_lang.setdefault(Path(c["rel"]).stem.rsplit("_desc_", 1)[-1], []).append(c)
    langs = sorted(by_lang)
    for i in range(N_SPEECH if langs else 0):
        lang = langs[i % len(langs)]
        picks = rng.choice(len(by_lang[lang]), size=min(6, len(by_lang[lang])), replace=False)
        try:
            parts = [audio.load(by_lang[lang][int(j)]["path"], sr) for j in picks]
        except AudioError:
            continue
        waves.append(finish(_place(parts, n, rng), rng))
        rows.append({"clip_id": f"{FOLDER}/speech_{lang}_{i}", "label": "speech", "group": f"{FOLDER}:speech_{i}"})
    return waves, rows

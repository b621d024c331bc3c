"""Derived sources of the cry detector's corpus, written once under data/derived/ (never committed).

    speech/    adult speech: the Free Spoken Digit Dataset's utterances (0.3-0.8 s each, six men, 8 kHz),
               joined per speaker with short pauses into clips of 8-10 s, `<speaker>_<k>.wav`. Grouped by
               speaker (the `_<k>` suffix), so a speaker's clips never sit on both sides of a split.
    roomtone/  generated quiet-room sound (pink or brown noise, a fan's hum, at -55 to -30 dBFS), 8
               "recordings" of 4 clips each, `roomtone<r>_<k>.wav`, grouped by recording. The one giulbia
               silence recording is loud hiss; this gives the "silence" class more than one room.

Both are deterministic in their seed; a folder that already holds its files is left alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core import paths

SR = 8000
SPEECH_SECONDS = (8.0, 10.0)
PAUSE_SECONDS = (0.15, 0.6)
ROOM_RECORDINGS, ROOM_CLIPS, ROOM_SECONDS = 8, 4, 5.0


def fsdd_dir() -> Path | None:
    """The FSDD `recordings/` folder: data/corpus/fsdd (linked or cloned), else ../shared/data/fsdd."""
    for root in (paths.data_dir() / "corpus" / "fsdd", paths.shared_data_dir() / "fsdd"):
        if (root / "recordings").is_dir():
            return root / "recordings"
    return None


def _write(path: Path, y: np.ndarray) -> None:
    import soundfile as sf

    from babycry_core import fileio

    fileio.atomic_write(path, lambda fh: sf.write(fh, np.clip(y, -1, 1), SR, format="WAV", subtype="PCM_16"))


def _floor(n: int, rng: np.random.Generator) -> np.ndarray:
    """A faint room floor (-70 to -55 dBFS) for the pauses, so that joins are never digital zeros."""
    level = 10 ** (rng.uniform(-70, -55) / 20)
    return (level * rng.standard_normal(n)).astype(np.float32)


def build_speech(out: Path | None = None, src: Path | None = None, seed: int = 0) -> Path:
    """Join FSDD utterances per speaker into clips of 8-10 s under out/speech/. Returns that folder."""
    from babycry_core.audio import decode as audio

    out = Path(out or paths.data_dir() / "derived") / "speech"
    src = src or fsdd_dir()
    if src is None:
        raise FileNotFoundError("FSDD speech not found: run `python -m babycry_core data link --extras` "
                                "(links ../shared/data/fsdd or clones the Free Spoken Digit Dataset)")
    if out.is_dir() and any(out.glob("*.wav")):
        return out
    files = sorted(src.glob("*.wav"))
    speakers = sorted({f.stem.split("_")[1] for f in files})
    rng = np.random.default_rng(seed)
    for spk in speakers:
        mine = [f for f in files if f.stem.split("_")[1] == spk]
        order = rng.permutation(len(mine))
        k, parts, length, target = 0, [], 0, rng.uniform(*SPEECH_SECONDS) * SR
        for i in order:
            y = audio.load(mine[i], SR)
            y = y / max(float(np.abs(y).max()), 1e-6) * 10 ** (rng.uniform(-12, -1) / 20)  # talkers vary in level
            pause = _floor(int(rng.uniform(*PAUSE_SECONDS) * SR), rng)
            parts += [y, pause]
            length += len(y) + len(pause)
            if length >= target:
                _write(out / f"{spk}_{k}.wav", np.concatenate(parts))
                k, parts, length, target = k + 1, [], 0, rng.uniform(*SPEECH_SECONDS) * SR
    return out


def _colored(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise with power ~ 1/f^exponent (1: pink, 2: brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
    y = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (y / (np.sqrt(np.mean(y**2)) + 1e-12)).astype(np.float32)


def room_tone(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One quiet room: colored noise, sometimes a fan or fridge hum (50/60 Hz and harmonics), -55 to -30 dBFS."""
    n = int(seconds * SR)
    y = _colored(n, rng, float(rng.choice([0.0, 1.0, 2.0])))
    if rng.random() < 0.5:
        t = np.arange(n) / SR
        mains = float(rng.choice([50.0, 60.0]))
        hum = sum(rng.uniform(0.1, 1.0) * np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 6.3)) for h in (1, 2, 3, 4))
        y = y + float(rng.uniform(0.3, 2.0)) * hum / np.sqrt(np.mean(hum**2))
    y = y / np.sqrt(np.mean(y**2))
    return (y * 10 ** (rng.uniform(-55, -30) / 20)).astype(np.float32)


def build_room_tone(out: Path | None = None, seed: int = 0) -> Path:
    """8 generated quiet rooms x 4 clips of 5 s under out/roomtone/. Returns that folder."""
    out = Path(out or paths.data_dir() / "derived") / "roomtone"
    if out.is_dir() and any(out.glob("*.wav")):
        return out
    rng = np.random.default_rng(seed)
    for r in range(ROOM_RECORDINGS):
        room = room_tone(ROOM_CLIPS * ROOM_SECONDS, rng)
        n = int(ROOM_SECONDS * SR)
        for k in range(ROOM_CLIPS):
            _write(out / f"roomtone{r}_{k}.wav", room[k * n : (k + 1) * n])
    return out


BUILDERS = {"speech": build_speech, "roomtone": build_room_tone}


def ensure(names, root: Path) -> None:
    """Build the derived class folders `names` ("speech", "roomtone") under root where they are missing."""
    for name in names:
        BUILDERS[name](Path(root))

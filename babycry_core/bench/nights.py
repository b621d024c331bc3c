"""Synthetic nights for `bench episodes`: held-out recordings joined into backgrounds, with cries at known times.

Only the material it is given is used (the caller passes one grouped fold's test recordings), so no training
recording reaches a night. Levels are RMS dBFS.
"""
from __future__ import annotations

import numpy as np

from babycry_core.audio.signal import at_level
SR = 8000
LEVELS = {"room": (-55, -45), "speech": (-40, -25), "laugh": (-40, -25), "noise": (-40, -20)}  # dBFS RMS
CRY_LENGTHS = (4.0, 8.0, 15.0, 30.0, 60.0)
CRY_LEVELS = (-35.0, -25.0, -15.0)  # dBFS RMS: from under the louder backgrounds to near the phone
LABEL_OF = {"cry": "cry", "speech": "speech", "laugh": "laugh", "noise": "noise", "room": "silence"}

def material(test) -> dict:
    """The fold's held-out recordings at 8 kHz by kind: {kind: [(group, waveform)]}."""
    from babycry_core.audio import decode as audio
    from babycry_core.data import splits as data

    out: dict[str, list] = {k: [] for k in LABEL_OF}
    for _, r in test.iterrows():
        for kind, label in LABEL_OF.items():
            if r["label"] == label:
                out[kind].append((str(r["group"]), audio.load(data.resolve_path(r["path"]), SR)))
    return out


def fade(y, ms: float = 20.0) -> np.ndarray:
    n = min(len(y) // 2, int(SR * ms / 1000))
    if n:
        y = y.copy()
        ramp = np.linspace(0, 1, n, dtype=np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def fill(clips, seconds: float, levels, rng, pause=(0.0, 0.0)) -> np.ndarray:
    """Random clips at random levels, with random pauses, until `seconds` are full."""
    n = int(seconds * SR)
    out = np.zeros(n, np.float32)
    i = 0
    while i < n:
        y = fade(at_level(clips[rng.integers(len(clips))][1], rng.uniform(*levels)))[: n - i]
        out[i: i + len(y)] += y
        i += len(y) + int(rng.uniform(*pause) * SR)
    return out


def background(kind: str, seconds: float, mat: dict, rng) -> np.ndarray:
    if kind == "silence":
        return (rng.standard_normal(int(seconds * SR)) * 10 ** (-85 / 20)).astype(np.float32)
    y = fill(mat["room"], seconds, LEVELS["room"], rng)
    if kind != "room":
        y += fill(mat[kind], seconds, LEVELS[kind], rng, pause=(0.3, 4.0) if kind != "noise" else (0.5, 10.0))
    return y


def cry(length: float, db: float, mat: dict, rng) -> np.ndarray:
    """`length` s of one held-out baby's crying (its clips joined; more babies when it has too few)."""
    groups = sorted({g for g, _ in mat["cry"]})
    parts, have = [], 0
    while have < length * SR:
        g = groups[rng.integers(len(groups))]
        for _, y in (c for c in mat["cry"] if c[0] == g):
            parts.append(fade(y, 10))
            have += len(y)
    return fade(at_level(np.concatenate(parts)[: int(length * SR)], db), 50)


def cry_night(kind: str, minutes: float, mat: dict, rng) -> tuple[np.ndarray, list[dict]]:
    y = background(kind, minutes * 60, mat, rng)
    events, t, i = [], 30.0, 0
    while True:
        length, db = CRY_LENGTHS[i % len(CRY_LENGTHS)], CRY_LEVELS[(i // len(CRY_LENGTHS) + i) % len(CRY_LEVELS)]
        if t + length > minutes * 60 - 20:
            break
        c = cry(length, db, mat, rng)
        y[int(t * SR): int(t * SR) + len(c)] += c
        events.append({"onset": t, "offset": t + length, "length": length, "level": db})
        t += length + rng.uniform(25, 60)
        i += 1
    return np.clip(y, -1, 1), events


def matches(events, found) -> list[dict]:
    """Per true cry: the first found episode overlapping it (any overlap), its delay and onset error."""
    rows = []
    for e in events:
        hit = next((f for f in found if f.start <= e["offset"] and f.end >= e["onset"]), None)
        rows.append({**e, "found": hit is not None, "delay": None if hit is None else hit.alert_at - e["onset"],
                     "onset_error": None if hit is None else hit.start - e["onset"]})
    return rows

"""Synthetic nights for `bench episodes` and the monitor rule's validation nights: held-out recordings joined into
backgrounds, with cries at known times.

Only the material it is given is used (the caller passes one grouped fold's test recordings), so no training
recording reaches a night. Levels are RMS dBFS.

With the manifest's `kind` column (the grown detect corpus), one background per kind, each over the room-tone
floor (the `silence` kind's room recordings, -55 to -45 dBFS): speech_men, speech_women, speech_children (-40 to
-25 dBFS, pauses between utterances), same_app (non-cry uploads from the cry app: mostly a parent talking, a
room, music; played like speech), household_street (UrbanSound8K and older noise, -40 to -20 dBFS, longer
pauses), laughing, baby_laughter and belly_laugh (like speech; same_app_uncertain is left out), plus `room`
alone and `silence` (a phone's noise gate: -85 dBFS). Without it (an older manifest), by label as before: room,
speech, laugh, noise, silence.
"""
from __future__ import annotations

import numpy as np

from babycry_core.audio.signal import at_level
SR = 8000
LEVELS = {"room": (-55, -45), "speech": (-40, -25), "laugh": (-40, -25), "noise": (-40, -20)}  # dBFS RMS
PAUSES = {"speech": (0.3, 4.0), "laugh": (0.3, 4.0), "noise": (0.5, 10.0)}  # s between clips over the floor
CRY_LENGTHS = (4.0, 8.0, 15.0, 30.0, 60.0)
CRY_LEVELS = (-35.0, -25.0, -15.0)  # dBFS RMS: from under the louder backgrounds to near the phone
LABEL_OF = {"cry": "cry", "speech": "speech", "laugh": "laugh", "noise": "noise", "room": "silence"}
# kind -> (its manifest label, the LEVELS and PAUSES it is played at)
KINDS = {"speech_men": ("speech", "speech"), "speech_women": ("speech", "speech"),
         "speech_children": ("speech", "speech"), "same_app": ("noise", "speech"),
         "household_street": ("noise", "noise"), "laughing": ("laugh", "laugh"),
         "baby_laughter": ("laugh", "laugh"), "belly_laugh": ("laugh", "laugh")}
LABEL_BACKGROUNDS = ("room", "speech", "laugh", "noise", "silence")
KIND_BACKGROUNDS = ("room", *KINDS, "silence")
# background-only minutes per fold: about the same total either way (the kinds have more backgrounds)
LABEL_MINUTES = {"room": 30.0, "speech": 60.0, "laugh": 30.0, "noise": 60.0, "silence": 10.0}
KIND_MINUTES = {"room": 20.0, "speech_men": 20.0, "speech_women": 20.0, "speech_children": 20.0, "same_app": 25.0,
                "household_street": 25.0, "laughing": 20.0, "baby_laughter": 20.0, "belly_laugh": 20.0,
                "silence": 10.0}
OTHER_MINUTES = 20.0  # a kind not named above


def label_of(background: str) -> str:
    """The label a background's recordings carry (speech_men -> speech): for summaries over kinds."""
    return KINDS[background][0] if background in KINDS else background


def style_of(background: str) -> str:
    """Which LEVELS / PAUSES a background is played at (a kind not in KINDS: like noise)."""
    if background in KINDS:
        return KINDS[background][1]
    return background if background in LEVELS else "noise"


def material(test) -> dict:
    """The fold's held-out recordings at 8 kHz: {background: [(group, waveform)]}, plus "cry" and "room" (the
    room tone under every background). By `kind` when the frame has that column, else by label."""
    from babycry_core.audio import decode as audio
    from babycry_core.data import manifest as data
    from babycry_core.data.corpora import UNCERTAIN_KINDS

    if "kind" in test.columns:  # uploads that may hold a baby's voice are no one's background
        test = test[~test["kind"].isin(UNCERTAIN_KINDS)]
    by_kind = "kind" in test.columns
    out: dict[str, list] = {k: [] for k in (("cry", "room") if by_kind else LABEL_OF)}
    for _, r in test.iterrows():
        if by_kind:
            key = {"cry": "cry", "silence": "room"}.get(r["label"], str(r["kind"]))
        else:
            key = next((k for k, label in LABEL_OF.items() if r["label"] == label), None)
        if key is not None:
            out.setdefault(key, []).append((str(r["group"]), audio.load(data.resolve_path(r["path"]), SR)))
    return out


def ordered(names) -> list[str]:
    """Background names in the fixed order of reports: room, the kinds, the labels, any other, silence."""
    known = [b for b in dict.fromkeys((*KIND_BACKGROUNDS, *LABEL_BACKGROUNDS)) if b != "silence"]
    names = set(names)
    return [b for b in known if b in names] + sorted(names - {*known, "silence"}) + ["silence"] * ("silence" in names)


def backgrounds(mat: dict) -> list[str]:
    """The backgrounds a fold's material can make: each with recordings over room tone, and silence."""
    return [b for b in ordered({*mat, "silence"} - {"cry"}) if b == "silence" or (mat.get(b) and mat.get("room"))]


def minutes(kinds) -> dict:
    """Background-only minutes per background for one fold."""
    table = LABEL_MINUTES if set(kinds) <= set(LABEL_BACKGROUNDS) else KIND_MINUTES
    return {k: table.get(k, OTHER_MINUTES) for k in kinds}

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
    """`seconds` of one background: the room floor, with mat[kind]'s clips over it at its style's levels."""
    if kind == "silence":
        return (rng.standard_normal(int(seconds * SR)) * 10 ** (-85 / 20)).astype(np.float32)
    y = fill(mat["room"], seconds, LEVELS["room"], rng)
    if kind != "room":
        style = style_of(kind)
        y += fill(mat[kind], seconds, LEVELS[style], rng, pause=PAUSES[style])
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


def nights_of(mat: dict, rng, cry_minutes: float, bg_minutes) -> list[dict]:
    """Per background that `mat` can make (backgrounds()), a night with cries at known times, then one without:
    {"name", "background", "kind" ("cry" / "only"), "y", "events", "seconds"}. bg_minutes: minutes of each
    background-only night, one number or {background: minutes}."""
    out = []
    for bg in backgrounds(mat):
        y, events = cry_night(bg, cry_minutes, mat, rng)
        out.append({"name": f"{bg}_cry", "background": bg, "kind": "cry", "y": y, "events": events})
        mins = bg_minutes[bg] if isinstance(bg_minutes, dict) else bg_minutes
        y = np.clip(background(bg, mins * 60, mat, rng), -1, 1).astype(np.float32)
        out.append({"name": f"{bg}_only", "background": bg, "kind": "only", "y": y, "events": []})
    for n in out:
        n["seconds"] = len(n["y"]) / SR
    return out


def matches(events, found) -> list[dict]:
    """Per true cry: the first found episode overlapping it (any overlap), its delay and onset error."""
    rows = []
    for e in events:
        hit = next((f for f in found if f.start <= e["offset"] and f.end >= e["onset"]), None)
        rows.append({**e, "found": hit is not None, "delay": None if hit is None else hit.alert_at - e["onset"],
                     "onset_error": None if hit is None else hit.start - e["onset"]})
    return rows

"""Generated baby laughter: more "laugh" for the detector's training part only.

The real laugh class is two home recordings of one baby, so a grouped fold that tests one of them trains on
the other alone, and the detector learns that recording rather than laughing. What tells a laugh from a cry
is its rhythm: a laugh is a bout of short calls ("ha-ha-ha", each about 80-250 ms, 3-6 a second, often with
an audible breath before the vowel), where a cry holds each voiced call for half a second or more. Each bout
here is a source-filter caricature of that: a harmonic source at a baby's pitch (200-550 Hz, falling a little
over each call and over the bout, with jitter), shaped by two formant resonators, with breath noise, between
pauses. A synthetic voice alone is too easy to tell from a real one, so `from_voice` also cuts real baby
voice (the training part's cries) into the same rhythm: a laugh's texture, and only its timing tells. None
is ever tested: the benchmark's laugh figures are the real recordings only.
"""
from __future__ import annotations

import numpy as np

from babycry_core.augment.household import finish, harmonic

CALL_S = (0.08, 0.25)  # one "ha"
GAP_S = (0.05, 0.25)  # between the calls of a bout
CALLS_PER_BOUT = (3, 10)
PAUSE_S = (0.2, 1.0)  # between bouts
F0_HZ = (200.0, 550.0)


def _resonate(x: np.ndarray, sr: int, freq: float, bandwidth: float) -> np.ndarray:
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bandwidth / sr)
    w = 2 * np.pi * freq / sr
    return lfilter([1 - r], [1.0, -2 * r * np.cos(w), r * r], x)


def call(m: int, sr: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """One voiced call of m samples: harmonics of a falling, jittered f0, a breath onset, a fast envelope."""
    t = np.arange(m) / sr
    fall = rng.uniform(0.0, 0.25)
    f = f0 * (1 - fall * t / max(t[-1], 1e-3)) * (1 + 0.02 * rng.standard_normal(m).cumsum() / np.sqrt(m))
    src = harmonic(f, sr, int((sr / 2) // (f0 * 1.1)), rng.uniform(0.8, 1.8))
    voiced = _resonate(src, sr, rng.uniform(600, 1300), 150) + 0.6 * _resonate(src, sr, rng.uniform(1500, 3200), 250)
    breath = _resonate(rng.standard_normal(m), sr, rng.uniform(800, 2500), 900) * rng.uniform(0.05, 0.6)
    onset = np.clip(1 - t / rng.uniform(0.02, 0.06), 0, 1)  # the "h": breath first, the vowel after
    attack, release = rng.uniform(0.01, 0.03), rng.uniform(0.02, 0.08)
    env = np.minimum(1, t / attack) * np.minimum(1, np.maximum(0, t[-1] - t) / release)
    v = voiced / (np.abs(voiced).max() + 1e-9)
    b = breath / (np.abs(breath).max() + 1e-9)
    return env * ((1 - onset) * v + (onset + rng.uniform(0.05, 0.4)) * b * rng.uniform(0.2, 0.8))


def laugh(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of synthetic laughter: a source-filter call at each place `_schedule` gives (the pitch of a
    bout drifts down as breath runs out; a new bout starts a new pitch)."""
    y, f0, last = np.zeros(n), rng.uniform(*F0_HZ), 0
    for pos, m in _schedule(n, sr, rng):
        f0 = rng.uniform(*F0_HZ) if pos - last > GAP_S[1] * sr * 1.5 else f0 * rng.uniform(0.93, 1.02)
        y[pos:pos + m] += call(m, sr, f0, rng) * rng.uniform(0.5, 1.0)
        last = pos + m
    return y


def _schedule(n: int, sr: int, rng: np.random.Generator):
    """(start, length) of the calls of laughter over n samples: bouts of short calls between pauses."""
    pos = int(rng.uniform(0, 0.5) * sr)
    while pos < n:
        for _ in range(int(rng.integers(CALLS_PER_BOUT[0], CALLS_PER_BOUT[1] + 1))):
            m = int(rng.uniform(*CALL_S) * sr)
            if pos + m > n:
                return
            yield pos, m
            pos += m + int(rng.uniform(*GAP_S) * sr)
        pos += int(rng.uniform(*PAUSE_S) * sr)


def from_voice(voice: np.ndarray, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of laughter cut from a real voice recording: each call a short piece of its loudest part,
    with a fast attack and release and a breath before it, in the rhythm of `_schedule`."""
    hop = sr // 50
    frames = voice[: len(voice) // hop * hop].reshape(-1, hop)
    level = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(level >= np.quantile(level, 0.7)) * hop  # starts of the voice's loud 20 ms frames
    y = np.zeros(n)
    for pos, m in _schedule(n, sr, rng):
        src = int(min(rng.choice(loud), max(0, len(voice) - m)))
        piece = voice[src:src + m]
        t = np.arange(len(piece)) / sr
        env = np.minimum(1, t / rng.uniform(0.008, 0.025)) * np.minimum(1, np.maximum(0, t[-1] - t) / rng.uniform(0.02, 0.07))
        breath = _resonate(rng.standard_normal(len(piece)), sr, rng.uniform(800, 2500), 900)
        breath *= np.clip(1 - t / rng.uniform(0.02, 0.05), 0, 1) * np.abs(piece).max() / (np.abs(breath).max() + 1e-9)
        y[pos:pos + len(piece)] += env * piece * rng.uniform(0.5, 1.0) + rng.uniform(0.1, 0.5) * breath
    return y


def voiced_sounds(voices: list[np.ndarray], count: int, seconds: float, sr: int, seed: int) -> list[np.ndarray]:
    """`count` laughs cut from the given voices (drawn in turn from a shuffled order)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(voices))
    return [finish(from_voice(voices[order[i % len(order)]], int(seconds * sr), sr, rng), rng) for i in range(count)]


def sounds(count: int, seconds: float, sr: int, seed: int) -> list[np.ndarray]:
    """`count` generated laughs, peak-normalised to -1..-20 dBFS, over a faint room floor."""
    rng = np.random.default_rng(seed)
    return [finish(laugh(int(seconds * sr), sr, rng), rng) for _ in range(count)]

"""Generated household sounds: more kinds of "not a cry" for the detector's training part only.

The real noise class is 108 ESC-50 clips; a home by the cot holds many sounds that are not in it. Each kind
below is a small physical caricature, drawn at random: chimes and bells (inharmonic partials that decay),
beeps and alarms (steady tones switching on and off), knocks and footsteps (resonant impulses), rain and
running water (modulated coloured noise with droplets), appliances (a low hum with broadband noise: fans,
vacuum cleaners, hair dryers), music (steady harmonic notes in a melody), and what comes in from outside:
sirens (a harmonic tone sweeping slowly up and down, or yelping fast), car horns (a steady harmonic chord),
birds (fast chirps sweeping across 2-4 kHz) and dogs (short harmonic barks with a noisy onset). None is ever used for testing:
the benchmark's noise figures are real ESC-50 recordings only.
"""
from __future__ import annotations

import numpy as np

KINDS = ("chime", "beep", "knock", "rain", "appliance", "music", "siren", "horn", "bird", "bark")


def _env(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(t / max(attack, 1e-3), 1.0) * np.exp(-t / decay)


def chime(n: int, sr: int, rng) -> np.ndarray:
    y = np.zeros(n)
    for start in np.sort(rng.integers(0, max(1, n - sr // 2), int(rng.integers(1, 5)))):
        m = n - start
        t = np.arange(m) / sr
        base = rng.uniform(300, 1500)
        tone = sum(rng.uniform(0.2, 1) * np.sin(2 * np.pi * base * r * t) for r in rng.uniform(1.0, 4.5, int(rng.integers(3, 7))))
        y[start:] += tone * _env(m, sr, 0.002, rng.uniform(0.3, 1.5))
    return y


def beep(n: int, sr: int, rng) -> np.ndarray:
    t = np.arange(n) / sr
    f = rng.uniform(500, 3000)
    period, duty = rng.uniform(0.2, 1.2), rng.uniform(0.2, 0.7)
    gate = ((t % period) < duty * period).astype(float)
    tone = np.sin(2 * np.pi * f * t) + (0.3 * np.sin(4 * np.pi * f * t) if rng.random() < 0.5 else 0)
    return tone * gate


def knock(n: int, sr: int, rng) -> np.ndarray:
    from scipy.signal import lfilter

    y = np.zeros(n)
    hits = np.sort(rng.integers(0, n - 1, int(rng.integers(2, 10))))
    y[hits] = rng.uniform(0.5, 1.0, len(hits))
    f, r = rng.uniform(80, 900), rng.uniform(0.97, 0.995)
    w = 2 * np.pi * f / sr
    return lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], y)


def rain(n: int, sr: int, rng) -> np.ndarray:
    from scipy.signal import butter, lfilter

    b, a = butter(2, [rng.uniform(200, 1000) / (sr / 2), rng.uniform(2000, 3800) / (sr / 2)], btype="band")
    y = lfilter(b, a, rng.standard_normal(n))
    slow = np.interp(np.arange(n), np.linspace(0, n, 20), rng.uniform(0.5, 1.0, 20))
    drops = np.zeros(n)
    drops[rng.integers(0, n, int(rng.integers(20, 200)))] = rng.uniform(1, 4)
    return y * slow + lfilter([1.0], [1.0, -0.9], drops)


def appliance(n: int, sr: int, rng) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = rng.uniform(40, 150)
    hum = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 8))
    from scipy.signal import butter, lfilter

    b, a = butter(2, rng.uniform(300, 3500) / (sr / 2))
    return hum * rng.uniform(0.2, 1.0) + lfilter(b, a, rng.standard_normal(n)) * rng.uniform(0.5, 2.0)


def music(n: int, sr: int, rng) -> np.ndarray:
    y, pos = np.zeros(n), 0
    scale = 220.0 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12) * rng.choice([1, 2])
    while pos < n:
        m = min(n - pos, int(rng.uniform(0.15, 0.6) * sr))
        t = np.arange(m) / sr
        f = rng.choice(scale)
        y[pos:pos + m] += sum(np.sin(2 * np.pi * f * h * t) / h ** rng.uniform(1, 2) for h in range(1, 6)) \
            * _env(m, sr, 0.01, rng.uniform(0.2, 0.8))
        pos += m
    return y


def harmonic(f: np.ndarray, sr: int, n_harm: int, tilt: float) -> np.ndarray:
    """Harmonics of an instantaneous frequency track f (Hz per sample), amplitude 1/h**tilt, below Nyquist."""
    phase = 2 * np.pi * np.cumsum(f) / sr
    top = float(np.max(f))
    return sum(np.sin(h * phase) / h ** tilt for h in range(1, n_harm + 1) if h * top < sr / 2)


def siren(n: int, sr: int, rng) -> np.ndarray:
    t = np.arange(n) / sr
    lo, hi = rng.uniform(500, 900), rng.uniform(1000, 1800)
    rate = rng.uniform(0.15, 0.5) if rng.random() < 0.5 else rng.uniform(2.5, 6.0)  # wail or yelp
    f = lo + (hi - lo) * (0.5 + 0.5 * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6)))
    return harmonic(f, sr, 4, rng.uniform(0.8, 2.0))


def horn(n: int, sr: int, rng) -> np.ndarray:
    y = np.zeros(n)
    for start in np.sort(rng.integers(0, max(1, n - sr // 4), int(rng.integers(1, 4)))):
        m = min(n - start, int(rng.uniform(0.2, 1.5) * sr))
        y[start:start + m] += sum(harmonic(np.full(m, f), sr, 8, 1.0) for f in rng.uniform(300, 550, 2)) \
            * np.minimum(1, np.arange(m)[::-1] / (0.02 * sr))
    return y


def bird(n: int, sr: int, rng) -> np.ndarray:
    y = np.zeros(n)
    for start in np.sort(rng.integers(0, max(1, n - sr // 5), int(rng.integers(4, 30)))):
        m = min(n - start, int(rng.uniform(0.03, 0.2) * sr))
        f = np.linspace(rng.uniform(1800, 3800), rng.uniform(1800, 3800), m)
        y[start:start + m] += harmonic(f, sr, 2, 2.0) * np.hanning(m)
    return y


def bark(n: int, sr: int, rng) -> np.ndarray:
    from scipy.signal import butter, lfilter

    y = np.zeros(n)
    for start in np.sort(rng.integers(0, max(1, n - sr // 4), int(rng.integers(1, 8)))):
        m = min(n - start, int(rng.uniform(0.08, 0.3) * sr))
        f = rng.uniform(250, 700) * np.linspace(1.1, 0.8, m)
        b, a = butter(2, [300 / (sr / 2), 3000 / (sr / 2)], btype="band")
        burst = harmonic(f, sr, 10, 1.0) + lfilter(b, a, rng.standard_normal(m)) * rng.uniform(0.3, 1.5)
        y[start:start + m] += burst * _env(m, sr, 0.005, rng.uniform(0.04, 0.12))
    return y


GENERATORS = {"chime": chime, "beep": beep, "knock": knock, "rain": rain, "appliance": appliance, "music": music,
              "siren": siren, "horn": horn, "bird": bird, "bark": bark}


def finish(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A generated sound over a faint room floor (the room is never digital zero), peak-normalised to -1..-20 dBFS."""
    y = y + 10 ** (rng.uniform(-70, -50) / 20) * rng.standard_normal(len(y))
    return (y / (np.abs(y).max() + 1e-9) * 10 ** (rng.uniform(-20, -1) / 20)).astype(np.float32)


def sound(kind: str, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One generated household sound of `kind`, peak-normalised to -1..-20 dBFS."""
    return finish(GENERATORS[kind](int(seconds * sr), sr, rng), rng)


def sounds(count: int, seconds: float, sr: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """`count` sounds, the kinds in turn. Returns (waveforms, kinds)."""
    rng = np.random.default_rng(seed)
    kinds = [KINDS[i % len(KINDS)] for i in range(count)]
    return [sound(k, seconds, sr, rng) for k in kinds], kinds

"""Waveform augmentation for the cry detector, for the training part only.

What a phone by the cot does to a sound, each step a small named function:
  * gain: the level anywhere from -50 to 0 dBFS, re-quantised to 16 bits (a quiet cry keeps its shape);
  * codec: through AMR-NB at 8 kHz (the Android uploads) or IMA4 ADPCM (the iOS .caf uploads), encoded and
    decoded in memory by PyAV, on every class, so the codec's sound is no cue for "cry";
  * mix: another training recording (speech, noise, room tone) underneath at 20 to 0 dB SNR; the label stays;
  * pitch_up: speech shifted up 3-10 semitones, toward cry pitch: hard negatives, still "speech";
  * reverb: a generated room impulse response (exponentially decaying noise, RT60 0.15-0.8 s).

`random_chain` draws a chain for one clip; interferers come from a pool the caller builds from training
recordings only, so no held-out recording reaches a training clip. Deterministic in the generator.
"""
from __future__ import annotations

import io

import numpy as np

from babycry_core.audio.signal import resample, rms_dbfs, scaled_to_level  # noqa: F401  (rms_dbfs: gain API)
from babycry_core.augment.noise import mix_at_snr

CODECS = ("amr_nb", "ima4")
GAIN_DBFS = (-50.0, 0.0)
SNR_DB = (0.0, 20.0)
PITCH_SEMITONES = (3.0, 10.0)
RT60_S = (0.15, 0.8)


def quantize16(y: np.ndarray) -> np.ndarray:
    """What a 16-bit recording keeps of a waveform."""
    return (np.round(np.clip(y, -1, 1) * 32767) / 32767).astype(np.float32)


def gain(y: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale to an RMS of `dbfs` (peak-limited to 1; audio.signal.scaled_to_level), then quantise to 16 bits.
    A silent signal comes back unchanged (float32)."""
    z = scaled_to_level(y, dbfs, peak_limit=True)
    return y.astype(np.float32) if z is None else quantize16(z)


def _encode(y: np.ndarray, sr: int, codec: str, fmt: str, bit_rate: int | None) -> bytes:
    import av

    buf = io.BytesIO()
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=sr)
        stream.layout = "mono"
        if bit_rate:
            stream.bit_rate = bit_rate
        n = 1024
        for i in range(0, len(pcm), n):
            frame = av.AudioFrame.from_ndarray(pcm[None, i : i + n], format="s16", layout="mono")
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def codec(y: np.ndarray, sr: int, kind: str) -> np.ndarray:
    """Round-trip through a phone codec in memory: "amr_nb" (12.2 kbit/s, 8 kHz) or "ima4" (IMA ADPCM in CAF)."""
    from babycry_core.audio import decode as audio

    if kind == "amr_nb":
        data, name = _encode(resample(y, sr, 8000), 8000, "libopencore_amrnb", "amr", 12200), "x.amr"
    elif kind == "ima4":
        data, name = _encode(y, sr, "adpcm_ima_qt", "caf", None), "x.caf"
    else:
        raise ValueError(f"unknown codec {kind!r}; valid: {', '.join(CODECS)}")
    z = audio.load(data, sr, name=name)
    z = z[: len(y)]
    return np.pad(z, (0, len(y) - len(z))).astype(np.float32)


def pitch_up(y: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """Speech shifted up by `semitones` (librosa's phase vocoder + resampling), same length."""
    import librosa

    return librosa.effects.pitch_shift(np.asarray(y, np.float32), sr=sr, n_steps=float(semitones)).astype(np.float32)


def room_impulse(sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A generated impulse response: a direct path, then noise decaying by 60 dB over rt60 seconds."""
    n = max(2, int(rt60 * sr))
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * float(rng.uniform(0.2, 0.7))
    tail[: int(0.003 * sr)] = 0.0  # the first reflections arrive a few ms after the direct sound
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverb(y: np.ndarray, sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import fftconvolve

    z = fftconvolve(y, room_impulse(sr, rt60, rng))[: len(y)]
    peak = float(np.abs(z).max())
    return (z / peak * float(np.abs(y).max()) if peak > 0 else z).astype(np.float32)


def mix(y: np.ndarray, other: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """`other` (looped or cut at a random offset to y's length) under y at `snr_db`."""
    if len(other) == 0 or len(y) == 0:
        return y
    reps = int(np.ceil(len(y) / len(other))) + 1
    long = np.tile(other, reps)
    start = int(rng.integers(0, len(long) - len(y) + 1))
    return mix_at_snr(y, long[start : start + len(y)], snr_db)


def random_chain(y: np.ndarray, sr: int, rng: np.random.Generator, pools: dict[str, list[np.ndarray]],
                 *, label: str, pitch: bool = False) -> tuple[np.ndarray, list[str]]:
    """One augmented copy of a training clip and the steps applied (e.g. ["reverb 0.4s", "mix speech 7dB"]).

    pools: {"speech": [...], "noise": [...]} waveforms of *training* recordings. Speech is mixed under cries and
    noise only (never under speech itself); `pitch` shifts speech up first (a hard negative).
    """
    steps = []
    if pitch:
        st = float(rng.uniform(*PITCH_SEMITONES))
        y, steps = pitch_up(y, sr, st), [f"pitch +{st:.1f}"]
    if rng.random() < 0.4:
        rt = float(rng.uniform(*RT60_S))
        y = reverb(y, sr, rt, rng)
        steps.append(f"reverb {rt:.2f}s")
    kinds = [k for k in ("speech", "noise") if pools.get(k) and not (k == "speech" and label == "speech")]
    if kinds and rng.random() < 0.5:
        k = kinds[int(rng.integers(len(kinds)))]
        snr = float(rng.uniform(*SNR_DB))
        y = mix(y, pools[k][int(rng.integers(len(pools[k])))], snr, rng)
        steps.append(f"mix {k} {snr:.0f}dB")
    level = float(rng.uniform(*GAIN_DBFS))
    y = gain(y, level)
    steps.append(f"gain {level:.0f}dBFS")
    if rng.random() < 0.6:
        c = CODECS[int(rng.integers(len(CODECS)))]
        y = codec(y, sr, c)
        steps.append(c)
    return y, steps

"""Noise augmentation of the training part: generated interference mixed into training clips at set SNRs.

Honest by construction:
  * only the rows it is given are augmented, and `augment_training` refuses any part but "train": validation
    and test clips are never mixed (their figures must describe real recordings);
  * an augmented copy keeps the `group` (baby / source recording) of its clip, so it sits on the same side of
    every split as its source, and its clip_id says what it is (`<clip_id>#<interferer>@<snr>dB`);
  * the interference is generated (`synth.white_noise`, `synth.sine` at a random pitch), never another
    corpus clip, so no recording leaks into a second clip.

The rare non-cry classes (laugh: 2 recordings, silence: 1) get one copy per training clip and SNR. A matched
number of cry clips gets the same treatment ("matched" classes), so that "interference was added" is no
cue for "not a cry" — without it the gate could learn that a noisy room means no cry. The "dominant" classes
(noise) also get copies where the interference dominates (negative SNR): their label stays true (noise plus
noise is noise), and they teach that a steady tone or hiss on its own is no cry.

Clip length is decorrelated from the class at the same time (`fill_short`, `cut_matched_to`): in the combined
corpus every non-cry clip is a 5 s giulbia window, zero-padded to the 7 s model window, while most cries fill
it, so "a silent tail" would mean "no cry" (measured: a gate trained without this called 37 % of looped non-cry
test clips cries, 0 % of the padded ones). Copies of short `classes` clips are looped to fill the window, and
the `matched` cry copies are cut to the short length and zero-padded. Interference covers the signal, never
the zero padding (as in a short recording at inference).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from babycry_core.audio import synth
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import fix_length, log_mel

DEFAULT_SNRS_DB = (20.0, 10.0, 0.0)
DOMINANT_SNRS_DB = (-10.0,)  # interference-dominated copies, only for classes whose label survives it
INTERFERERS = ("white_noise", "sine")
SINE_HZ = (150.0, 2500.0)  # pitch range of the tone interferer (inside the 0-4 kHz band the model sees)
SILENT_RMS = 1e-3  # interference level for a clip with no energy at all (its SNR is undefined)


def interference(kind: str, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of generated interference: "white_noise" or "sine" (random pitch in SINE_HZ)."""
    seconds = n / sr
    if kind == "white_noise":
        return synth.white_noise(seconds, sr, level=0.1, seed=int(rng.integers(2**31)))[:n]
    if kind == "sine":
        hi = min(SINE_HZ[1], 0.45 * sr)
        return synth.sine(seconds, sr, freq=float(rng.uniform(SINE_HZ[0], hi)), level=0.5)[:n]
    raise ValueError(f"unknown interferer {kind!r}; valid: {', '.join(INTERFERERS)}")


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float, signal_samples: int | None = None) -> np.ndarray:
    """clean + noise scaled to `snr_db` below the clean signal's power (measured on its first
    `signal_samples`, i.e. without zero padding). Peak-normalised only if the mix would clip."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)[: len(clean)]
    part = clean[: signal_samples or len(clean)]
    p_s = float(np.mean(part**2)) if len(part) else 0.0
    p_n = float(np.mean(noise**2))
    if p_n <= 0:
        return clean.astype(np.float32)
    gain = np.sqrt(p_s / (p_n * 10 ** (snr_db / 10))) if p_s > 0 else SILENT_RMS / np.sqrt(p_n)
    y = clean + gain * noise
    peak = float(np.abs(y).max())
    return (y / peak if peak > 1 else y).astype(np.float32)


def augment_training(frame: pd.DataFrame, fcfg: FeatureConfig, *, classes, matched=(), snrs=DEFAULT_SNRS_DB,
                     dominant=(), dominant_snrs=DOMINANT_SNRS_DB, kinds=INTERFERERS, per_class: int | None = None,
                     fill_short: bool = False, cut_matched_to: float | None = None, seed: int = 0,
                     part: str = "train", progress: bool = False):
    """Noise-mixed copies of training clips → (X (n, 1, n_mels, frames) float32, frame of the copies).

    classes: labels whose clips get copies at the SNRs in `snrs`: `per_class` copies per label, drawn without
        replacement from (clip, SNR) pairs. Default: as many as the rarest label has pairs, i.e. every clip of the
        rarest class at every SNR, and the same number for each other label (a big class of one recording, such
        as silence, does not take over);
    dominant: labels among `classes` that also get `per_class` copies at `dominant_snrs`;
    matched: labels whose clips get `per_class` copies in all (drawn at random, the SNRs of `snrs` in turn).
    fill_short: copies of `classes` clips shorter than the window are looped to fill it;
    cut_matched_to: seconds; `matched` copies are cut to this length (then zero-padded like any short clip).
    The interferers of `kinds` take turns (each set of copies starts at a random one). The copies' frame has
    the source row's columns (group, label, tags, ...) plus augmented_from, interferer, snr_db and
    length ("original", "looped" or "cut"). Deterministic in `seed`.
    """
    from tqdm import tqdm

    from babycry_core.audio import decode as audio
    from babycry_core.data import manifest as data

    if part != "train":
        raise ValueError(f"noise augmentation is for the training part only, not {part!r}")
    rng = np.random.default_rng(seed)
    kinds = [str(k) for k in kinds]
    labels = frame["label"].astype(str).to_numpy()
    present = [c for c in dict.fromkeys(classes) if (labels == c).any()]
    if per_class is None:
        per_class = min((int((labels == c).sum()) * len(snrs) for c in present), default=0)

    def draw(rows: np.ndarray, levels, n: int) -> list[tuple[int, float, str]]:
        pairs = [(int(r), float(s)) for r in rows for s in levels]
        pick = sorted(rng.permutation(len(pairs))[: min(n, len(pairs))])
        start = int(rng.integers(len(kinds)))
        return [(*pairs[i], kinds[(start + j) % len(kinds)], False) for j, i in enumerate(pick)]

    jobs = []  # (row position, snr, interferer, is a matched copy)
    for c in present:
        rows = np.flatnonzero(labels == c)
        jobs += draw(rows, snrs, per_class)
        if c in set(dominant):
            jobs += draw(rows, dominant_snrs, per_class)
    pool = np.flatnonzero(np.isin(labels, list(matched)))
    if len(pool) and present:
        picks = rng.choice(pool, size=per_class, replace=per_class > len(pool))
        jobs += [(int(pos), float(snrs[j % len(snrs)]), kinds[j % len(kinds)], True) for j, pos in enumerate(picks)]
    n_samples = fcfg.clip_samples
    n_cut = int(round(cut_matched_to * fcfg.sample_rate)) if cut_matched_to else None
    X = np.zeros((len(jobs), 1, fcfg.n_mels, fcfg.n_frames), np.float32)
    rows, waves = [], {}
    for k, (pos, snr, kind, is_matched) in enumerate(tqdm(jobs, desc="noise augmentation", leave=False,
                                                          disable=not progress)):
        src = frame.iloc[pos]
        if pos not in waves:
            waves[pos] = audio.load(data.resolve_path(src["path"]), fcfg.sample_rate)
        y, length = waves[pos][:n_samples], "original"
        if is_matched and n_cut and len(y) > n_cut:
            y, length = y[:n_cut], "cut"
        elif not is_matched and fill_short and len(y) < n_samples:
            y, length = np.resize(y, n_samples), "looped"
        mixed = mix_at_snr(y, interference(kind, len(y), fcfg.sample_rate, rng), snr)
        X[k, 0] = log_mel(fix_length(mixed, n_samples), fcfg)
        row = src.to_dict()
        row.update(clip_id=f"{src['clip_id']}#{kind}@{snr:g}dB" + ("" if length == "original" else f"-{length}"),
                   augmented_from=src["clip_id"], interferer=kind, snr_db=snr, length=length)
        rows.append(row)
    cols = list(frame.columns) + [c for c in ("augmented_from", "interferer", "snr_db", "length")
                                  if c not in frame.columns]
    return X, pd.DataFrame(rows, columns=cols)

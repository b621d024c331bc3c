"""The handcrafted acoustic set of the classical heads: 110 named features of one window, computed from
`log_mel` (the same 0-4 kHz front end as the CNNs): MFCC mean/std, MFCC-delta mean/std, log-mel band statistics,
energy and spectral centroid statistics, active fraction (e.g. "mfcc3_mean")."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import log_mel, mel_centres

N_MFCC = 20
N_BANDS = 8


@lru_cache(maxsize=8)
def _band_layout(cfg: FeatureConfig) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    """Mel-bin groups of the N_BANDS bands, their names ("band2_610-1010Hz"), and each mel bin's centre in Hz."""
    centres = mel_centres(cfg).astype(np.float32)
    groups = np.array_split(np.arange(cfg.n_mels), N_BANDS)
    names = [f"band{j}_{centres[g[0]]:.0f}-{centres[g[-1]]:.0f}Hz" for j, g in enumerate(groups)]
    return groups, names, centres


def handcrafted_names(cfg: FeatureConfig = FeatureConfig()) -> list[str]:
    _, bands, _ = _band_layout(cfg)
    names = []
    for i in range(N_MFCC):
        names += [f"mfcc{i}_mean", f"mfcc{i}_std"]
    for i in range(N_MFCC):
        names += [f"mfcc{i}_delta_mean", f"mfcc{i}_delta_std"]
    for b in bands:
        names += [f"{b}_mean", f"{b}_std", f"{b}_max"]
    names += ["energy_db_mean", "energy_db_std", "energy_db_max", "centroid_hz_mean", "centroid_hz_std",
              "active_fraction"]
    return names


@lru_cache(maxsize=4)
def dct_basis(n: int) -> np.ndarray:
    """(n, n) orthonormal DCT-II matrix: `dct_basis(n) @ S` is scipy.fft.dct(S, type=2, norm="ortho", axis=0).
    A matrix, not scipy.fft: importing scipy.fft costs a plain `predict` 0.3 s, for a 64-point transform."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    basis = np.sqrt(2.0 / n) * np.cos(np.pi * k * (2 * i + 1) / (2 * n))  # (coefficients, bands)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def _delta(c: np.ndarray, n: int = 2) -> np.ndarray:
    """Regression deltas over ±n frames (HTK formula), edges repeated."""
    padded = np.pad(c, ((0, 0), (n, n)), mode="edge")
    T = c.shape[1]
    num = sum(k * (padded[:, n + k : n + k + T] - padded[:, n - k : n - k + T]) for k in range(1, n + 1))
    return num / (2 * sum(k * k for k in range(1, n + 1)))


def handcrafted(y: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The named acoustic feature vector of one window (order: `handcrafted_names(cfg)`)."""
    S = log_mel(y, cfg)  # (n_mels, frames) dB, band-limited to cfg.band_hz
    mfcc = dct_basis(S.shape[0])[:N_MFCC] @ S  # (N_MFCC, frames)
    d = _delta(mfcc)
    groups, _, centres = _band_layout(cfg)
    power = np.power(10.0, S / 10.0, dtype=np.float64)
    total = power.sum(0)
    energy = 10.0 * np.log10(np.maximum(total, 1e-10))
    centroid = (centres[:, None] * power).sum(0) / np.maximum(total, 1e-20)
    feats = []
    for a in (mfcc, d):
        feats.append(np.stack([a.mean(1), a.std(1)], 1).ravel())
    for g in groups:
        band = S[g].mean(0)
        feats.append(np.array([band.mean(), band.std(), band.max()]))
    feats.append(np.array([energy.mean(), energy.std(), energy.max(), centroid.mean(), centroid.std(),
                           float((energy > energy.max() - 20.0).mean())]))
    return np.concatenate(feats).astype(np.float32)

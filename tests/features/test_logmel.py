import numpy as np
import pytest

from babycry_core.audio import synth
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import clip_features, fix_length, log_mel, log_mel_batch, window_starts, windows


def test_config_is_frozen_and_round_trips():
    cfg = FeatureConfig()
    with pytest.raises(Exception):
        cfg.n_mels = 10
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.key() == FeatureConfig.from_dict(cfg.to_dict()).key()
    assert cfg.key() != FeatureConfig(n_mels=32).key()
    assert cfg.band_hz == (50.0, 4000.0)  # Donate-a-Cry is 8 kHz: nothing above 4 kHz exists in training


def test_log_mel_shape_and_floor():
    cfg = FeatureConfig()
    m = log_mel(synth.cry_sweep(7.0, cfg.sample_rate), cfg)
    assert m.shape == (cfg.n_mels, cfg.n_frames) and m.dtype == np.float32
    silent = log_mel(synth.silence(7.0, cfg.sample_rate), cfg)
    assert np.isfinite(silent).all() and silent.max() == -cfg.top_db


def test_log_mel_puts_energy_in_the_right_band():
    cfg = FeatureConfig()
    import librosa

    centers = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
    for f in (300.0, 2000.0):
        m = log_mel(synth.sine(2.0, cfg.sample_rate, freq=f), cfg)
        peak = centers[m.mean(axis=1).argmax()]
        assert abs(peak - f) / f < 0.1


def test_louder_is_higher():
    cfg = FeatureConfig()
    quiet = log_mel(synth.sine(1.0, cfg.sample_rate, level=0.01), cfg).max()
    loud = log_mel(synth.sine(1.0, cfg.sample_rate, level=0.5), cfg).max()
    assert loud - quiet == pytest.approx(20 * np.log10(50), abs=0.5)


def test_windows_short_and_long():
    cfg = FeatureConfig(clip_seconds=2.0)
    short = windows(np.ones(100, np.float32), cfg)
    assert len(short) == 1 and len(short[0][1]) == cfg.clip_samples
    y = np.arange(cfg.sample_rate * 7, dtype=np.float32)
    w = windows(y, cfg)
    starts = [s for s, _ in w]
    assert starts[0] == 0 and all(len(x) == cfg.clip_samples for _, x in w)
    assert np.allclose(np.diff(starts)[:-1], 1.0)  # half-overlapping windows of 2 s
    assert w[-1][1][-1] == y[-1]  # the last window reaches the end
    assert len(fix_length(y, 10)) == 10 and len(fix_length(y[:5], 10)) == 10


@pytest.mark.parametrize("length", [1, 99, 100, 114, 116, 150, 151, 249, 250, 251, 1000])
def test_one_windowing_rule(length):
    """window_starts is the grid every windowing uses: in-range, hop apart, covering the end (with tail)."""
    n, hop = 100, 50
    starts = window_starts(length, n, hop)
    if length <= 114:
        assert starts == [0]
    else:
        assert starts[0] == 0 and all(s + n <= length for s in starts)
        assert all(d == hop for d in np.diff(starts)[:-1]) and 0 < np.diff(starts)[-1] <= hop
        assert starts[-1] + n == length  # the tail window reaches the end
    grid = window_starts(length, n, hop, slack=1.0, tail=False)  # the detector's training windows
    assert grid == ([0] if length <= n else list(range(0, length - n + 1, hop)))
    cfg = FeatureConfig(clip_seconds=n / 8000, sample_rate=8000)
    assert [round(s * 8000) for s, _ in windows(np.ones(length, np.float32), cfg)] == \
        window_starts(length, cfg.clip_samples, cfg.window_hop_samples)


def test_feature_cache_hits_disk(wav_file, monkeypatch, tmp_path):
    from babycry_core.audio import decode as audio

    monkeypatch.setenv("BABYCRY_CACHE", str(tmp_path / "cache"))
    cfg = FeatureConfig(clip_seconds=2.0)
    a = clip_features(wav_file, cfg)
    files = list((tmp_path / "cache" / "features").glob("*.npy"))
    assert len(files) == 1
    calls = []
    monkeypatch.setattr(audio, "load", lambda *x, **k: calls.append(1))
    b = clip_features(wav_file, cfg)  # second run: no decode
    assert not calls and np.array_equal(a, b)


@pytest.mark.parametrize("normalize", [False, True])
def test_batched_log_mel_is_log_mel_of_each_window(normalize):
    """The episode engine's batched front end gives exactly the numbers of log_mel on each window alone."""
    cfg = FeatureConfig(clip_seconds=2.0, hop_seconds=0.5, normalize=normalize, hop_length=256)
    y = np.concatenate([synth.white_noise(3.0, 8000, level=0.01, seed=1), synth.cry_sweep(4.0, 8000)])
    W = np.stack([w for _, w in windows(y, cfg)])  # (windows, samples)
    batched = log_mel_batch(W, cfg)  # (windows, n_mels, frames)
    assert batched.shape == (len(W), cfg.n_mels, cfg.n_frames)
    single = np.stack([log_mel(w, cfg) for w in W])
    assert np.abs(batched - single).max() <= 1e-6
    assert not np.allclose(batched[0], batched[-1])  # noise and cry windows differ: the comparison has content


@pytest.mark.parametrize("cfg", [FeatureConfig(), FeatureConfig(clip_seconds=2.0, hop_length=256, normalize=True),
                                 FeatureConfig(sample_rate=16000, n_mels=40, fmin=0.0, fmax=8000.0)])
def test_mel_filterbank_is_librosas_without_importing_it(cfg):
    """Our filterbank (so a plain predict never imports librosa and numba) is librosa.filters.mel's, exactly."""
    import librosa

    from babycry_core.features.logmel import _mel_basis, mel_frequencies

    lo, hi = cfg.band_hz
    ref = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=lo, fmax=hi)
    # two implementations: equal within float rounding, not bit for bit on every machine
    np.testing.assert_allclose(_mel_basis(cfg), ref.astype(np.float32), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(mel_frequencies(cfg.n_mels + 2, lo, hi),
                               librosa.mel_frequencies(cfg.n_mels + 2, fmin=lo, fmax=hi), rtol=1e-9)

"""Waveform augmentation of the detector's training part: each step does what it says, on generated audio."""
import numpy as np
import pytest

from babycry_core.augment import waveform as A
from babycry_core.audio import synth
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import log_mel

SR = 8000


def test_gain_sets_the_level_and_quantises_to_16_bits():
    y = synth.cry_sweep(2.0, SR)
    for level in (-50.0, -20.0):
        z = A.gain(y, level)
        assert abs(A.rms_dbfs(z) - level) < 0.5
        assert np.allclose(z * 32767, np.round(z * 32767), atol=1e-3)  # on the 16-bit grid
    loud = A.gain(y, -1.0)  # would clip: peak-limited instead
    assert np.abs(loud).max() <= 1.0 and A.rms_dbfs(loud) < -1.0


@pytest.mark.parametrize("kind", A.CODECS)
def test_codec_round_trip_keeps_length_and_changes_the_signal(kind):
    y = synth.cry_sweep(2.0, SR, level=0.3)
    z = A.codec(y, SR, kind)
    assert z.shape == y.shape and np.isfinite(z).all()
    assert 0 < np.abs(z - y).mean()  # a lossy codec leaves its mark
    assert abs(A.rms_dbfs(z) - A.rms_dbfs(y)) < 6  # ...but keeps the sound


def test_unknown_codec_is_refused():
    with pytest.raises(ValueError, match="unknown codec"):
        A.codec(np.zeros(800, np.float32), SR, "gsm")


def _f0(y):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / SR)[spec.argmax()]


def test_pitch_up_raises_pitch_by_the_semitones():
    y = synth.sine(1.0, SR, freq=200.0)
    z = A.pitch_up(y, SR, 12.0)
    assert len(z) == len(y)
    assert 380 < _f0(z[2000:6000]) < 420  # one octave up


def test_reverb_spreads_energy_in_time():
    y = np.zeros(SR, np.float32)
    y[100] = 1.0
    z = A.reverb(y, SR, 0.5, np.random.default_rng(0))
    tail = np.abs(z[100 + int(0.05 * SR):]).sum()
    assert tail > 0.5 * np.abs(z).max()


def test_mix_puts_the_interferer_at_the_snr():
    rng = np.random.default_rng(0)
    y = synth.sine(2.0, SR, 500.0, level=0.5)
    n = synth.white_noise(0.7, SR, level=0.1, seed=1)
    z = A.mix(y, n, 10.0, rng)
    resid = z - y
    snr = 10 * np.log10(np.mean(y**2) / np.mean(resid**2))
    assert abs(snr - 10.0) < 0.5


def test_random_chain_never_mixes_speech_under_speech():
    rng = np.random.default_rng(0)
    pools = {"speech": [synth.sine(1.0, SR, 150.0)], "noise": []}
    for _ in range(30):
        _, steps = A.random_chain(synth.sine(1.0, SR, 300.0), SR, rng, pools, label="speech")
        assert not any(s.startswith("mix speech") for s in steps)


def test_normalised_log_mel_ignores_the_level():
    cfg = FeatureConfig(clip_seconds=2.0, normalize=True)
    y = synth.cry_sweep(2.0, SR, level=0.5)
    loud, quiet = log_mel(y, cfg), log_mel(A.gain(y, -45.0), cfg)
    assert loud.max() == 0 and quiet.max() == 0
    assert np.abs(loud - quiet)[loud > -40].mean() < 1.0  # the shape above the floor is the same


def test_feature_config_keys_of_older_runs_stay_the_same():
    d = FeatureConfig().to_dict()
    assert "normalize" not in d and "hop_seconds" not in d  # older run folders and cache keys unchanged
    assert FeatureConfig.from_dict(FeatureConfig(normalize=True, hop_seconds=0.5).to_dict()).normalize


@pytest.mark.parametrize("kind", __import__("babycry_core.augment.household", fromlist=["KINDS"]).KINDS)
def test_household_sounds_are_finite_and_never_digital_zero(kind):
    from babycry_core.augment import household

    y = household.sound(kind, 2.0, SR, np.random.default_rng(0))
    assert y.shape == (2 * SR,) and np.isfinite(y).all()
    assert -21 < 20 * np.log10(np.abs(y).max()) < 0
    assert np.abs(y).min() > 0 or np.count_nonzero(y == 0) < 10  # a room floor under every sound


def _voiced_runs(y: np.ndarray, sr: int) -> list[float]:
    """Lengths (s) of the runs of 10 ms frames within 25 dB of the loudest frame."""
    hop = sr // 100
    lv = 20 * np.log10(np.sqrt(np.mean(y[: len(y) // hop * hop].reshape(-1, hop) ** 2, axis=1)) + 1e-12)
    on = np.concatenate([[False], lv > lv.max() - 25, [False]])
    edges = np.flatnonzero(np.diff(on.astype(int)))
    return list((edges[1::2] - edges[::2]) / 100)


def test_generated_laughs_are_bouts_of_short_calls():
    from babycry_core.augment import laughter

    for y in laughter.sounds(3, 5.0, SR, seed=0):
        runs = _voiced_runs(y, SR)
        assert y.shape == (5 * SR,) and np.isfinite(y).all() and len(runs) >= 5
        assert max(runs) <= laughter.CALL_S[1] + 0.03  # no call held as long as a cry holds one


def test_laughs_cut_from_a_voice_keep_its_sound_and_take_a_laughs_rhythm():
    from babycry_core.augment import laughter

    t = np.arange(3 * SR) / SR
    voice = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # one long held "cry" at 440 Hz
    y = laughter.voiced_sounds([voice], 2, 5.0, SR, seed=1)[1]
    runs = _voiced_runs(y, SR)
    assert len(runs) >= 5 and max(runs) <= laughter.CALL_S[1] + 0.03
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SR / len(y) - 440) < 5  # the voice's pitch, not a synthetic one

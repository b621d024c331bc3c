"""Crying episodes: the hysteresis rule on made-up probability sequences, the live tracker against the whole-
recording function, and the audio engine (chunk sizes change nothing; the detector's own window probabilities)."""
import numpy as np
import pytest

from babycry_core import paths
from babycry_core.audio import synth
from babycry_core.detection.episodes import EpisodeEngine, EpisodeRule, EpisodeTracker, find_episodes
from babycry_core.detection.whole_recording import episodes_of

RULE = EpisodeRule(0.5)  # 3 s of crying within 5 s, off after 5 s; windows of 2 s every 0.5 s
HOP = 0.5


def seq(*parts):
    """[(n_windows, p), ...] → (window starts, p)."""
    p = np.concatenate([np.full(n, v, float) for n, v in parts])
    return np.arange(len(p)) * HOP, p


def track(starts, p, rule=RULE):
    tr = EpisodeTracker(rule)
    alerts = [a for s, q in zip(starts, p) for a in tr.feed(float(s), float(q))]
    alerts += [a for a in [tr.close()] if a]
    return tr.episodes, alerts


def test_rule_needs_six_crying_windows():
    assert RULE.need == 6
    assert EpisodeRule(0.5, on_seconds=1.0).need == 2


def test_one_spell_with_breaths_is_one_alert():
    # 40 quiet windows, then 60 s of crying with a 1.5 s breath every 5 s, then quiet
    cry = []
    for _ in range(12):
        cry += [(7, 0.9), (3, 0.2)]
    starts, p = seq((40, 0.02), *cry, (40, 0.02))  # quiet: below the onset threshold (0.05)
    eps, alerts = track(starts, p)
    assert [a.kind for a in alerts] == ["on", "off"]
    assert len(eps) == 1
    e = eps[0]
    assert e.start == pytest.approx(40 * HOP + 1.0)  # the first crying window's middle
    assert e.peak == pytest.approx(0.9)
    assert e.alert_at == pytest.approx(45 * HOP + 2.0)  # the 6th crying window, when it has been heard
    last_cry = 40 + 12 * 10 - 3 - 1
    assert e.end == pytest.approx(last_cry * HOP + 1.0)
    assert alerts[1].time >= e.end + RULE.off_seconds


@pytest.mark.parametrize("n", [1, 3, 5])
def test_short_blips_raise_no_alert(n):
    starts, p = seq((20, 0.0), (n, 0.99), (20, 0.0), (n, 0.99), (20, 0.0))
    eps, alerts = track(starts, p)
    assert eps == [] and alerts == []
    assert find_episodes(starts, p, RULE) == []


def test_six_windows_are_enough():
    starts, p = seq((20, 0.0), (6, 0.7), (20, 0.0))
    eps, _ = track(starts, p)
    assert len(eps) == 1 and eps[0].end - eps[0].start == pytest.approx(5 * HOP)


def test_onset_moves_back_over_the_quieter_start_of_a_cry():
    """Windows at >= a tenth of the threshold just before the first sure one date the onset (at most 6 s back);
    one window below that stops it. The live tracker dates it the same."""
    assert RULE.onset_threshold == pytest.approx(0.05)
    starts, p = seq((20, 0.02), (4, 0.2), (8, 0.9), (20, 0.0))
    for eps in (find_episodes(starts, p, RULE), track(starts, p)[0]):
        assert len(eps) == 1 and eps[0].start == pytest.approx(20 * HOP + 1.0)  # 4 windows (2 s) earlier
        assert eps[0].alert_at == pytest.approx(29 * HOP + 2.0) and eps[0].peak == pytest.approx(0.9)  # unchanged
    starts, p = seq((20, 0.02), (4, 0.2), (1, 0.04), (3, 0.3), (8, 0.9), (20, 0.0))
    assert find_episodes(starts, p, RULE)[0].start == pytest.approx(25 * HOP + 1.0)
    starts, p = seq((5, 0.02), (30, 0.3), (8, 0.9), (20, 0.0))  # 15 s of doubt: only 6 s of it
    for eps in (find_episodes(starts, p, RULE), track(starts, p)[0]):
        assert eps[0].start == pytest.approx(35 * HOP + 1.0 - 6.0)
    from dataclasses import replace

    assert find_episodes(starts, p, replace(RULE, onset_fraction=1.0))[0].start == pytest.approx(35 * HOP + 1.0)


def test_a_long_pause_splits_spells_a_short_one_does_not():
    gap_off = int(RULE.off_seconds / HOP)  # 10 windows = 5 s: the spell is over
    starts, p = seq((10, 0.0), (12, 0.9), (gap_off, 0.1), (12, 0.9), (10, 0.0))
    assert len(track(starts, p)[0]) == 2
    starts, p = seq((10, 0.0), (12, 0.9), (gap_off - 2, 0.1), (12, 0.9), (10, 0.0))
    assert len(track(starts, p)[0]) == 1


def test_threshold_is_inclusive():
    starts, p = seq((10, 0.0), (8, 0.5), (10, 0.0))
    assert len(track(starts, p)[0]) == 1
    assert track(starts, p * 0.999)[0] == []


@pytest.mark.parametrize("rule", [RULE, EpisodeRule(0.4, on_seconds=1.5, window_seconds=8, off_seconds=2.0),
                                  EpisodeRule(0.6, on_seconds=0.5, window_seconds=1.0, off_seconds=0.5)])
def test_live_tracker_and_whole_recording_agree(rule):
    rng = np.random.default_rng(0)
    for trial in range(40):
        # bursty sequences: runs of crying and not, of random lengths and levels
        p = []
        while len(p) < 600:
            p += list(rng.uniform(*(0.3, 1.0) if rng.random() < 0.4 else (0.0, 0.7), size=rng.integers(1, 25)))
        starts = np.arange(len(p)) * HOP
        if trial % 3 == 0:  # an end-aligned last window, as features.windows cuts it
            starts[-1] -= 0.3
        live, _ = track(starts, p, rule)
        whole = find_episodes(starts, p, rule)
        a = np.array([(e.start, e.end, e.peak, e.alert_at) for e in live]).reshape(-1, 4)
        b = np.array([(e.start, e.end, e.peak, e.alert_at) for e in whole]).reshape(-1, 4)
        assert a.shape == b.shape and np.allclose(a, b), trial
        assert len(a) > 0 or rule.need > 5


def test_episodes_never_overlap_and_order_holds():
    rng = np.random.default_rng(1)
    p = (rng.random(2000) < 0.5).astype(float)
    eps = find_episodes(np.arange(2000) * HOP, p, RULE)
    for a, b in zip(eps, eps[1:]):
        assert a.end + RULE.off_seconds <= b.start + 1e-9
    assert all(e.start <= e.end and e.start < e.alert_at for e in eps)


# ---------------------------------------------------------------- with the shipped detector

@pytest.fixture(scope="module")
def shipped():
    from babycry_core.runs import run_registry as runs
    from babycry_core.inference.two_step import TwoStepPredictor
    from babycry_core.runs.checkpoint import load
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.inference.predictor import Predictor

    root = paths.ROOT / "checkpoints"
    pair = runs.fileio.read_json(root / "default.json")
    return TwoStepPredictor(CryDetector(load(root / pair["detector"])), Predictor(load(root / pair["reason"])))


def night(seconds_before=20.0, cry=12.0, after=23.3):
    return np.concatenate([synth.white_noise(seconds_before, 8000, level=0.01, seed=1), synth.cry_sweep(cry, 8000),
                           synth.white_noise(after, 8000, level=0.01, seed=2)]).astype(np.float32)


def test_engine_windows_are_the_detectors_and_chunks_change_nothing(shipped):
    det = shipped.detector
    y = night()
    s0, P = det.window_proba(y)
    whole = episodes_of(y, shipped)
    assert np.allclose(whole.starts, s0) and np.allclose(whole.p, P[:, det.cry_index], atol=1e-4)
    assert len(whole.episodes) == 1
    e = whole.episodes[0]
    assert 18.0 <= e.start <= 21.0 and 31.0 <= e.end <= 34.0
    assert e.reason is not None and set(e.reason["probabilities"]) == set(shipped.labels)
    rng = np.random.default_rng(0)
    for batch in (1, 7):
        eng = EpisodeEngine(shipped, batch_windows=batch, max_reason_seconds=5.0)
        i = 0
        while i < len(y):
            n = int(rng.integers(1, 9000))
            eng.feed(y[i:i + n])
            i += n
        eng.finish()
        st, p = eng.series()
        assert np.allclose(st, s0) and np.allclose(p, whole.p, atol=1e-5)
        assert [(x.start, x.end) for x in eng.episodes] == [(e.start, e.end)]
        assert eng.episodes[0].reason["seconds_heard"] == pytest.approx(5.0)  # max_reason_seconds holds
    assert EpisodeEngine(shipped).finish() == []


def test_short_recording_is_one_window_and_silence_no_model(shipped):
    r = episodes_of(synth.cry_sweep(1.0, 8000).astype(np.float32), shipped)
    assert list(r.starts) == [0.0] and r.episodes == []
    quiet = episodes_of(np.zeros(8000 * 30, np.float32), shipped)
    assert quiet.episodes == [] and np.all(quiet.p == 0.0)


def test_confirmation_delays_or_drops_the_alert_the_same_way_live_and_whole():
    """A verdict that says no until 20 s delays the first spell's alert (checked every recheck_seconds) and keeps
    its start; a spell it never confirms gives no episode. The tracker and find_episodes agree."""
    from dataclasses import replace

    rule = replace(RULE, confirm_threshold=0.5, recheck_seconds=2.0)
    starts, p = seq((10, 0.1), (40, 0.9), (40, 0.1), (20, 0.9), (20, 0.1))  # spells at 5-25 s and 45-55 s
    asked = []

    def confirm(heard, since):
        asked.append((heard, since))
        return 20.0 <= heard < 40.0

    whole = find_episodes(starts, p, rule, confirm=confirm)
    asked_whole, asked[:] = list(asked), []
    tr = EpisodeTracker(rule, confirm)
    for s, q in zip(starts, p):
        tr.feed(float(s), float(q))
    tr.close()
    assert [e.to_dict() for e in tr.episodes] == [e.to_dict() for e in whole]
    assert asked == asked_whole
    assert len(whole) == 1
    plain = find_episodes(starts, p, RULE)[0]
    assert whole[0].start == pytest.approx(plain.start)  # the windows date the start ...
    assert whole[0].alert_at >= 20.0 > plain.alert_at  # ... the verdict delays the alert
    assert np.all(np.diff([h for h, _ in asked_whole[:-1]]) >= 2.0 - 1e-9)  # rechecks at most every recheck_seconds
    assert {s for h, s in asked_whole if h < 30} == {5.0}  # about the spell, from its first crying window


def test_rule_without_threshold_never_asks():
    called = []
    starts, p = seq((10, 0.1), (40, 0.9), (10, 0.1))
    eps = find_episodes(starts, p, RULE, confirm=lambda h, since: called.append(h) or False)
    assert len(eps) == 1 and called == []

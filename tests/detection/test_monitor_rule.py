"""The monitor's alert rule (detection/monitor_rule.py): the verdict confirms alerts; the threshold is picked on
nights by the stated rule; the engine asks the verdict about the audio it just heard."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from babycry_core.detection import monitor_rule as M
from babycry_core.detection.episodes import EpisodeEngine, EpisodeRule

HOP = 0.5


@pytest.fixture(scope="module")
def shipped_detector():
    from babycry_core import fileio, paths
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.runs.checkpoint import load

    root = paths.ROOT / "checkpoints"
    return CryDetector(load(root / fileio.read_json(root / "default.json")["detector"]))


def _night(name, kind, spells, seconds=600.0, events=()):
    """Window probabilities with crying spells [(start s, end s)]: 0.9 inside, 0.01 outside."""
    starts = np.arange(0, seconds - 2, HOP)
    p = np.full(len(starts), 0.01)
    for a, b in spells:
        p[(starts + 1 >= a) & (starts + 1 <= b)] = 0.9
    return {"name": name, "background": "baby_laughter", "kind": kind, "seconds": seconds, "starts": starts, "p": p,
            "events": [{"onset": a, "offset": b} for a, b in events]}


def test_confirmation_removes_laughing_spells_and_keeps_cries():
    """The verdict says P(cry) 0.8 inside true cries and 0.3 in laughter: a threshold between keeps every cry and
    drops every false alert; without one, each laughing spell is an alert."""
    cries = [(60.0, 80.0), (200.0, 230.0), (400.0, 415.0)]
    laughs = [(100.0, 130.0), (300.0, 340.0)]
    nights = [_night("c", "cry", cries, events=cries), _night("l", "only", laughs)]
    for n in nights:
        n["p_at"] = lambda h, since, ev=cries if n["kind"] == "cry" else (): \
            0.8 if any(a - 2 <= since and h <= b + 1 for a, b in ev) else 0.3
    rule = EpisodeRule(0.5)
    plain, gated = M.night_scores(nights, rule, None), M.night_scores(nights, rule, 0.5)
    assert plain["false_alerts_per_hour"]["baby_laughter"] == pytest.approx(2 / (600 / 3600))
    assert gated["false_alerts_per_hour"]["baby_laughter"] == 0.0
    assert gated["event_f1"] == pytest.approx(plain["event_f1"]) and gated["event_f1"] > 0.9
    assert M.night_scores(nights, rule, 0.9)["event_f1"] == 0.0  # too strict: no cry is confirmed


def test_pick_keeps_the_best_f1_within_the_targets_else_the_fewest_false_alerts():
    def row(f1, fa, d=4.0, other=0.0):
        return {"event_f1": f1, "worst_false_alerts_per_hour": fa, "median_delay_s": d,
                "false_alerts_per_hour": {"laughing": fa, "speech": other}}

    assert M.pick({"none": row(0.9, 30.0), "0.3": row(0.8, 0.5), "0.5": row(0.7, 0.0), "0.7": row(0.95, 0.0, 12.0)}) == "0.3"
    # none meets the targets: the fewest false alerts among those that keep the windows' F1 (within F1_GIVE)
    assert M.pick({"none": row(0.9, 30.0), "0.3": row(0.89, 12.0), "0.5": row(0.7, 6.0)}) == "0.3"
    assert M.pick({"none": row(0.9, 30.0), "0.3": row(0.9, 12.0, other=20.0), "0.5": row(0.9, 14.0)}) == "0.5"


@dataclass
class _Judged:
    p_cry: float


class _StubVerdict:
    """Says crying once it has heard `after` s of the night; records what it was given."""

    def __init__(self, after):
        self.after, self.heard, self.info = after, [], {}

    def judge(self, y, sr):
        self.heard.append(len(y) / sr)
        return _Judged(0.9 if sum(1 for _ in self.heard) > self.after else 0.1)


def test_verdict_at_caches_each_moment():
    v = _StubVerdict(after=0)
    at = M.VerdictAt(v, np.zeros(8000 * 30, np.float32), 8000, seconds=8.0)
    assert at(20.0) == at(20.0) == 0.9 and len(v.heard) == 1
    assert at(4.0) == 0.9 and v.heard == [8.0, 4.0]  # the last 8 s, or what there is
    at(20.0, since=17.0)
    assert v.heard == [8.0, 4.0, 3.0]  # from the spell's start


def test_engine_asks_the_verdict_about_the_last_seconds_and_waits_for_it(shipped_detector):
    from babycry_core.audio import synth

    det = shipped_detector
    y = np.concatenate([synth.white_noise(20, 8000, level=0.01, seed=1), synth.cry_sweep(20, 8000),
                        synth.white_noise(15, 8000, level=0.01, seed=2)]).astype(np.float32)
    plain = EpisodeEngine(det, EpisodeRule.for_detector(det, confirm_threshold=None), reasons=False)
    plain.feed(y)
    plain.finish()
    assert len(plain.episodes) == 1
    saved = det.verdict
    try:
        det.verdict = _StubVerdict(after=2)  # no, no, then yes
        eng = EpisodeEngine(det, EpisodeRule.for_detector(det, confirm_threshold=0.5, confirm_seconds=6.0,
                                                          recheck_seconds=2.0), reasons=False)
        for i in range(0, len(y), 4000):
            eng.feed(y[i: i + 4000])
        eng.finish()
        heard = det.verdict.heard
    finally:
        det.verdict = saved
    assert len(heard) == 3 and 3.0 <= heard[0] < heard[1] <= heard[2] == 6.0  # the spell so far, at most 6 s of it
    [e] = eng.episodes
    assert e.start == pytest.approx(plain.episodes[0].start)  # the windows still date the start
    assert e.alert_at == pytest.approx(plain.episodes[0].alert_at + 4.0)  # two rechecks, 2 s apart
    assert [c[1] for c in eng.confirmations] == [0.1, 0.1, 0.9]

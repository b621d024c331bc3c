"""Temperature scaling and the abstention threshold: what "Not sure" rests on."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from babycry_core.eval import calibration
from babycry_core.audio import synth
from babycry_core.runs.checkpoint import LoadedModel
from babycry_core.features.config import FeatureConfig
from babycry_core.inference.predictor import Predictor, answer
from babycry_core.models.two_stage import usable_temperature

LABELS = ["hungry", "tired", "discomfort"]


def _overconfident(n: int, seed: int, scale: float = 10.0):
    """A ~75 %-accurate 3-class model with calibrated logits (scores ~ N(1.5, 1) for the true class, N(0, 1)
    otherwise: the exact posterior has logits 1.5 x score), multiplied by `scale` (x10: over-confident)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    scores = rng.normal(0, 1, (n, 3))
    scores[np.arange(n), y] += 1.5
    return scale * 1.5 * scores, y


def test_temperature_scaling_fixes_an_overconfident_model():
    logits, y = _overconfident(400, seed=0)
    cal = calibration.fit(logits, y)
    assert 7 < cal["temperature"] < 14  # the x10 is undone
    assert cal["val_nll_after"] < 0.5 * cal["val_nll_before"]
    assert calibration.nll(logits, y, cal["temperature"]) == pytest.approx(cal["val_nll_after"])
    # it carries over to fresh clips of the same model, and the accuracy is untouched
    lt, yt = _overconfident(400, seed=1)
    rep = calibration.report(lt, yt, cal)
    assert rep["nll_after"] < rep["nll_before"] and rep["ece_after"] < rep["ece_before"]
    assert (calibration.softmax(lt, cal["temperature"]).argmax(1) == lt.argmax(1)).all()


def test_a_well_calibrated_model_keeps_temperature_near_one():
    logits, y = _overconfident(2000, seed=2, scale=1.0)
    assert 0.7 < calibration.fit(logits, y)["temperature"] < 1.4


def _mixed_confidence(n: int, seed: int):
    """Half the clips confident and right, half nearly uniform and right only by chance."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(0, 0.1, (n, 3))
    sure = np.arange(n) < n // 2
    logits[sure, y[sure]] += 4.0
    return logits, y


def test_threshold_abstains_on_unsure_clips_with_the_top_two():
    logits, y = _mixed_confidence(300, seed=0)
    cal = calibration.fit(logits, y)
    t = cal["threshold"]
    proba = calibration.softmax(logits, cal["temperature"])
    assert 0 < t < proba[: 150].max(1).min()  # the confident half is answered
    answered = proba.max(1) >= t
    assert answered.mean() >= 0.5 and (proba.argmax(1) == y)[answered].mean() > (proba.argmax(1) == y).mean()

    probs = {"hungry": 0.45, "tired": 0.40, "discomfort": 0.15}
    status, msg = answer("hungry", 0.45, probs, threshold=0.6)
    assert status == "not_sure"
    assert msg == "Not sure: hunger cry 45%, tired cry 40%."
    status, msg = answer("hungry", 0.45, probs, threshold=0.3)
    assert status == "detected" and msg.startswith("Detected: Hunger cry")
    # a non-cry answer is never "not sure" about a reason
    assert answer("laugh", 0.4, {"laugh": 0.4, "hungry": 0.35, "noise": 0.25}, threshold=0.6)[0] == "no_cry"


class _FixedScorer:
    """A model object in the window_logits protocol that always gives the same logits."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype=np.float32)

    def window_logits(self, wins, cfg):
        return np.tile(self.logits, (len(wins), 1))


def test_predictor_says_not_sure_below_the_stored_threshold(tmp_path):
    cfg = FeatureConfig(clip_seconds=2.0)
    logits = np.log([0.5, 0.3, 0.2])
    loaded = LoadedModel(Path(tmp_path), _FixedScorer(logits), LABELS, cfg, {}, {"temperature": 1.0, "threshold": 0.7})
    pred = Predictor(loaded).predict_waveform(synth.cry_sweep(2.0, 8000), "clip")
    assert pred.status == "not_sure" and pred.label == "hungry"
    assert pred.message == "Not sure: hunger cry 50%, tired cry 30%."
    assert pred.confidence == pytest.approx(0.5, abs=1e-6)
    # the same clip with a lower threshold is answered
    loaded.calibration["threshold"] = 0.4
    assert Predictor(loaded).predict_waveform(synth.cry_sweep(2.0, 8000)).status == "detected"
    # the temperature is applied before the threshold: T = 3 flattens 0.5 to ~0.38
    loaded.calibration.update(temperature=3.0, threshold=0.45)
    pred = Predictor(loaded).predict_waveform(synth.cry_sweep(2.0, 8000))
    assert pred.status == "not_sure" and pred.confidence < 0.45


def test_a_perfectly_separated_validation_set_gives_no_usable_temperature():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    logits = rng.normal(0, 0.3, (60, 3))
    logits[np.arange(60), y] += 3.0  # every validation clip right
    raw = calibration.fit(logits, y)
    # NLL chases separability down to the search bound; calibration.fit refuses that and keeps T = 1
    assert raw["temperature"] == 1.0 and usable_temperature({"temperature": 0.05}) == 1.0
    overconf, yo = _overconfident(400, seed=3)
    t = calibration.fit(overconf, yo)["temperature"]
    assert usable_temperature({"temperature": t}) == t and usable_temperature({"temperature": 0.4}) == 0.4


def test_a_temperature_over_a_two_stage_vector_would_inflate_p_cry():
    """Why a two-stage run keeps T = 1 over its combined vector: flattening lifts the six small reason
    probabilities together, and their sum P(cry) overtakes a confident non-cry answer."""
    p = np.array([[0.9] + [0.1 / 6] * 6])  # laugh 0.9; P(cry) = 0.1 spread over six reasons
    flat = calibration.softmax(np.log(p), 2.0)
    assert flat[0, 1:].sum() > 0.4 > 0.1  # P(cry) from 0.1 to over 0.4
    assert calibration.softmax(np.log(p), 1.0)[0, 1:].sum() == pytest.approx(0.1)


def test_coverage_curve_sweeps_the_threshold():
    conf = [0.9, 0.8, 0.8, 0.5, 0.3]
    correct = [True, True, False, True, False]
    curve = calibration.coverage_curve(conf, correct)
    assert [p["threshold"] for p in curve] == [0.9, 0.8, 0.5, 0.3]  # one point per distinct confidence
    assert [p["answered"] for p in curve] == [1, 3, 4, 5]  # ties are answered together (confidence >= threshold)
    assert [p["coverage"] for p in curve] == pytest.approx([0.2, 0.6, 0.8, 1.0])
    assert [p["accuracy"] for p in curve] == pytest.approx([1.0, 2 / 3, 3 / 4, 3 / 5])
    assert curve[-1]["accuracy"] == pytest.approx(np.mean(correct))  # answering everything: plain accuracy
    # the same as calibration.report's coverage / selective accuracy at any stored threshold
    logits, y = _mixed_confidence(200, seed=1)
    proba = calibration.softmax(logits)
    rep = calibration.report(logits, y, {"temperature": 1.0, "threshold": 0.5})
    point = next(p for p in reversed(calibration.coverage_curve(proba.max(1), proba.argmax(1) == y))
                 if p["threshold"] >= 0.5)
    assert point["coverage"] == pytest.approx(rep["coverage"])
    assert point["accuracy"] == pytest.approx(rep["selective_accuracy"])
    assert calibration.coverage_curve([], []) == []
    with pytest.raises(ValueError):
        calibration.coverage_curve([0.5, 0.6], [True])

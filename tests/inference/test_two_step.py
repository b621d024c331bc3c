"""The two-step answer: is it a cry (detector), then why (reason model, named only above its validated threshold)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from babycry_core import fileio, paths
from babycry_core.audio import synth
from babycry_core.inference.reason_naming import naming_thresholds

DETECTOR_LABELS = ["cry", "laugh", "noise", "silence", "speech"]


def make_detector_run(root, cry_threshold: float, name: str = "det"):
    """An untrained cry_detector run whose threshold decides for it (0: always a cry, 1.01: never)."""
    from babycry_core.runs.weights import save_weights
    from babycry_core.models.detector_net import DETECTOR_FEATURES
    from babycry_core.models import build_model

    d = root / name
    d.mkdir(parents=True)
    save_weights(build_model("cry_detector", 5), d)
    fileio.write_json(d / "config.json", {"model": "cry_detector", "family": "torch", "role": "detector",
                                          "n_classes": 5, "dropout": 0.2, "corpus": "detect"})
    fileio.write_json(d / "labels.json", DETECTOR_LABELS)
    fileio.write_json(d / "feature_config.json", DETECTOR_FEATURES.to_dict())
    fileio.write_json(d / "calibration.json", {"temperature": 1.0, "cry_threshold": cry_threshold})
    fileio.write_json(d / "status.json", {"status": "finished"})
    return d


@pytest.fixture
def two_step(trained_run):
    """checkpoints/ with a reason run (tiny corpus) and an always-cry detector, both named in default.json."""
    root = paths.checkpoints_dir()
    det = make_detector_run(root, 0.0)
    fileio.write_json(root / "default.json", {"detector": det.name, "reason": trained_run.name})
    return det, trained_run


def _load():
    from babycry_core.inference import predictor as inference

    return inference.load_predictor()


def test_default_is_the_two_step_answer(two_step):
    from babycry_core.inference.two_step import TwoStepPredictor

    pred = _load()
    assert isinstance(pred, TwoStepPredictor)
    p = pred.predict(synth.to_wav_bytes(synth.cry_sweep(5.0)), name="cry.wav")
    assert p.cry["detected"] and p.heard == "cry" and p.cry["seconds"] > 0
    assert p.status in ("detected", "reason_unclear")
    assert set(p.reason) >= {"label", "probabilities", "prior", "named", "order"}
    assert abs(sum(p.reason["probabilities"].values()) - 1) < 1e-4
    assert len(p.cry["windows"]) >= 2  # a probability per 0.5 s window


def test_no_validated_threshold_means_reason_unclear(two_step):
    p = _load().predict(synth.to_wav_bytes(synth.cry_sweep(5.0)), name="cry.wav")  # no reason_naming.json
    assert p.reason["label"] is None and not p.reason["named"]
    assert p.status == "reason_unclear" and "Reason unclear from the sound" in p.message
    assert "Detected" not in p.message


def test_reason_is_named_only_above_its_threshold(two_step):
    det, reason = two_step
    labels = fileio.read_json(reason / "labels.json")
    y = synth.to_wav_bytes(synth.cry_sweep(5.0))
    top = max(_load().predict(y, name="c.wav").reason["probabilities"].items(), key=lambda kv: kv[1])
    for thr, named in ((top[1] - 1e-6, True), (min(1.0, top[1] + 1e-3), False)):
        naming = {"reasons": {c: {"threshold": thr if c == top[0] else None} for c in labels},
                  "prior": {c: 1 / len(labels) for c in labels}, "held_out": {"accuracy": 0.5}}
        fileio.write_json(reason / "reason_naming.json", naming)
        p = _load().predict(y, name="c.wav")
        assert p.reason["named"] is named and (p.reason["label"] == top[0]) is named
        assert (p.status == "detected") is named


def test_never_a_cry_says_what_it_heard(trained_run):
    root = paths.checkpoints_dir()
    det = make_detector_run(root, 1.01)
    fileio.write_json(root / "default.json", {"detector": det.name, "reason": trained_run.name})
    p = _load().predict(synth.to_wav_bytes(synth.white_noise(4.0)), name="n.wav")
    assert p.status == "no_cry" and p.reason is None and not p.cry["detected"]
    assert p.heard in ("laugh", "noise", "silence", "speech")
    assert p.message.startswith("No cry detected: it sounds like")


def test_digital_silence_is_a_silent_recording(two_step):
    p = _load().predict(synth.to_wav_bytes(synth.silence(3.0)), name="s.wav")
    assert p.status == "silence" and p.heard == "silence" and p.message.startswith("Silent recording")
    assert p.cry["probability"] == 0.0 and not p.cry["detected"]


def test_predict_json_contract(two_step, tmp_path):
    import soundfile as sf

    f = tmp_path / "cry.wav"
    sf.write(f, synth.cry_sweep(4.0), 8000)
    out = subprocess.run([sys.executable, "-m", "babycry_core", "predict", str(f), "--json"],
                         capture_output=True, text=True, cwd=paths.ROOT)
    assert out.returncode == 0, out.stderr
    (r,) = json.loads(out.stdout)
    assert {"file", "label", "confidence", "probabilities", "status", "message", "duration", "timeline"} <= set(r)
    assert {"probability", "detected", "seconds"} <= set(r["cry"])
    assert r["heard"] in ("cry", "speech", "laugh", "noise", "silence")
    assert {"label", "probabilities", "prior", "named"} <= set(r["reason"])


def test_naming_needs_precision_and_more_than_the_prior():
    labels = ["hungry", "tired"]
    prior = {"hungry": 0.84, "tired": 0.16}
    rng = np.random.default_rng(0)
    n = 200
    true = np.where(rng.random(n) < 0.84, "hungry", "tired")
    p_tired = np.where(true == "tired", rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.55, n))
    proba = np.c_[1 - p_tired, p_tired]
    out = naming_thresholds(proba, list(true), labels, prior)
    assert out["tired"]["threshold"] is not None and out["tired"]["precision"] >= 0.6
    # "hungry" is right 84 % of the time only because 84 % of cries are "hungry": never named
    flat = np.c_[np.full(n, 0.9), np.full(n, 0.1)]
    assert naming_thresholds(flat, list(true), labels, prior)["hungry"]["threshold"] is None


def test_a_detector_alone_answers_step_one_only():
    from babycry_core.inference import predictor as inference
    from babycry_core.inference.two_step import TwoStepPredictor

    det = make_detector_run(paths.checkpoints_dir(), 0.0)
    pred = inference.load_predictor(det)
    assert isinstance(pred, TwoStepPredictor) and pred.reason is None
    p = pred.predict(synth.to_wav_bytes(synth.cry_sweep(3.0)), name="c.wav")
    assert p.cry["detected"] and p.status == "reason_unclear" and p.reason["label"] is None
    assert "Detected" not in p.message


@pytest.mark.parametrize("p_cry,status", [(0.9, "detected"), (0.4, "unsure"), (0.05, "no_cry")])
def test_an_upload_verdict_gives_three_answers(two_step, monkeypatch, p_cry, status):
    """A detector with an upload verdict: its P(cry) against the two thresholds decides; a reason only for crying."""
    from babycry_core.inference.clip_verdict import ClipVerdict, Verdict
    from babycry_core.inference.cry_detector import CryDetector

    v = ClipVerdict(np.zeros(1), np.ones(1), np.zeros((3, 1)), np.zeros(3), cry_threshold=0.6, lo_threshold=0.2)
    answer = v.answer_of(p_cry)
    fake = Verdict(answer, {"cry": p_cry, "laugh": 1 - p_cry, "other": 0.0}, "laugh", (0.0, 5.0), (0.6, 0.2))
    monkeypatch.setattr(CryDetector, "judge", lambda self, y: fake)
    pred = _load().predict_waveform(synth.cry_sweep(5.0, 8000), "clip")
    got = "detected" if pred.status in ("detected", "reason_unclear") else pred.status
    assert got == status and pred.cry["answer"] == answer and pred.cry["probability"] == pytest.approx(p_cry)
    assert (pred.reason is not None) == (answer == "crying")
    if status != "detected":  # the verdict's distribution: P(cry), P(laugh), its "other" shared as the windows heard
        assert sum(pred.probabilities.values()) == pytest.approx(1.0) and pred.probabilities["cry"] == pytest.approx(p_cry)
        assert pred.confidence == pytest.approx(pred.probabilities[pred.heard])
    if status == "unsure":
        assert pred.message.startswith("Not sure: it may be laughing, babbling or fussing") and pred.heard == "laugh"
        from babycry_core.ui.answer_view import step1, step2

        assert step1(pred, _load())[0] == "warning" and step2(pred) is None

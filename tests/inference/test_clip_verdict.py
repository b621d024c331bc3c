"""The upload verdict (inference/clip_verdict.py, training/clip_verdict_fit.py): three answers over a whole recording."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from babycry_core.audio import synth
from babycry_core.inference.clip_verdict import (CLASSES, RIVALS, ClipVerdict, clip_features, contexts)
from babycry_core.training import clip_verdict_fit as fit
from tests.conftest import shared_or_skip

SR = 8000


def _verdict(n=6, hi=0.6, lo=0.2):
    rng = np.random.default_rng(0)
    return ClipVerdict(np.zeros(n), np.ones(n), rng.standard_normal((3, n)), np.zeros(3), hi, lo)


def test_contexts_cover_a_long_recording_and_keep_a_short_one_whole():
    assert contexts(14) == [slice(0, 14)]
    ctx = contexts(100)  # 48 s: 10 s contexts every 5 s, the last one flush with the end
    assert ctx[0] == slice(0, 21) and ctx[1].start == 10 and ctx[-1].stop == 100
    assert all(c.stop - c.start == 21 for c in ctx)


def test_features_have_a_fixed_size_and_weigh_crying_against_laughing():
    rng = np.random.default_rng(1)
    scores, emb = rng.uniform(0, 0.1, (9, 521)), rng.uniform(0, 1, (9, 1024))
    f = clip_features(scores, emb)
    assert f.shape == (3 * 1024 + 2 * len(RIVALS) + 3,)
    crying = scores.copy()
    crying[:, 20] = 0.9  # Baby cry beats every laughing score in every patch
    assert clip_features(crying, emb)[-3] == 1.0 and f[-3] < 1.0


def test_answers_follow_the_two_thresholds_and_probabilities_sum_to_one():
    v = _verdict()
    assert [v.answer_of(p) for p in (0.9, 0.6, 0.3, 0.2, 0.1)] == ["crying", "crying", "unsure", "unsure", "no_cry"]
    P = v.proba(np.random.default_rng(2).standard_normal((5, 6)))
    assert P.shape == (5, 3) and np.allclose(P.sum(1), 1.0)


def test_save_load_round_trip_and_a_damaged_head(tmp_path):
    v = _verdict()
    v.info = {"fit": {"C": 0.1}}
    v.save(tmp_path)
    w = ClipVerdict.load(tmp_path)
    assert w.classes == CLASSES and w.cry_threshold == pytest.approx(0.6) and w.info == {"fit": {"C": 0.1}}
    X = np.random.default_rng(3).standard_normal((4, 6))
    assert np.allclose(w.proba(X), v.proba(X), atol=1e-5)  # float32 on disk
    (tmp_path / "verdict.safetensors").write_bytes(b"0" * 64)
    with pytest.raises(ValueError, match="sha256"):
        ClipVerdict.load(tmp_path)


def test_threshold_rule_on_validation_cries():
    p = np.linspace(0.01, 1.0, 100)
    t = fit.thresholds(p)
    assert (p >= t["cry_threshold"]).mean() >= fit.CRY_RECALL and (p < t["lo_threshold"]).mean() <= 1 - fit.LO_RECALL
    assert t["lo_threshold"] <= t["cry_threshold"]
    assert fit.thresholds(np.array([]))["rule"].startswith("default")


def test_what_each_recording_is_learnt_as():
    assert fit.verdict_class("cry", "cry") == "cry"
    assert fit.verdict_class("laugh", "baby_laughter") == fit.verdict_class("laugh", "laughing") == "laugh"
    assert fit.verdict_class("noise", "same_app") == fit.verdict_class("speech", "speech_men") == "other"
    frame = pd.DataFrame({"kind": ["same_app", "same_app_uncertain", "cry"], "label": ["noise", "noise", "cry"]})
    assert fit.trainable(frame)["kind"].tolist() == ["same_app", "cry"]


@pytest.fixture()
def tflite(monkeypatch, tmp_path):
    f = str(shared_or_skip("yamnet", "yamnet.tflite"))
    monkeypatch.setenv("BABYCRY_YAMNET", f)
    monkeypatch.setenv("BABYCRY_CACHE", str(tmp_path / "cache"))
    return f


def _set(kind, n, seconds=4.0):
    if kind == "cry":
        return [synth.cry_sweep(seconds, SR, f_lo=380 + 15 * i, f_hi=560 + 15 * i) for i in range(n)]
    if kind == "laugh":  # short voiced bursts, about five a second
        out = []
        for i in range(n):
            y = synth.cry_sweep(seconds, SR, f_lo=300 + 10 * i, f_hi=420 + 10 * i)
            gate = (np.sin(2 * np.pi * 4.5 * np.arange(len(y)) / SR) > 0.3).astype(np.float32)
            out.append(y * gate)
        return out
    return [synth.white_noise(seconds, SR, level=0.05 + 0.02 * i, seed=i) for i in range(n)]


def test_fitted_on_generated_sounds_it_answers_them_and_a_long_recording(tflite):
    waves, rows = [], []
    for kind, label in (("cry", "cry"), ("laugh", "laugh"), ("noise", "noise")):
        w = _set(kind, 8)
        waves += w
        rows += [{"label": label, "kind": "baby_laughter" if kind == "laugh" else kind}] * len(w)
    frame = pd.DataFrame(rows)
    train = np.arange(len(waves)) % 4 != 0
    v = fit.fit_verdict([w for w, t in zip(waves, train) if t], frame[train].reset_index(drop=True),
                        [w for w, t in zip(waves, train) if not t], frame[~train].reset_index(drop=True))
    assert 0 < v.lo_threshold <= v.cry_threshold < 1 and v.info["fit"]["train_rows_per_class"]["laugh"] == 6
    cry = v.judge(synth.cry_sweep(5.0, SR, f_lo=420, f_hi=600), SR)
    noise = v.judge(synth.white_noise(5.0, SR, level=0.08, seed=42), SR)
    assert cry.answer == "crying" and noise.answer == "no_cry" and noise.heard == "other"
    quiet = v.judge(synth.cry_sweep(5.0, SR, f_lo=420, f_hi=600) * 0.01, SR)  # -40 dB: level-normalised first
    assert quiet.answer == "crying"
    long = np.concatenate([synth.white_noise(20.0, SR, level=0.08, seed=7), synth.cry_sweep(6.0, SR, f_lo=420, f_hi=600)])
    lv = v.judge(long, SR)  # 26 s: the context that holds the cry answers
    assert lv.context[1] > 20.0 and lv.p_cry > 10 * noise.p_cry

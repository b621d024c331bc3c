"""`bench cry`'s summary (false alarms per kind with their sources, the winner's lead over each anchor) and its
YAMNet candidates on real clips."""
from __future__ import annotations

import glob

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from babycry_core.bench.cry import format_report, summarise
from tests.conftest import shared_or_skip


def _fold(k, pred, p=None):
    return {"fold": k, "test": {"cry": pred, "p": p or [float(x) for x in pred]},
            "quiet": {"cry": [True], "p": [1.0]}, "uploads": {"files": [], "cry": [], "p": []}}


def test_false_alarms_per_kind_name_their_sources_and_the_winner_leads_each_anchor():
    labels = ["cry"] * 4 + ["speech", "speech", "noise", "noise"]
    kinds = ["cry"] * 4 + ["speech_children", "speech_women", "same_app", "same_app"]
    groups = ["b1", "b2", "b3", "b4", "s1", "s2", "u1", "u2"]
    frame = pd.DataFrame({"label": labels, "kind": kinds, "group": groups, "fold": 0})  # one fold of 8
    good = [True] * 4 + [False] * 4
    bad = [True, True, False, False, True, False, True, True]
    rep = summarise({"cry_detector": [_fold(0, good)], "svm_anchor": [_fold(0, bad)],
                     "yamnet_zero_shot": [_fold(0, bad)]}, frame)
    fk = rep["models"]["svm_anchor"]["false_alarms_by_kind"]
    assert fk["same_app"] == {"rate": 1.0, "n": 2, "sources": 2, "sources_with_a_false_alarm": 2}
    assert fk["speech_children"]["rate"] == 1.0 and fk["speech_women"]["rate"] == 0.0
    assert "cry" not in fk
    w = rep["winner"]
    assert w["model"] == "cry_detector" and set(w["lead_over"]) == {"svm_anchor", "yamnet_zero_shot"}
    assert w["lead_over"]["svm_anchor"]["point"] == pytest.approx(1.0 - 4 / 9)  # F1 of bad: 2 tp, 3 fp, 2 fn
    text = format_report(rep)
    assert "same_app (2 rec., 2 sources)" in text and "cry_detector minus yamnet_zero_shot" in text


def test_yamnet_candidates_call_a_held_out_cry_and_not_speech(monkeypatch, tmp_path):
    from babycry_core.bench.cry_yamnet import fold_head, fold_zero_shot

    shared_or_skip("yamnet", "yamnet.tflite")
    monkeypatch.setenv("BABYCRY_RESULTS", str(tmp_path))
    cries = sorted(glob.glob(str(shared_or_skip("donateacry", "hungry") / "*.wav")))[:7]
    speech = sorted(glob.glob(str(shared_or_skip("fsdd", "recordings") / "*_jackson_*.wav")))[:7]
    load = lambda fs: [sf.read(f, dtype="float32")[0] for f in fs]  # noqa: E731  (8 kHz WAVs)
    c, s = load(cries), load(speech)
    val, val_cry = c[:3] + s[:3], np.array([1, 1, 1, 0, 0, 0], bool)
    zero = fold_zero_shot(val, val_cry)
    head = fold_head(c[3:6] + s[3:6], np.array([1, 1, 1, 0, 0, 0], bool), val, val_cry)
    for decide in (zero, head):
        p_speech, called = decide(s[6])
        assert not called and 0 <= p_speech <= 1
    assert head(c[6])[1]

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


def test_errors_by_source_name_the_finer_source():
    import pandas as pd

    from babycry_core.bench.cry_sources import breakdown

    frame = pd.DataFrame([
        {"clip_id": "urbansound/dog_bark/1-0-0", "kind": "household_street", "source": "urbansound", "group": "fsID:1"},
        {"clip_id": "urbansound/dog_bark/2-0-0", "kind": "household_street", "source": "urbansound", "group": "fsID:2"},
        {"clip_id": "urbansound/siren/3-0-0", "kind": "household_street", "source": "urbansound", "group": "fsID:3"},
        {"clip_id": "speech-more/0001/a", "kind": "speech_women", "source": "speech-more", "group": "speaker:0001"},
        {"clip_id": "donateacry/x", "kind": "cry", "source": "donateacry", "group": "u1"},
        {"clip_id": "donateacry/y", "kind": "cry", "source": "donateacry", "group": "u2"}])
    called = np.array([True, False, False, False, True, False])
    out = breakdown(frame, called)
    assert out["household_street"] == {"urbansound: dog bark": {"n": 2, "errors": 1, "rate": 0.5}}  # siren: no error
    assert out["speech_women"] == {}
    assert out["cry"] == {"donateacry cries": {"n": 2, "errors": 1, "rate": 0.5}}  # for cries: the misses


def test_compare_names_the_best_candidate_against_each_anchor():
    from babycry_core.app.bench import candidate_names
    from babycry_core.ui.cry_plots import detector_minus_anchor_text

    rep = {"winner": {"model": "fusion", "lead_over": {
        "svm_anchor": {"point": -0.014, "ci": [-0.062, 0.040], "ahead_outside_interval": False},
        "yamnet_zero_shot": {"point": 0.05, "ci": [0.01, 0.09], "ahead_outside_interval": True}}}}
    a, b = detector_minus_anchor_text(rep, candidate_names()).split("  \n")
    assert "CNN + YAMNet fused" in a and "SVM anchor" in a and "-0.014 [-0.062, +0.040], not clear" in a
    assert "zero-shot anchor" in b and "ahead of the anchor outside the interval" in b

"""`bench episodes`: its event scoring (sed_eval onset collar, matches, delays), which engine meets the speed and
memory targets, and its speed rows for both engines on a short generated night (no timing is asserted)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from babycry_core import paths
from babycry_core.bench import episodes_bench as B
from babycry_core.detection.episodes import Episode
from babycry_core.augment.nights import matches
from tests.conftest import shared_or_skip

EVENTS = [{"onset": 30.0, "offset": 40.0}, {"onset": 100.0, "offset": 108.0}]


def night(found) -> dict:
    return {"name": "n0", "events": EVENTS, "found": found, "seconds": 200.0}


def test_event_f1_judges_onsets_within_a_1s_collar():
    found = [Episode(30.6, 39.0, 0.9), Episode(103.5, 108.0, 0.8), Episode(150.0, 160.0, 0.7)]  # hit, late, false
    f = B.event_f1([night(found)])
    assert f["precision"] == pytest.approx(1 / 3) and f["recall"] == pytest.approx(1 / 2)
    assert B.event_f1([night([Episode(29.2, 41.0, 0.9), Episode(100.9, 107.0, 0.9)])])["f1"] == pytest.approx(1.0)
    assert B.event_f1([night([])])["recall"] == 0.0


def test_matches_give_each_cry_its_delay_and_onset_error():
    rows = matches(EVENTS, [Episode(31.0, 39.0, 0.9, alert_at=33.5)])
    assert rows[0]["found"] and rows[0]["delay"] == pytest.approx(3.5) and rows[0]["onset_error"] == pytest.approx(1.0)
    assert not rows[1]["found"] and rows[1]["delay"] is None


def test_targets_take_the_better_engine_on_the_8h_night():
    rep = {"event_f1_onset": {"f1": 0.5}, "false_alerts_per_hour_speech": 0.5, "false_alerts_per_hour_noise": 2.0,
           "alert_delay_s": {"median": 2.5},
           "speed": {"8h": {"x_real_time": 700.0, "peak_rss_mb": 1300}, "8h_onnx": {"x_real_time": 650.0, "peak_rss_mb": 480},
                     "1h_threads2": {"x_real_time": 100.0, "peak_rss_mb": 100}}}
    met = B._met(rep)
    assert met == {"event_f1": False, "false_alerts_per_hour": False, "median_delay_s": True, "x_real_time": True,
                   "peak_mb_8h": True}
    rep["speed"]["8h_onnx"]["peak_rss_mb"] = 601
    assert not B._met(rep)["peak_mb_8h"]


@pytest.mark.slow  # 47 s: two engines over a generated night; the speed figures come from `bench episodes` itself
def test_speed_rows_for_both_engines(monkeypatch, tmp_path):
    """`detect` in fresh processes on a 72 s generated night, with torch and with onnxruntime (exported here): the
    same episodes, and the onnx process without torch's memory."""
    shared_or_skip("fsdd")
    if not (paths.ROOT / "data" / "detect" / "manifest.csv").is_file():
        pytest.skip("the detect corpus is not built here (`./run.sh setup` builds it)")
    monkeypatch.setenv("BABYCRY_DATA", str(paths.ROOT / "data"))  # read only: fold 0's held-out material
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(paths.ROOT / "checkpoints"))
    monkeypatch.setenv("BABYCRY_EXPORTS", str(tmp_path / "exports"))
    seen = []
    rows = B.speed([0.02], progress=False, on_night=lambda f, h, ev: seen.append((f.exists(), h, len(ev))))
    assert set(rows) == {"startup", "startup_onnx", "0.02h", "0.02h_onnx", "0.02h_threads2"}
    torch_row, onnx_row = rows["0.02h"], rows["0.02h_onnx"]
    assert torch_row["engine"] == "torch" and onnx_row["engine"] == "onnx"
    assert torch_row["duration_s"] == onnx_row["duration_s"] == pytest.approx(72.0)
    assert torch_row["episodes"] == onnx_row["episodes"] and 0 <= torch_row["cries_found"] <= torch_row["cries"] == 1
    assert onnx_row["peak_rss_mb"] < torch_row["peak_rss_mb"]
    assert seen == [(True, 0.02, 1)]
    assert not (Path(tempfile.gettempdir()) / "babycry_bench_night_0.02h.wav").exists()  # the audio is deleted
    assert np.isfinite(onnx_row["x_real_time"]) and onnx_row["x_real_time"] > 0


def test_onset_fraction_and_lift_are_chosen_on_the_other_folds():
    """Cries whose first 2 s score under the threshold but above a quarter of it: moving the onset back puts every
    onset inside the collar, and each fold's choice comes from the other fold alone."""
    from babycry_core.detection.episodes import EpisodeRule

    hop, nights = 0.5, []
    for k in (0, 1):
        p = np.full(400, 0.02)
        events = []
        for onset in (30.0, 90.0, 150.0):
            i = int((onset - 1.0) / hop)  # the window whose middle is the onset
            p[i: i + 4], p[i + 4: i + 30] = 0.3, 0.9
            events.append({"onset": onset, "offset": onset + 15.0})
        nights.append({"name": f"fold{k}", "fold": k, "events": events, "starts": np.arange(400) * hop, "p": p})
    rules = {0: EpisodeRule(0.5), 1: EpisodeRule(0.5)}
    out = B.rule_left_out(nights, rules)
    assert out["choices"] == {k: {"onset_fraction": 0.5, "lift": 0.0} for k in "01"}  # the first that reaches 0.3
    assert out["event_f1_onset"]["f1"] == pytest.approx(1.0)
    f1 = out["all_folds"]["f1"]
    assert f1["1/0"] == pytest.approx(0.0) and f1["0.5/0.25"] == pytest.approx(0.0)  # 0.3 < 0.5 x 0.625
    assert f1["0.25/0.25"] == pytest.approx(1.0)


def test_a_lift_is_chosen_where_backgrounds_blip_above_the_threshold():
    """Cries as above plus a 6 s background spell at P(cry) 0.6 in every night: only a lifted threshold (0.625)
    drops the spell, and only a low onset fraction then still dates the cries; the background-only nights' false
    alerts are counted under the chosen rule."""
    from babycry_core.detection.episodes import EpisodeRule

    hop, nights, only = 0.5, [], []
    for k in (0, 1):
        p = np.full(400, 0.02)
        events = []
        for onset in (30.0, 90.0, 150.0):
            i = int((onset - 1.0) / hop)
            p[i: i + 4], p[i + 4: i + 30] = 0.3, 0.9
            events.append({"onset": onset, "offset": onset + 15.0})
        p[360:372] = 0.6  # 16 s after the last cry: its own spell
        nights.append({"name": f"fold{k}", "fold": k, "events": events, "starts": np.arange(400) * hop, "p": p})
        q = np.full(400, 0.02)
        q[100:112] = 0.6
        only.append({"fold": k, "background": "noise", "seconds": 200.0, "starts": np.arange(400) * hop, "p": q})
    rules = {0: EpisodeRule(0.5), 1: EpisodeRule(0.5)}
    out = B.rule_left_out(nights, rules, only)
    assert out["choices"] == {k: {"onset_fraction": 0.25, "lift": 0.25} for k in "01"}
    assert out["event_f1_onset"]["f1"] == pytest.approx(1.0)
    assert out["false_alerts_per_hour"] == {"noise": 0.0}
    assert out["all_folds"]["f1"]["0.5/0"] == pytest.approx(6 / 7, abs=1e-4)  # 3 cries found, 1 false spell
    unlifted = B.rule_left_out(nights, rules, only, base={0: 0.5, 1: 0.5})
    assert unlifted == out  # base defaults to the rules' thresholds


# ---------------------------------------------------------------- nights by kind, the model evaluated

TONES = {"speech_men": 300.0, "speech_women": 700.0, "speech_children": 1100.0, "same_app": 1500.0,
         "household_street": 1900.0, "laughing": 2300.0, "cry": 2700.0, "baby_laughter": 3100.0,
         "belly_laugh": 3500.0, "same_app_uncertain": 3800.0}  # Hz: each kind its own tone


def _corpus(tmp_path, kinds: bool):
    """A small test frame of 1 s tones written as WAVs (absolute paths), two recordings per kind, and room tone."""
    import pandas as pd
    import soundfile as sf

    from babycry_core.augment.nights import KINDS, SR

    rows, rng = [], np.random.default_rng(0)
    t = np.arange(SR) / SR
    for kind, hz in [*TONES.items(), ("silence", None)]:
        for i in range(2):
            y = 0.01 * rng.standard_normal(SR) if hz is None else 0.3 * np.sin(2 * np.pi * hz * t)
            f = tmp_path / f"{kind}{i}.wav"
            sf.write(f, y.astype(np.float32), SR)
            label = "cry" if kind == "cry" else KINDS[kind][0] if kind in KINDS else "noise" if "same_app" in kind \
                else kind
            rows.append({"path": str(f), "label": label, "kind": kind, "group": f"{kind}-g{i}"})
    frame = pd.DataFrame(rows)
    return frame if kinds else frame[frame["kind"] != "same_app_uncertain"].drop(columns="kind")


def _power(y, hz) -> float:
    from babycry_core.augment.nights import SR

    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return float(spec[np.abs(f - hz) < 20].sum() / spec.sum())


def test_material_and_backgrounds_go_by_kind(tmp_path):
    from babycry_core.augment import nights as N

    mat = N.material(_corpus(tmp_path, kinds=True))
    assert set(mat) == {"cry", "room", *N.KINDS}  # same_app_uncertain is no one's background
    assert [g for g, _ in mat["speech_women"]] == ["speech_women-g0", "speech_women-g1"]
    assert len(mat["room"]) == 2 and all(len(y) == N.SR for _, y in mat["room"])
    kinds = N.backgrounds(mat)
    assert kinds == ["room", "speech_men", "speech_women", "speech_children", "same_app", "household_street",
                     "laughing", "baby_laughter", "belly_laugh", "silence"]
    rng = np.random.default_rng(1)
    for kind in kinds[1:-1]:  # each background plays its own kind's recordings, and no other's
        y = N.background(kind, 30, mat, rng)
        assert len(y) == 30 * N.SR and _power(y, TONES[kind]) > 0.3, kind
        assert all(_power(y, hz) < 0.01 for k, hz in TONES.items() if k != kind), kind
    assert N.style_of("same_app") == "speech" and N.style_of("household_street") == "noise"
    assert N.label_of("same_app") == "noise" and N.label_of("speech_children") == "speech"
    assert 10 <= min(N.minutes(kinds).values()) and sum(N.minutes(kinds).values()) <= 240  # at most 4 h a fold
    y, events = N.cry_night("same_app", 3, mat, rng)
    assert events and _power(y, TONES["cry"]) > 0.05


def test_material_without_kinds_goes_by_label(tmp_path):
    from babycry_core.augment import nights as N

    mat = N.material(_corpus(tmp_path, kinds=False))
    assert set(mat) == set(N.LABEL_OF)
    assert len(mat["speech"]) == 6 and len(mat["noise"]) == 4 and len(mat["laugh"]) == 6  # three laughing kinds
    assert N.backgrounds(mat) == list(N.LABEL_BACKGROUNDS)
    assert N.minutes(N.backgrounds(mat)) == N.LABEL_MINUTES


def test_false_alert_summaries_over_kinds():
    fa = {"room": {"per_hour": 0.0}, "speech_men": {"per_hour": 1.5}, "speech_children": {"per_hour": 3.0},
          "same_app": {"per_hour": 2.0}, "household_street": {"per_hour": 0.5}, "laughing": {"per_hour": 4.0}}
    assert B._worst(fa, "speech") == 3.0 and B._worst(fa, "noise") == 2.0 and B._worst(fa) == 4.0
    assert B._worst({"speech": {"per_hour": 0.7}}, "speech") == 0.7 and B._worst({}, "noise") is None


def test_report_table_lists_each_background():
    from babycry_core.bench.episodes_report import _table

    rep = {"false_alerts": {"room": {"per_hour": 0.0, "alerts": 0, "hours": 1.0},
                            "household_street": {"per_hour": 2.5, "alerts": 5, "hours": 2.0}},
           "event_f1_by_background": {"household_street": {"f1": 0.8}, "laughing": {"f1": 0.9}},
           "recall_by_background": {"household_street": 0.75}}
    rows = _table(rep)
    assert [r.split()[0] for r in rows[1:]] == ["room", "household_street", "laughing"]
    assert rows[2].split() == ["household_street", "2.50", "5", "2.0", "0.80", "0.75"]


def test_a_fold_run_is_finished_plain_or_fused(tmp_path):
    from babycry_core import fileio

    plain, fused, busy = tmp_path / "cry_detector", tmp_path / "fusion", tmp_path / "cascade"
    fileio.write_json(plain / "status.json", {"status": "finished"})
    fileio.write_json(fused / "fusion.json", {"mode": "fusion"})
    fileio.write_json(fused / "config.json", {})
    fileio.write_json(busy / "status.json", {"status": "running"})
    fileio.write_json(busy / "fusion.json", {"mode": "cascade"})
    assert B.finished(plain) and B.finished(fused) and not B.finished(busy) and not B.finished(tmp_path / "none")


def test_main_evaluates_the_first_named_model(monkeypatch):
    from types import SimpleNamespace

    seen = []
    monkeypatch.setattr(B, "run", lambda **kw: seen.append(kw) or {"model": kw["model"]})
    monkeypatch.setattr(B, "format_report", lambda rep: rep["model"])
    monkeypatch.setenv("BABYCRY_BENCH_HOURS", "1")
    a = SimpleNamespace(folds=2, seeds=1, out=None, models=["fusion", "cascade"])
    assert B.main(a) == 0 and seen[-1]["model"] == "fusion" and seen[-1]["folds"] == 2
    B.main(SimpleNamespace(folds=2, seeds=1, out=None, models=None))
    assert seen[-1]["model"] == "cry_detector"

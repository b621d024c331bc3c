"""Classify and Compare pages with the two-step answer (AppTest): a cry detector, then a reason model.

Each test gets its own checkpoints/: a tiny reason CNN (trained once for the module on the tiny corpus) and a
cry detector built here with random weights whose calibration.json sets the cry threshold: 0 (every recording
is a cry) or 1.01 (none is). checkpoints/default.json names both, so the page answers in two steps."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from babycry_core import fileio, paths
from babycry_core.audio import synth
from tests.conftest import train_template

HOME = str(paths.ROOT / "Home.py")
PAGE = "pages/1_Classify.py"
DETECTOR = "20990101-000000-cry_detector-0001"


@pytest.fixture(scope="module")
def reason_template(tiny_corpus, tmp_path_factory) -> Path:
    """A finished small-CNN reason run (hungry / tired / discomfort), trained once for the module."""
    return train_template(tiny_corpus, tmp_path_factory.mktemp("two_step_template"), epochs=1)


def make_detector(root: Path, threshold: float, name: str = DETECTOR) -> Path:
    """A cry_detector run with random weights; `threshold` decides every answer (0: a cry, 1.01: never)."""
    import torch

    from babycry_core.runs.weights import save_weights
    from babycry_core.models.detector_net import DETECTOR_FEATURES
    from babycry_core.models import build_model

    torch.manual_seed(0)
    d = root / name
    d.mkdir(parents=True)
    save_weights(build_model("cry_detector", 5, dropout=0.2), d)
    fileio.write_json(d / "config.json", {"model": "cry_detector", "family": "torch", "role": "detector",
                                          "n_classes": 5, "dropout": 0.2})
    fileio.write_json(d / "labels.json", ["cry", "laugh", "noise", "silence", "speech"])
    fileio.write_json(d / "feature_config.json", DETECTOR_FEATURES.to_dict())
    fileio.write_json(d / "calibration.json", {"temperature": 1, "cry_threshold": threshold})
    fileio.write_json(d / "status.json", {"status": "finished"})
    return d


def naming(reason: Path, threshold: float | None) -> None:
    """reason_naming.json: every reason named from P >= threshold, or (None) never named."""
    labels = json.loads((reason / "labels.json").read_text())
    prior = {"hungry": 0.8, "tired": 0.12, "discomfort": 0.08}
    fileio.write_json(reason / "reason_naming.json", {
        "reasons": {r: {"threshold": threshold, "precision": None if threshold is None else 0.7,
                        "named": 0 if threshold is None else 9, "prior": prior.get(r, 0.0)} for r in labels},
        "prior": {r: prior.get(r, 0.0) for r in labels},
        "held_out": {"n": 40, "groups": 12, "accuracy": 0.55, "baseline_accuracy": 0.8, "baseline": "hungry",
                     "balanced_accuracy": 0.34}})


@pytest.fixture
def two_step(reason_template):
    """(detector, reason) in this test's checkpoints/, default.json naming both; the detector says "cry"."""
    root = paths.checkpoints_dir()
    reason = root / reason_template.name
    shutil.copytree(reason_template, reason)
    det = make_detector(root, 0.0)
    fileio.write_json(root / "default.json", {"detector": det.name, "reason": reason.name})
    return det, reason


def ok(at) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def classify() -> AppTest:
    at = ok(AppTest.from_file(HOME, default_timeout=90).run())
    return ok(at.switch_page(PAGE).run())


def upload(at, name: str, content: bytes) -> AppTest:
    at.file_uploader[0].upload(name, content, "application/octet-stream")
    return ok(at.run())


def texts(at, *kinds: str) -> list[str]:
    return [str(e.value) for kind in kinds for e in getattr(at, kind)]


def alerts(at) -> list[str]:
    return texts(at, "success", "info", "warning", "error")


def subheaders(at) -> list[str]:
    return [h.value for h in at.subheader]


def specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def title(spec: dict) -> str:
    t = spec["layout"].get("title", {})
    return t.get("text", "") if isinstance(t, dict) else str(t)


def cry_upload() -> bytes:
    return synth.to_wav_bytes(synth.cry_sweep(4.0))


def test_cry_named_reason_shows_both_steps(two_step):
    det, reason = two_step
    naming(reason, 0.0)  # every top reason is named
    at = classify()
    assert at.selectbox[0].value == reason.name  # the default: the pair's reason run (with the default detector)
    assert any("Two-step answer" in c and det.name in c for c in texts(at, "caption"))
    at = upload(at, "cry.wav", cry_upload())
    assert "Step 1 · Is it a cry?" in subheaders(at) and "Step 2 · Why?" in subheaders(at)
    [step1] = [m for m in texts(at, "info") if m.startswith("Crying detected")]
    assert "cry probability " in step1 and "4.0 s of crying in 4.0 s" in step1, step1  # threshold 0: all of it
    [named] = texts(at, "success")
    assert named.startswith("Detected: ") and "cry" in named.lower()
    assert not any("Reason unclear" in m for m in alerts(at))

    charts = specs(at)
    timeline = next(s for s in charts if title(s).startswith("Is it a cry?"))
    line = next(t for t in timeline["data"] if t.get("mode") == "lines+markers")
    assert len(line["y"]) == 5 and all(0 <= p <= 1 for p in line["y"])  # 2 s windows every 0.5 s over 4 s
    assert any(s.get("type") == "line" and s["y0"] == 0.0 for s in timeline["layout"]["shapes"])  # threshold 0
    why = next(s for s in charts if title(s).startswith("Why?"))
    bars = {t["name"]: t for t in why["data"] if t["type"] == "bar"}
    assert set(bars) == {"prior (share among cries)", "this recording"}
    assert sorted(bars["prior (share among cries)"]["x"]) == [0.08, 0.12, 0.8]
    assert abs(sum(bars["this recording"]["x"]) - 1) < 1e-6
    assert any("right 55% of the time" in c and "80%" in c for c in texts(at, "caption"))  # held out vs baseline
    assert any("saliency" in str(s["data"]) for s in charts)  # the reason CNN's saliency map
    assert any(m.value.startswith("**") and "cry" in m.value.lower() for m in at.markdown)  # tips for the reason


def test_reason_unclear_never_says_detected(two_step):
    _, reason = two_step
    naming(reason, None)  # no threshold: nothing is ever named
    at = upload(classify(), "cry.wav", cry_upload())
    assert any(m.startswith("Crying detected") for m in texts(at, "info"))
    unclear = [m for m in texts(at, "warning") if m.startswith("Reason unclear from the sound")]
    assert len(unclear) == 1 and "hunger cry" in unclear[0]  # the highest prior first
    assert not any("Detected:" in m for m in alerts(at)) and not texts(at, "success")
    why = next(s for s in specs(at) if title(s).startswith("Why?"))
    mine = next(t for t in why["data"] if t["name"] == "this recording")
    assert "#d9577a" not in mine["marker"]["color"]  # no bar in the answer colour: nothing is named
    shown = [m.value for m in at.markdown]
    assert any("not clear from the sound" in m for m in shown)
    assert sum(m.startswith("**") and "\n- " in m for m in shown) == 2  # tips for the first two reasons


def test_without_reason_naming_nothing_is_named_and_the_prior_says_uniform(two_step):
    at = upload(classify(), "cry.wav", cry_upload())  # the reason run has no reason_naming.json
    assert any(m.startswith("Reason unclear from the sound") for m in texts(at, "warning")) and not texts(at, "success")
    why = next(s for s in specs(at) if title(s).startswith("Why?"))
    assert any(t["name"] == "prior (uniform: no reason_naming.json)" for t in why["data"])
    assert any("No held-out figures" in c for c in texts(at, "caption"))


def test_no_cry_detected_skips_step_two(two_step):
    det, _ = two_step
    cal = det / "calibration.json"
    fileio.write_json(cal, {"temperature": 1, "cry_threshold": 1.01})  # the detector never says cry
    at = upload(classify(), "cry.wav", cry_upload())
    [no] = [m for m in texts(at, "info") if m.startswith("No cry detected")]
    assert "it sounds like" in no and any(k in no for k in ("speech", "laughing", "noise", "a quiet room")), no
    assert "Step 2 · Why?" not in subheaders(at) and not texts(at, "success")
    assert not any(title(s).startswith("Why?") for s in specs(at))
    timeline = next(s for s in specs(at) if title(s).startswith("Is it a cry?"))
    assert any(s.get("type") == "line" and s["y0"] == 1.0 for s in timeline["layout"]["shapes"])  # clipped 1.01
    assert any("No cry was heard" in m.value for m in at.markdown)


def test_digital_silence_says_silent_recording(two_step):
    at = upload(classify(), "quiet.wav", synth.to_wav_bytes(synth.silence(3.0)))
    assert any(m.startswith("Silent recording") for m in texts(at, "info"))
    assert not any(m.startswith(("Crying detected", "No cry detected", "Detected:")) for m in alerts(at))
    assert len(at.get("plotly_chart")) == 2  # waveform + spectrogram only


def test_reason_run_alone_is_a_single_model(reason_template):
    """Without a detector the reason model answers alone: it cannot say "no cry", and the page says so."""
    shutil.copytree(reason_template, paths.checkpoints_dir() / reason_template.name)
    at = upload(classify(), "cry.wav", cry_upload())
    assert any("cannot tell a cry from other sounds" in c for c in texts(at, "caption"))
    assert not any(m.startswith("Crying detected") for m in alerts(at))
    assert any(m.startswith(("Detected:", "Not sure")) for m in alerts(at))


REPORT = {
    "models": {
        "cry_detector": {"f1": 0.91, "f1_ci": [0.88, 0.94], "recall": 0.95, "recall_ci": [0.92, 0.97],
                         "precision": 0.87, "precision_ci": [0.83, 0.9],
                         "false_alarms": {"speech": 0.02, "laugh": 0.1, "noise": 0.04, "silence": None},
                         "quiet_recall": 0.9, "quiet_levels_dbfs": [-35.0, -45.0], "uploads_called_cry": 20,
                         "uploads_scored": 22},
        "svm_anchor": {"f1": 0.8, "f1_ci": [0.75, 0.85], "recall": 0.85, "recall_ci": [0.8, 0.9],
                       "precision": 0.76, "precision_ci": [0.7, 0.8],
                       "false_alarms": {"speech": 0.12, "laugh": 0.2, "noise": 0.1, "silence": 0.0},
                       "quiet_recall": 0.5, "quiet_levels_dbfs": [-35.0, -45.0], "uploads_called_cry": 15,
                       "uploads_scored": 22}},
    "detector_minus_anchor_f1": {"point": 0.11, "ci": [0.05, 0.17], "ahead_outside_interval": True},
    "targets": {"f1": 0.97, "recall": 0.95, "false_alarm_speech": 0.03, "false_alarm_other": 0.05},
    "folds": 5, "n_recordings": 1200, "n_groups": 400, "date": "2026-12-01", "command": "python -m babycry_core bench cry",
}


def test_compare_shows_the_cry_benchmark(reason_template):
    shutil.copytree(reason_template, paths.checkpoints_dir() / reason_template.name)
    page = str(paths.ROOT / "pages" / "2_Compare.py")
    at = ok(AppTest.from_file(page, default_timeout=90).run())
    assert "Is it a cry?" in subheaders(at)
    assert any("python -m babycry_core bench cry" in m for m in texts(at, "info"))  # how to produce it

    fileio.write_json(paths.results_dir() / "cry_detection.json", REPORT)
    at = ok(AppTest.from_file(page, default_timeout=90).run())
    table = next(df.value for df in at.dataframe if "cry F1 [95 % CI]" in df.value.index)  # a column per model
    assert len(table.columns) == 2
    det = table.iloc[:, 0]
    assert "cry detector" in table.columns[0] and "SVM anchor" in table.columns[1]
    assert det["cry F1 [95 % CI]"] == "0.910 [0.880, 0.940]" and det["recall [95 % CI]"].startswith("0.950")
    assert det["false alarms · speech"] == "2.0%" and det["false alarms · silence"] == "—"
    assert det["quiet recall (-35 / -45 dBFS)"] == "90.0%" and det["phone uploads called a cry"] == "20 of 22"
    assert table.iloc[:, 1]["precision [95 % CI]"].startswith("0.760")
    fig = next(s for s in specs(at) if title(s).startswith("Is it a cry? Cry F1"))
    bar = fig["data"][0]
    assert bar["y"] == [0.91, 0.8]
    assert [round(x, 3) for x in bar["error_y"]["array"]] == [0.03, 0.05]
    assert [round(x, 3) for x in bar["error_y"]["arrayminus"]] == [0.03, 0.05]
    assert any("Detector minus SVM anchor" in m.value and "+0.110 [+0.050, +0.170]" in m.value
               and "ahead of the anchor" in m.value for m in at.markdown)
    assert not any("No cry-detection benchmark" in m for m in texts(at, "info"))


def test_home_marks_both_runs_of_the_default_pair(two_step):
    det, reason = two_step
    at = ok(AppTest.from_file(HOME, default_timeout=60).run())
    runs = list(at.dataframe[0].value["run"])
    assert f"{det.name}  ★ default, step 1: is it a cry?" in runs
    assert f"{reason.name}  ★ default, step 2: why?" in runs


def test_long_upload_shows_its_episodes_on_the_timeline(two_step):
    """A 40 s upload (threshold 0: every window cries) is one episode, shaded on the timeline and in a table; a
    short one gets no episode section."""
    naming(two_step[1], None)
    at = upload(classify(), "night.wav", synth.to_wav_bytes(synth.cry_sweep(40.0)))
    timeline = next(s for s in specs(at) if title(s).startswith("Is it a cry?"))
    bands = [s for s in timeline["layout"]["shapes"] if s.get("type") == "rect"]
    assert len(bands) == 1 and bands[0]["x0"] <= 1.5 and bands[0]["x1"] >= 38.0
    [table] = [df.value for df in at.dataframe if "peak P(cry)" in df.value.columns]
    assert list(table["start"]) == ["0:01"] and table["reason"][0].startswith("Reason unclear")
    assert any(m.value.startswith("**1 crying episode**") for m in at.markdown)
    at = upload(classify(), "cry.wav", cry_upload())
    assert not any("crying episode" in m.value for m in at.markdown)


def test_long_upload_without_crying_says_no_episode(two_step):
    det, reason = two_step
    (det / "calibration.json").write_text(json.dumps({"temperature": 1, "cry_threshold": 1.01}))
    at = upload(classify(), "room.wav", synth.to_wav_bytes(synth.white_noise(35.0, 16000, 0.05, seed=1), 16000))
    assert any(m.value.startswith("**No crying episode**") for m in at.markdown)
    assert not any("Crying in part of this recording" in w for w in texts(at, "warning"))
    timeline = next(s for s in specs(at) if title(s).startswith("Is it a cry?"))
    assert not [s for s in timeline["layout"]["shapes"] if s.get("type") == "rect"]


def test_short_cry_in_a_long_recording_is_said_beside_no_cry(two_step, monkeypatch):
    """The whole-recording answer says no cry, yet an episode was found: the page says so, with where it starts."""
    from babycry_core.detection.episodes import Episode, EpisodeRule
    from babycry_core.detection.whole_recording import Recording
    from babycry_core.ui import classify_view

    det, _ = two_step
    (det / "calibration.json").write_text(json.dumps({"temperature": 1, "cry_threshold": 1.01}))
    monkeypatch.setattr(classify_view, "long_recording_episodes", lambda y, predictor: Recording(
        "", 150.0, [Episode(72.0, 78.0, 0.98)], np.zeros(1), np.zeros(1), 0.5, rule=EpisodeRule(0.5)))
    at = upload(classify(), "night.wav", synth.to_wav_bytes(synth.white_noise(40.0, 16000, 0.05, seed=1), 16000))
    [w] = [w for w in texts(at, "warning") if "Crying in part of this recording" in w]
    assert "1 episode (6.0 s), the first at 1:12" in w and "2.5 min" in w

"""Classify page (AppTest): answers for good audio, one-line errors for bad input, corrupt runs named, no crash
without a checkpoint. One tiny run is trained per module and copied into each test's own checkpoints folder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from babycry_core import paths
from babycry_core.audio import synth
from tests.conftest import tiny_train_config, train_template

HOME = str(paths.ROOT / "Home.py")
PAGE = "pages/1_Classify.py"
ANSWERS = ("Detected:", "Not sure", "No cry")


@pytest.fixture(scope="module")
def run_template(tiny_corpus, tmp_path_factory) -> Path:
    """A finished small-CNN run (2 s windows) trained once for the module, in its own folders."""
    return train_template(tiny_corpus, tmp_path_factory.mktemp("classify_template"), epochs=2)


@pytest.fixture
def run_dir(run_template) -> Path:
    dest = paths.checkpoints_dir() / run_template.name
    shutil.copytree(run_template, dest)
    return dest


def corrupt_copy(run_dir: Path, name: str = "20990101-000000-cnn-dead") -> Path:
    bad = run_dir.parent / name
    shutil.copytree(run_dir, bad)
    (bad / "model.safetensors").write_bytes(b"\x00" * 10)  # truncated weights
    return bad


def classify() -> AppTest:
    """The Classify page as the app runs it: Home is the entry point, then switch to the page."""
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at.switch_page(PAGE).run()


def alerts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def answers(at) -> list[str]:
    return [m for kind in ("success", "info", "warning") for m in alerts(at, kind) if m.startswith(ANSWERS)]


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def ok(at) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at, name: str, content: bytes) -> AppTest:
    at.file_uploader[0].upload(name, content, "application/octet-stream")
    return ok(at.run())


def test_no_checkpoint_points_to_train():
    at = ok(classify())
    assert any("No trained model" in m for m in alerts(at, "info"))
    assert not at.file_uploader and not alerts(at, "error")


def test_upload_generated_clip_answers_with_charts(run_dir):
    at = ok(classify())
    assert at.selectbox[0].value == run_dir.name
    assert not answers(at)  # nothing answered before a recording
    at = upload(at, "cry.wav", synth.to_wav_bytes(synth.cry_sweep(2.0)))
    assert len(answers(at)) == 1, (alerts(at, "success"), alerts(at, "info"), alerts(at, "warning"))
    # waveform, spectrogram, probabilities, saliency overlay
    assert charts(at) == 4
    assert not alerts(at, "error")
    assert any("not a medical device" in m for m in alerts(at, "warning"))
    at.radio[1].set_value("gradcam")  # method radio: Grad-CAM for the CNN
    at = ok(at.run())
    at.toggle[0].set_value(False)  # saliency alone instead of the overlay
    assert charts(ok(at.run())) == 4


def test_long_recording_shows_window_timeline(run_dir):
    y = np.concatenate([synth.cry_sweep(3.0, seed=1), synth.cry_sweep(3.0, 8000, 900, 1200, seed=2)])
    at = upload(classify(), "long.wav", synth.to_wav_bytes(y))
    assert len(answers(at)) == 1
    assert charts(at) == 5  # + the per-window timeline
    assert any("longer than one" in c.value for c in at.caption)


def test_silent_upload_says_silence(run_dir):
    at = upload(classify(), "quiet.wav", synth.to_wav_bytes(synth.silence(2.0)))
    assert any(m.startswith("Silent recording") for m in alerts(at, "info"))
    assert charts(at) == 2  # waveform + spectrogram; the model did not run


@pytest.mark.parametrize("name,content", [
    ("empty.wav", b""),
    ("random.wav", np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()),
    ("notes.mp3", b"This is a text file, not an MP3.\n" * 20),
    ("header_only.wav", synth.to_wav_bytes(np.zeros(0, dtype=np.float32))),
], ids=["empty", "random_bytes_as_wav", "text_as_mp3", "wav_header_no_samples"])
def test_invalid_files_show_one_line_error(run_dir, name, content):
    at = upload(classify(), name, content)
    errors = alerts(at, "error")
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert not answers(at) and charts(at) == 0


def test_corrupt_run_is_named_and_healthy_one_still_works(run_dir):
    bad = corrupt_copy(run_dir)
    at = ok(classify())
    warned = alerts(at, "warning")
    assert any(bad.name in w and "damaged" in w for w in warned), warned
    assert at.selectbox[0].value == run_dir.name and len(at.selectbox[0].options) == 1  # corrupt one not offered
    at = upload(at, "cry.wav", synth.to_wav_bytes(synth.cry_sweep(2.0)))
    assert len(answers(at)) == 1


def test_damaged_checkpoint_that_fails_to_load_gives_one_line_error(run_dir):
    cfg = json.loads((run_dir / "config.json").read_text())
    cfg["n_classes"] = cfg["n_classes"] + 2  # weights no longer fit the network the config describes
    (run_dir / "config.json").write_text(json.dumps(cfg))
    at = ok(classify())
    errors = alerts(at, "error")
    assert len(errors) == 1 and run_dir.name in errors[0] and "\n" not in errors[0], errors


def test_recording_and_demo_signals(run_dir):
    at = ok(classify())
    at.radio[0].set_value("Record")
    at = ok(at.run())
    at.audio_input[0].upload("recording.wav", synth.to_wav_bytes(synth.cry_sweep(2.0, seed=3)))
    at = ok(at.run())
    assert len(answers(at)) == 1
    at.radio[0].set_value("Sample clip")  # no corpus in this test's data folder: generated demo signals
    at = ok(at.run())
    assert "generated" in at.selectbox[1].value
    assert len(answers(at)) == 1 and charts(at) >= 4  # 7 s demo on 2 s windows: + timeline


def test_sample_clips_come_from_the_corpus(run_dir, run_template, monkeypatch):
    monkeypatch.setenv("BABYCRY_DATA", str(run_template.parent.parent / "data"))
    at = ok(classify())
    at.radio[0].set_value("Sample clip")
    at = ok(at.run())
    options = at.selectbox[1].options
    assert any("Hunger cry" in o for o in options) and not any("generated" in o for o in options)
    assert len(answers(at)) == 1


# every hostile case of the core robustness test, through the page: an answer or one st.error line
from tests.e2e.test_robustness import CASES  # noqa: E402


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_uploads_on_the_page(case, run_dir):
    data, expected = CASES[case]
    name = {"text_as_mp3": "note.mp3", "pdf_as_m4a": "doc.m4a"}.get(case, "../../etc/pässwd ☃.wav")
    at = upload(classify(), name, data)
    errors = alerts(at, "error")
    if expected == "error":
        assert len(errors) == 1 and "\n" not in errors[0], errors
    else:
        assert not errors and (answers(at) or any(m.startswith("Silent recording") for m in alerts(at, "info")))


@pytest.mark.parametrize("name", ["06c4cfa2-7fa6-4fda-91a1-ea186a4acc64-1430029221058-1.7-f-26-ti.3gp",
                                  "10A40438-09AA-4A21-83B4-8119F03F7A11-1430848070-1.0-f-26-hu.caf"])
def test_real_phone_uploads_on_the_page(name, run_dir):
    from tests.conftest import shared_or_skip

    f = shared_or_skip("uploads-sample", name)
    at = upload(classify(), name, f.read_bytes())
    assert not alerts(at, "error") and answers(at)


def test_oversized_upload_on_the_page(run_dir):
    at = upload(classify(), "big.wav", b"\0" * (25 * 1024 * 1024 + 10))
    [err] = alerts(at, "error")
    assert "25 MB" in err


def test_yamnet_evidence_says_what_failed_when_unavailable(run_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("BABYCRY_YAMNET_HANDLE", str(tmp_path / "no-yamnet-here"))
    at = upload(classify(), "cry.wav", synth.to_wav_bytes(synth.cry_sweep(3.0)))
    toggle = next(t for t in at.toggle if "YAMNet" in t.label)
    at = ok(toggle.set_value(True).run())
    assert any("YAMNet could not be loaded" in w and "BABYCRY_YAMNET" in w for w in alerts(at, "warning"))
    assert answers(at)  # the rest of the page is unchanged


def test_xgboost_run_shows_its_feature_drivers(tiny_corpus, tmp_path, monkeypatch):
    from babycry_core.data import manifest as data
    from babycry_core.training.fit import fit

    data.prepare("donateacry", source=tiny_corpus, seed=0, n_folds=3, progress=False)
    fit(tiny_train_config(model="xgboost"), progress=False)
    at = upload(classify(), "cry.wav", synth.to_wav_bytes(synth.cry_sweep(3.0)))
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("pushed the answer" in t for t in titles)


def test_yamnet_audioset_view_window_by_window(run_dir, monkeypatch):
    """With the real TFLite file, Classify shows YAMNet's top classes over time, "Baby cry, infant cry" first."""
    from tests.conftest import shared_or_skip

    monkeypatch.setenv("BABYCRY_YAMNET", str(shared_or_skip("yamnet", "yamnet.tflite")))
    y, sr = sf.read(shared_or_skip("donateacry", "hungry",
                                   "035c6b30-a145-42b9-8d0f-445cd9003d2c-1435948197257-1.7-m-04-hu.wav"), dtype="float32")
    at = upload(classify(), "cry.wav", synth.to_wav_bytes(y, sr))
    at = ok(next(t for t in at.toggle if "YAMNet" in t.label).set_value(True).run())
    assert not [w for w in alerts(at, "warning") if "YAMNet" in w]
    heat = [c.proto.spec for c in at.get("plotly_chart") if "window by window" in c.proto.spec]
    assert heat and '"Baby cry, infant cry"' in heat[0]
    assert any("Baby cry" in m.label and int(m.value.rstrip("%")) > 50 for m in at.metric)

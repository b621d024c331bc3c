"""The cry detector: clip probability, threshold rule, the derived corpus, and the shipped detector on real audio."""
import numpy as np
import pytest

from babycry_core import fileio, paths
from babycry_core.audio import synth
from babycry_core.inference.cry_detector import choose_threshold, clip_probability, segment_probability
from tests.conftest import shared_or_skip

SHIPPED = paths.ROOT / "checkpoints"


def test_clip_probability_is_the_mean_of_the_top_third():
    assert clip_probability([0.9, 0.1, 0.1]) == pytest.approx(0.9)
    assert clip_probability([0.9, 0.8, 0.1, 0.1, 0.1, 0.1]) == pytest.approx(0.85)
    assert clip_probability([0.3]) == pytest.approx(0.3)
    assert clip_probability([]) == 0.0


def test_segments_take_the_windows_that_cover_them():
    starts = np.array([0.0, 0.5, 1.0])
    seg, p = segment_probability(starts, np.array([1.0, 0.0, 0.0]), 2.0, 0.5, 3.0)
    assert list(seg) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert p[0] == 1.0 and p[1] == pytest.approx(0.5) and p[-1] == 0.0


def test_threshold_keeps_the_recall_and_then_cuts_false_alarms():
    rng = np.random.default_rng(0)
    cry = rng.uniform(0.5, 1.0, 200)
    other = rng.uniform(0.0, 0.6, 200)
    out = choose_threshold(np.concatenate([cry, other]), np.r_[np.ones(200, bool), np.zeros(200, bool)], 0.95)
    assert out["val_recall"] >= 0.95
    assert (cry >= out["cry_threshold"]).mean() >= 0.95
    assert out["val_false_alarm_rate"] < (other >= 0.5).mean()  # better than a blind 0.5


def test_threshold_without_both_kinds_falls_back():
    assert choose_threshold([0.2, 0.9], [True, True])["cry_threshold"] == 0.5


def test_derived_speech_is_grouped_by_speaker(tmp_path):
    from babycry_core.data import manifest as data
    from babycry_core.data import derived

    src = shared_or_skip("fsdd", "recordings")
    out = derived.build_speech(tmp_path, src)
    files = sorted(out.glob("*.wav"))
    speakers = {f.stem.rsplit("_", 1)[0] for f in files}
    assert len(speakers) == 6 and len(files) > 100
    spec = data.get_corpus("detect").sources[-1]
    assert {spec.group_for(f.stem, "speech") for f in files} == speakers
    import soundfile as sf

    d = sf.info(str(files[0])).duration
    assert 7.5 < d < 11.5


def test_detect_corpus_folds_never_split_a_group():
    from babycry_core.data import linking, manifest as data

    shared_or_skip("fsdd")
    shared_or_skip("donateacry")
    linking.link_corpus()
    manifest, splits = data.prepare("detect", progress=False)
    assert {"cry", "speech", "laugh", "noise", "silence"} == set(manifest["label"])
    group = manifest.set_index("clip_id")["group"]
    for fold in splits["folds"]:
        sides = [set(group[fold[p]]) for p in ("train", "val", "test")]
        assert not (sides[0] & sides[2]) and not (sides[1] & sides[2]) and not (sides[0] & sides[1])


# ---------------------------------------------------------------- the shipped detector

def _shipped_detector():
    pinned = fileio.read_json(SHIPPED / "default.json", default={})
    if not pinned.get("detector"):
        pytest.skip("no detector named in checkpoints/default.json")
    from babycry_core.runs.checkpoint import load
    from babycry_core.inference.cry_detector import CryDetector

    return CryDetector(load(SHIPPED / pinned["detector"]))


def test_shipped_detector_hears_speech_as_speech():
    from babycry_core.audio import decode as audio
    from babycry_core.data import derived

    det = _shipped_detector()
    src = shared_or_skip("fsdd", "recordings")
    y = np.concatenate([np.r_[audio.load(f, 8000), np.zeros(1600, np.float32)]
                        for f in sorted(src.glob("*_lucas_1*.wav"))[:14]])  # lucas: held out of the shipped run
    r = det.detect(y)
    assert not r.detected and r.heard == "speech", (r.probability, r.heard_probabilities)
    del derived


def test_shipped_detector_hears_a_real_cry_turned_down_40_db():
    from babycry_core.audio import decode as audio
    from babycry_core.augment.waveform import quantize16

    det = _shipped_detector()
    root = shared_or_skip("donateacry")
    for f in sorted((root / "hungry").glob("*.wav")):  # a cry at a normal level (some clips are already -60 dBFS)
        y = audio.load(f, 8000)
        if 20 * np.log10(y.std()) > -25:
            break
    quiet = quantize16(y * 10 ** (-40 / 20))
    assert 20 * np.log10(quiet.std()) < -50  # a whisper of a cry, still above digital silence
    r = det.detect(quiet)
    assert r.detected and r.seconds > 1.0, r.probability


@pytest.mark.parametrize("kind", sorted(synth.SIGNALS))
def test_shipped_detector_answers_generated_signals(kind):
    det = _shipped_detector()
    r = det.detect(synth.SIGNALS[kind](3.0, 8000))
    assert 0.0 <= r.probability <= 1.0 and r.heard in det.labels
    assert len(r.windows) >= 2 and all(0 <= w["p"] <= 1 for w in r.windows)


def test_a_generic_train_config_gets_the_detectors_windows_and_keeps_what_was_given():
    """`train --model cry_detector` (the CLI's and the Train page's generic TrainConfig) trains the detector
    on its own 2 s normalised windows and corpus; a flag the user gave stays."""
    from babycry_core.models.detector_net import DETECTOR_FEATURES
    from babycry_core.training.detector_fit import as_detector_config
    from babycry_core.training.loop import TrainConfig

    cfg = as_detector_config(TrainConfig(model="cry_detector", epochs=3))
    assert cfg.feature_config == DETECTOR_FEATURES and cfg.corpus == "detect"
    assert cfg.epochs == 3 and cfg.epoch_size > 0 and not cfg.score_train

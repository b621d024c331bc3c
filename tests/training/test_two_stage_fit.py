"""Two-stage (cry gate x reason) model, noise augmentation and the separate cry metrics.

A tiny combined-style corpus is generated in tmp: cry-like sweeps in reason folders with Donate-a-Cry names, and
laugh / noise / silence / cry folders named like giulbia's windows. A CorpusSpec for it goes into
corpora.CORPORA for the session (this module and the Compare page test share it); one two-stage model is trained
on it (a few seconds) and shared.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from babycry_core import fileio
from babycry_core.data import corpora
from babycry_core.eval import cry_metrics
from babycry_core.data import manifest as data
from babycry_core.runs import run_registry as runs
from babycry_core.audio import synth
from babycry_core.data.corpora import UNKNOWN_CRY, CorpusSpec
from babycry_core.data.sources import SourceSpec
from babycry_core.features.config import FeatureConfig
from babycry_core.audio.signal import SILENCE_DBFS
from babycry_core.inference.predictor import Predictor
from babycry_core.models import two_stage
from babycry_core.training.fit import fit
from babycry_core.training.loop import TrainConfig

CORPUS = "two_stage_tiny"
SR_DAC, SR_GIUL, SECONDS = 8000, 16000, 2.0


def _laugh(i: int, sr: int) -> np.ndarray:
    """Bursts of band noise at ~5 Hz: 'ha-ha-ha'."""
    rng = np.random.default_rng(100 + i)
    t = np.arange(int(SECONDS * sr)) / sr
    gate = (np.sin(2 * np.pi * (4.5 + 0.3 * (i % 3)) * t) > 0.2).astype(float)
    return (0.3 * gate * rng.standard_normal(len(t))).clip(-1, 1).astype(np.float32)


def _noise(i: int, sr: int) -> np.ndarray:
    """Environmental-ish noise, ESC-50 style: brown noise (rain), a bell (decaying inharmonic partials), or a
    click train (door knock), at varying levels."""
    rng = np.random.default_rng(200 + i)
    n = int(SECONDS * sr)
    t = np.arange(n) / sr
    if i % 3 == 0:
        y = np.cumsum(rng.standard_normal(n))
        y = y - np.convolve(y, np.ones(400) / 400, mode="same")
    elif i % 3 == 1:
        f0 = rng.uniform(300, 1500)
        y = sum(np.sin(2 * np.pi * f0 * r * t) * np.exp(-t * (1 + k)) for k, r in enumerate((1, 2.76, 5.4)))
    else:
        y = np.zeros(n)
        y[rng.integers(0, n, 40)] = rng.uniform(-1, 1, 40)
        y = np.convolve(y, np.exp(-np.arange(200) / 30), mode="same")
    return (0.2 * (1 + i % 3) * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_combined(tmp_path_factory):
    """(corpus root, data dir): generated corpus, its manifest and splits, the spec registered for the session."""
    root = tmp_path_factory.mktemp("tiny_combined")
    dac, giul = root / "dac", root / "giul"
    for label, tag, (lo, hi) in (("hungry", "hu", (350, 500)), ("tired", "ti", (900, 1200))):
        (dac / label).mkdir(parents=True)
        for b in range(6):
            uuid = f"{tag}{b:06d}-0000-4000-8000-000000000000"
            for j in range(2):
                y = synth.cry_sweep(SECONDS, SR_DAC, lo + 15 * b, hi + 15 * b, seed=10 * b + j)
                sf.write(dac / label / f"{uuid}-{1430000000 + j}-1.0-{'mf'[b % 2]}-{('04', '26')[b % 2]}-{tag}.wav",
                         y, SR_DAC)
    for folder in ("laugh", "noise", "silence", "cry"):
        (giul / folder).mkdir(parents=True)
    for r in range(4):
        for i in range(3):
            sf.write(giul / "laugh" / f"laugh_{r}.m4a_{i}.wav", _laugh(3 * r + i, SR_GIUL), SR_GIUL)
            sf.write(giul / "cry" / f"baby{r}.m4a_{i}.wav",
                     synth.cry_sweep(SECONDS, SR_GIUL, 600 + 20 * r, 800 + 20 * r, seed=50 + 3 * r + i), SR_GIUL)
    for i in range(12):
        sf.write(giul / "noise" / f"{1 + i % 5}-{1000 + i}-A.wav", _noise(i, SR_GIUL), SR_GIUL)
    for i in range(8):
        sf.write(giul / "silence" / f"silence.wav_{i}.wav",
                 synth.white_noise(SECONDS, SR_GIUL, level=0.002 * (1 + i), seed=300 + i), SR_GIUL)
    spec = CorpusSpec(name=CORPUS, sources=(
        SourceSpec(name="donateacry", root=str(dac), grouping="uuid"),
        SourceSpec(name="giulbia", root=str(giul),
                   folders={"laugh": "laugh", "silence": "silence", "noise": "noise", "cry": UNKNOWN_CRY},
                   grouping="recording", folder_grouping={"silence": "folder"}, cry_labels=frozenset({UNKNOWN_CRY})),
    ))
    data_dir = tmp_path_factory.getbasetemp() / "data"  # what isolated_dirs points BABYCRY_DATA at
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(corpora.CORPORA, CORPUS, spec)
        mp.setenv("BABYCRY_DATA", str(data_dir))
        mp.setenv("BABYCRY_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        data.prepare(CORPUS, seed=0, n_folds=3, progress=False)
        yield root, data_dir


@pytest.fixture(scope="session")
def two_stage_run(tiny_combined, tmp_path_factory):
    cfg = TrainConfig(model="two_stage", corpus=CORPUS, epochs=8, batch_size=8, patience=8, threads=1, seed=0,
                      features=FeatureConfig(clip_seconds=SECONDS).to_dict())
    return fit(cfg, tmp_path_factory.mktemp("ckpt") / "two-stage-run", progress=False)


def _p_cry(pred, cry=("hungry", "tired")) -> float:
    return sum(pred.probabilities[c] for c in cry)


# ---------------------------------------------------------------- the run folder

def test_run_folder_is_self_describing(two_stage_run):
    run = two_stage_run
    for f in ("config.json", "labels.json", "feature_config.json", "calibration.json", "metrics.json",
              "status.json", "history.jsonl", "MODEL_CARD.md"):
        assert (run / f).is_file(), f
    for stage in two_stage.STAGES:
        assert fileio.read_json(run / stage / "status.json")["status"] == "finished"
    cfg = fileio.read_json(run / "config.json")
    assert cfg["family"] == "two_stage" and cfg["model"] == "two_stage"
    assert fileio.read_json(run / "labels.json") == ["hungry", "laugh", "noise", "silence", "tired"]
    assert cfg["stages"]["gate"]["labels"] == ["cry", "laugh", "noise", "silence"]
    assert cfg["stages"]["reason"]["labels"] == ["hungry", "tired"]
    assert UNKNOWN_CRY in cfg["stages"]["gate"]["cry_means"]
    info = runs.run_info(run)
    assert info.usable and info.status == "finished", info.message
    cal = fileio.read_json(run / "calibration.json")
    assert cal["temperature"] == 1.0 and set(cal["stage_temperatures"]) == {"gate", "reason"}
    assert all(t >= 0.1 for t in cal["stage_temperatures"].values())
    m = fileio.read_json(run / "metrics.json")
    for key in ("cry_detection", "cry_detection_gate", "reason_only", "reason_end_to_end", "flat", "by_tag",
                "groups_per_class", "calibration", "stages", "length_check", "macro_f1", "ece_before", "ece_after",
                "coverage"):
        assert key in m, key
    assert m["cry_detection"]["n"] > m["flat"]["n"]  # cry_unknown test clips count for cry detection only
    events = [e for e in runs.read_events(run) if e.get("event") == "epoch"]
    assert {e["stage"] for e in events} == {"gate", "reason"}
    assert [e["epoch"] for e in events] == list(range(1, len(events) + 1))


def test_combination_rule(two_stage_run):
    from babycry_core.runs.checkpoint import load

    model = load(two_stage_run).model
    rng = np.random.default_rng(0)
    wins = [synth.cry_sweep(SECONDS, SR_DAC, 400, 520, seed=1), rng.standard_normal(int(SECONDS * SR_DAC)) * 0.05]
    logp = model.window_logits(wins, model.feature_config)
    p = np.exp(logp)
    assert p.shape == (2, 5) and np.allclose(p.sum(1), 1, atol=1e-5)
    X = np.stack([two_stage.log_mel(w, model.feature_config) for w in wins])[:, None]
    pg, pr = model.stage_proba(X)
    labels = model.labels
    cry = pg[:, model.gate_labels.index("cry")]
    for r in model.reason_labels:  # P(r) = P(cry) P(r | cry)
        assert np.allclose(p[:, labels.index(r)], cry * pr[:, model.reason_labels.index(r)], atol=1e-5)
    for c in ("laugh", "noise", "silence"):
        assert np.allclose(p[:, labels.index(c)], pg[:, model.gate_labels.index(c)], atol=1e-5)


# ---------------------------------------------------------------- no cry

@pytest.mark.parametrize("name,signal", [
    ("white noise", lambda: synth.white_noise(7.0, SR_DAC, level=0.1, seed=7)),
    ("sine tone", lambda: synth.sine(7.0, SR_DAC, freq=440.0)),
    ("quiet room hiss", lambda: synth.white_noise(7.0, SR_DAC, level=0.003, seed=8)),
])
def test_generated_non_cry_signals_are_not_cries(two_stage_run, name, signal):
    from babycry_core.runs.checkpoint import load

    pred = Predictor(load(two_stage_run)).predict_waveform(signal(), name)
    assert pred.status == "no_cry", (name, pred.message, pred.probabilities)
    assert pred.label in ("laugh", "noise", "silence")
    assert _p_cry(pred) < 0.5, (name, pred.probabilities)


def test_a_cry_still_comes_out_as_a_cry(two_stage_run):
    from babycry_core.runs.checkpoint import load

    pred = Predictor(load(two_stage_run)).predict_waveform(synth.cry_sweep(SECONDS, SR_DAC, 380, 530, seed=99))
    assert pred.label in ("hungry", "tired") and pred.status in ("detected", "not_sure")
    assert _p_cry(pred) > 0.5


def test_digital_silence_is_caught_by_the_energy_check(two_stage_run, tmp_path):
    from babycry_core.app.answer import classify
    from babycry_core.runs.checkpoint import load

    f = tmp_path / "silent.wav"
    sf.write(f, synth.silence(3.0, SR_DAC), SR_DAC)
    pred = Predictor(load(two_stage_run)).predict(f)
    assert pred.status == "silence" and pred.label == "silence" and pred.level_dbfs < SILENCE_DBFS
    assert "Silent" in pred.message and "dBFS" in pred.message and pred.message.startswith("Silent recording")
    assert classify([f], run=two_stage_run, engine="torch")[0].status == "silence"


def test_damaged_stage_weights_are_refused(two_stage_run, tmp_path):
    import shutil

    from babycry_core.runs.checkpoint import load

    copy = tmp_path / "copy"
    shutil.copytree(two_stage_run, copy)
    w = copy / "reason" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-8] + b"\0" * 8)
    assert runs.run_info(copy).status == "corrupt"
    with pytest.raises(ValueError, match="damaged"):
        load(copy)


def test_evaluate_run_reproduces_metrics(two_stage_run, tiny_combined, monkeypatch):
    from babycry_core.training.evaluate_runs import evaluate_run

    monkeypatch.setenv("BABYCRY_DATA", str(tiny_combined[1]))
    before = fileio.read_json(two_stage_run / "metrics.json")
    after = evaluate_run(two_stage_run)
    assert after["cry_detection"]["f1"] == pytest.approx(before["cry_detection"]["f1"])
    assert after["macro_f1"] == pytest.approx(before["macro_f1"])


# ---------------------------------------------------------------- augmentation stays on the training side

def test_noise_augmentation_is_training_only_and_keeps_groups(tiny_combined, monkeypatch):
    from babycry_core.augment.noise import augment_training, mix_at_snr

    monkeypatch.setenv("BABYCRY_DATA", str(tiny_combined[1]))
    train, val, test = data.split_frames(CORPUS)
    fcfg = FeatureConfig(clip_seconds=SECONDS)
    X, aug = augment_training(train, fcfg, classes=["laugh", "noise", "silence"], matched=["hungry", "tired",
                                                                                          UNKNOWN_CRY], seed=0)
    assert len(X) == len(aug) and X.shape[1:] == (1, fcfg.n_mels, fcfg.n_frames)
    assert set(aug["augmented_from"]) <= set(train["clip_id"])
    assert set(aug["group"]) <= set(train["group"])
    assert not set(aug["group"]) & (set(val["group"]) | set(test["group"]))  # no recording on both sides
    counts = train["label"].value_counts()
    per_class = 3 * int(counts[["laugh", "noise", "silence"]].min())  # the rarest class: every clip at every SNR
    got = aug["label"].value_counts()
    assert all(got[c] == per_class for c in ("laugh", "noise", "silence"))
    assert int(aug["is_cry"].astype(bool).sum()) == per_class  # as many cry copies as one non-cry class
    assert not aug.duplicated(["augmented_from", "snr_db"]).any()  # each (clip, SNR) at most once
    X2, aug2 = augment_training(train, fcfg, classes=["noise"], dominant=["noise"], seed=0)
    assert sorted(aug2["snr_db"].unique()) == [-10.0, 0.0, 10.0, 20.0]
    # clip length decorrelated: in a 3 s window the 2 s non-cry clips are looped, the cry copies cut to 1 s
    X3, aug3 = augment_training(train, FeatureConfig(clip_seconds=3.0), classes=["laugh"], matched=["hungry"],
                                fill_short=True, cut_matched_to=1.0, seed=0)
    assert set(aug3.loc[aug3["label"] == "laugh", "length"]) == {"looped"}
    assert set(aug3.loc[aug3["label"] == "hungry", "length"]) == {"cut"}
    tail = X3[:, 0, :, -20:]  # the last 0.3 s: zero padding (the -80 dB floor) only where the copy was cut
    cut = (aug3["length"] == "cut").to_numpy()
    assert (tail[cut] <= -79.9).all() and (tail[~cut] > -79.9).any(axis=(1, 2)).all()
    with pytest.raises(ValueError, match="training part only"):
        augment_training(val, fcfg, classes=["laugh"], part="val")
    # the SNR is what it says
    clean = synth.sine(1.0, 8000, 300.0)
    noise = synth.white_noise(1.0, 8000, seed=3)
    mixed = mix_at_snr(clean, noise, 10.0)
    resid = mixed.astype(np.float64) - clean
    assert 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(resid**2)) == pytest.approx(10.0, abs=0.05)


def test_stage_data_augments_the_gate_train_part_only(two_stage_run):
    aug = fileio.read_json(two_stage_run / "config.json")["augmentation"]
    assert aug["applied"] and aug["parts"] == ["train"] and aug["copies"] > 0
    m = fileio.read_json(two_stage_run / "metrics.json")
    assert not any("#" in c for c in m["test_clip_ids"])  # no noise-mixed copy was tested on


# ---------------------------------------------------------------- cry_metrics on hand-made predictions

LABELS = ["hungry", "tired", "laugh", "noise"]
ROWS = [  # true label, group, age, gender, probabilities over LABELS
    ("hungry", "a", "04", "m", [0.7, 0.1, 0.1, 0.1]),      # -> hungry
    ("hungry", "b", "04", "f", [0.2, 0.6, 0.1, 0.1]),      # -> tired
    ("tired", "c", "26", "m", [0.1, 0.8, 0.05, 0.05]),     # -> tired
    (UNKNOWN_CRY, "d", "", "", [0.6, 0.1, 0.2, 0.1]),      # -> hungry (a cry: right for cry detection)
    (UNKNOWN_CRY, "d", "", "", [0.1, 0.1, 0.2, 0.6]),      # -> noise (a missed cry)
    ("laugh", "e", "", "", [0.05, 0.05, 0.85, 0.05]),      # -> laugh
    ("laugh", "e", "", "", [0.3, 0.15, 0.35, 0.2]),        # -> laugh, but P(cry) = 0.45 beats it: gate false alarm
    ("noise", "f", "", "", [0.1, 0.0, 0.1, 0.8]),          # -> noise
    ("tired", "g", "26", "f", [0.1, 0.3, 0.45, 0.15]),     # -> laugh (a missed cry); reason alone: tired
]


@pytest.fixture
def hand_made():
    frame = pd.DataFrame([{"clip_id": f"c{i}", "label": t, "group": g, "age": a, "gender": s,
                           "is_cry": t not in ("laugh", "noise")} for i, (t, g, a, s, _) in enumerate(ROWS)])
    proba = np.array([r[4] for r in ROWS])
    return frame, proba


def test_cry_metrics_hand_made(hand_made):
    frame, proba = hand_made
    train = pd.DataFrame({"label": ["hungry", "hungry", "tired", "laugh"], "group": ["x", "y", "y", "z"]})
    m = cry_metrics.report(proba, LABELS, frame, cry_classes=["hungry", "tired"], reason_classes=["hungry", "tired"],
                           split_frames={"train": train, "test": frame}, n_boot=200)
    cd = m["cry_detection"]  # true cries 0-4, 8; the top class is a cry for 0, 1, 2, 3
    assert (cd["n_cry"], cd["n_non_cry"]) == (6, 3)
    assert cd["confusion"] == {"cry_as_cry": 4, "cry_as_no_cry": 2, "no_cry_as_cry": 0, "no_cry_as_no_cry": 3}
    assert cd["precision"] == pytest.approx(1.0) and cd["recall"] == pytest.approx(4 / 6)
    assert cd["f1"] == pytest.approx(0.8) and cd["false_alarm_rate"] == 0.0
    assert cd["per_class"]["laugh"]["false_alarm_rate"] == 0.0
    assert cd["per_class"][UNKNOWN_CRY]["miss_rate"] == pytest.approx(0.5)
    assert cd["groups_cry"] == 5 and cd["groups_non_cry"] == 2
    cg = m["cry_detection_gate"]  # P(cry) against each non-cry class: clip 6 (laugh) becomes a false alarm
    assert cg["confusion"] == {"cry_as_cry": 4, "cry_as_no_cry": 2, "no_cry_as_cry": 1, "no_cry_as_no_cry": 2}
    assert cg["precision"] == pytest.approx(0.8) and cg["f1"] == pytest.approx(8 / 11)
    assert cg["false_alarm_rate"] == pytest.approx(1 / 3) and cg["per_class"]["laugh"]["false_alarm_rate"] == 0.5
    assert cry_metrics.hierarchical_label(dict(zip(LABELS, ROWS[6][4])), ["hungry", "tired"]) == "hungry"
    assert cry_metrics.hierarchical_label(dict(zip(LABELS, ROWS[8][4])), ["hungry", "tired"]) == "laugh"
    ro = m["reason_only"]  # clips 0, 1, 2, 8: [h, h, t, t] vs reason alone [h, t, t, t]
    assert ro["n"] == 4 and ro["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert ro["balanced_accuracy"] == pytest.approx(0.75)
    assert ro["majority_baseline"]["macro_f1"] == pytest.approx(0.5 * 2 * 2 / 6)  # always hungry: F1 2/3, tired 0
    e2e = m["reason_end_to_end"]  # app: [h, t, t, laugh]
    assert e2e["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2)
    fl = m["flat"]  # the 7 clips with a model class: F1 hungry 2/3, tired 1/2, laugh 4/5, noise 1
    assert fl["n"] == 7 and fl["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0.8 + 1) / 4)
    assert fl["accuracy"] == pytest.approx(5 / 7) and fl["balanced_accuracy"] == pytest.approx(0.75)
    lo, hi = fl["macro_f1_ci"]
    assert lo <= hi and 0 <= lo and hi <= 1
    age = m["by_tag"]["age"]
    assert age["04"]["macro_f1"] == pytest.approx(1 / 3) and age["04"]["clips"] == 2 and age["04"]["groups"] == 2
    assert age["26"]["macro_f1"] == pytest.approx(2 / 3) and age["26"]["reason_macro_f1"] == pytest.approx(1.0)
    assert age["04"]["name"] == "0-4 weeks" and set(m["by_tag"]["gender"]) == {"m", "f"}
    gpc = m["groups_per_class"]
    assert gpc["hungry"] == {"train_clips": 2, "train_groups": 2, "test_clips": 2, "test_groups": 2}
    assert gpc["laugh"]["test_clips"] == 2 and gpc["laugh"]["test_groups"] == 1
    assert gpc["tired"]["train_groups"] == 1 and gpc["noise"]["train_clips"] == 0
    json.dumps(m)  # metrics.json-ready


def test_group_bootstrap_resamples_groups_not_clips():
    # one group of 9 right answers and one group of 1 wrong: resampling groups gives all-right or all-wrong mixes
    right = np.array([1] * 9 + [0])
    groups = ["big"] * 9 + ["small"]
    lo, hi = cry_metrics.group_bootstrap(lambda i: float(right[i].mean()), groups, n_boot=300)
    assert lo == pytest.approx(0.0) and hi == pytest.approx(1.0)  # drawing {small, small} or {big, big}
    assert cry_metrics.group_bootstrap(lambda i: 1.0, ["one"] * 5) == [pytest.approx(float("nan"), nan_ok=True)] * 2

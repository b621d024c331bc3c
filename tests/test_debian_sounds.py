"""debian_sounds: the packages' sounds labelled by path, composed into training clips, fetched or said why not.

The package trees are generated here (tones and noise written where the real packages keep their sounds)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from babycry_core import debian_sounds as D

SR = 8000


def _write(path, seconds, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 11025)) / 11025
    y = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 900) * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(path, y.astype(np.float32), 11025)


@pytest.fixture()
def tree(tmp_path):
    s = tmp_path / "scratch" / "usr/share/scratch/Media/Sounds"
    for i, rel in enumerate(["Animal/Dog1.wav", "Human/Laugh-female.wav", "Human/Scream-male1.wav",
                             "Human/BabyCry.wav", "Vocals/Singer1.wav", "Music Loops/Long.wav"]):
        _write(s / rel, 12.0 if "Long" in rel else 0.6, i)
    t = tmp_path / "tuxpaint-stamps-default" / "usr/share/tuxpaint/stamps"
    _write(t / "animals/birds/rooster.ogg", 1.5, 10)
    _write(t / "symbols/alphabets/a.ogg", 0.4, 11)
    for lang in ("fr", "ro"):
        for i in range(8):
            _write(t / f"animals/cat{i}_desc_{lang}.ogg", 0.5, 20 + i)
    (t / "animals/birds/rooster.txt").write_text("not audio")
    _write(tmp_path / "tuxpaint-data" / "usr/share/tuxpaint/sounds/giggle.wav", 0.8, 30)
    return tmp_path


def test_labels_follow_the_path_rules(tree):
    got = {(c["package"], c["rel"]): c["label"] for c in D.catalogue(tree)}
    assert got[("scratch", "Human/Laugh-female.wav")] == "laugh"
    assert got[("tuxpaint-data", "giggle.wav")] == "laugh"
    assert got[("scratch", "Animal/Dog1.wav")] == "noise"
    assert got[("scratch", "Vocals/Singer1.wav")] == "speech"
    assert got[("tuxpaint-stamps-default", "animals/birds/rooster.ogg")] == "noise"
    assert got[("tuxpaint-stamps-default", "animals/cat3_desc_ro.ogg")] == "speech"
    # screams, the baby cry, spoken letters and non-audio files are left out
    assert not any("Scream" in r or "BabyCry" in r or r.startswith("symbols/") or r.endswith(".txt") for _, r in got)


def test_clips_are_five_seconds_each_in_its_own_group(tree, monkeypatch):
    monkeypatch.setattr(D, "N_SPEECH", 4)
    waves, rows = D.clips(SR, seed=0, root=tree)
    frame = pd.DataFrame(rows)
    assert len(waves) == len(frame) == 6 + 4  # dog, laugh, singer, loop, rooster, giggle + 4 joined descriptions
    assert all(len(w) == int(D.SECONDS * SR) for w in waves)
    assert frame["group"].is_unique
    assert sorted(frame["label"].value_counts().items()) == [("laugh", 2), ("noise", 3), ("speech", 5)]
    assert all(0.09 < np.abs(w).max() <= 0.9 for w in waves)  # peak -1..-20 dBFS
    # a speech clip joins several descriptions of one language: it holds more than one utterance's sound
    sp = waves[-1]
    assert frame["clip_id"].iloc[-1].startswith("debian-sounds/speech_")
    active = np.convolve(np.abs(sp) > 0.1 * np.abs(sp).max(), np.ones(400), "same") > 0
    assert active.mean() > 0.3
    # the same seed gives the same clips
    again, _ = D.clips(SR, seed=0, root=tree)
    assert all(np.array_equal(a, b) for a, b in zip(waves, again))


def test_nothing_unpacked_gives_no_clips(tmp_path):
    assert D.clips(SR, seed=0, root=tmp_path) == ([], [])


def test_fetch_without_apt_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    done = D.fetch(tmp_path / "out", quiet=True)
    assert set(done) == {p.name for p in D.PACKAGES}
    assert all(v.startswith("not fetched: apt-get and dpkg-deb are needed") for v in done.values())


def test_fetch_keeps_what_is_unpacked(tree):
    done = D.fetch(tree, quiet=True)
    assert all(v.startswith("kept") for v in done.values())


def test_the_detectors_training_part_gets_them_as_their_own_groups(tree, monkeypatch):
    from babycry_core import detector_train as T

    monkeypatch.setattr(D, "root_dir", lambda: tree)
    monkeypatch.setattr(D, "N_SPEECH", 2)
    monkeypatch.setattr(T, "N_HOUSEHOLD", 2)
    monkeypatch.setattr(T, "N_LAUGHS", (1, 1))
    cry = (0.3 * np.sin(2 * np.pi * 450 * np.arange(3 * SR) / SR)).astype(np.float32)
    frame = pd.DataFrame([{"clip_id": "c0", "label": "cry", "group": "baby0", "source": "donateacry",
                           "is_cry": True, "duration": 3.0}])
    out, waves = T.with_generated(frame, [cry], SR, seed=0)
    real = out[out["source"] == D.FOLDER]
    assert len(out) == len(waves) == 1 + 2 + 2 + len(real)
    assert sorted(real["label"].value_counts().items()) == [("laugh", 2), ("noise", 3), ("speech", 3)]
    assert not real["is_cry"].any() and out["group"].is_unique

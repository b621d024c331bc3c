"""Corpus specs, manifest building and grouped splits (babycry_core.data.manifest / corpora)."""
from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from babycry_core import paths
from babycry_core.data import corpora
from babycry_core.data import linking, manifest as data
from babycry_core.data.sources import parse_donateacry_name
from babycry_core.audio import synth

SHARED = paths.shared_data_dir()
HAS_SHARED = (SHARED / "donateacry").is_dir() and (SHARED / "giulbia").is_dir()
needs_shared = pytest.mark.skipif(not HAS_SHARED, reason=f"real corpus not present at {SHARED}")


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


# ---------------------------------------------------------------- names and specs

def test_parse_ios_uppercase_name():
    d = parse_donateacry_name("10A40438-09AA-4A21-83B4-8119F03F7A11-1430848070-1.0-f-26-hu")
    assert d == {"uuid": "10A40438-09AA-4A21-83B4-8119F03F7A11", "timestamp": 1430848070, "app_version": "1.0",
                 "gender": "f", "age": "26", "reason": "hu"}


def test_parse_android_name_with_folder_and_extension():
    d = parse_donateacry_name("x/discomfort/999bf14b-e417-4b44-b746-9253f81efe38-1430844958178-1.7-m-04-ch.wav")
    assert d["uuid"] == "999bf14b-e417-4b44-b746-9253f81efe38"
    assert d["timestamp"] == 1430844958  # milliseconds -> seconds
    assert (d["app_version"], d["gender"], d["age"], d["reason"]) == ("1.7", "m", "04", "ch")
    d = parse_donateacry_name("06c4cfa2-7fa6-4fda-91a1-ea186a4acc64-1430029221058-1.7-f-26-ti.3gp")
    assert d["reason"] == "ti" and d["uuid"].startswith("06c4cfa2")


@pytest.mark.parametrize("name", [
    "laugh_1.m4a_0.wav", "5-198411-A.wav", "silence.wav_3.wav",
    "not-a-uuid-1430848070-1.0-f-26-hu.wav",  # uuid is not 8-4-4-4-12 hex
    "10A40438-09AA-4A21-83B4-8119F03F7A11-1430848070-1.0-f-99-hu.wav",  # unknown age tag
    "10A40438-09AA-4A21-83B4-8119F03F7A11-1430848070-1.0-x-26-hu.wav",  # unknown gender
    "10A40438-09AA-4A21-83B4-8119F03F7A11-1430848070-1.0-f-26.wav",  # no reason
])
def test_parse_rejects_other_names(name):
    assert parse_donateacry_name(name) is None


def test_get_corpus_lists_valid_names():
    assert data.get_corpus("combined").name == "combined"
    with pytest.raises(ValueError, match="combined.*donateacry"):
        data.get_corpus("nope")


def test_combined_spec_labels_and_groups():
    dac, giul = data.get_corpus("combined").sources
    assert dac.label_for("discomfort", "ch") == "cold_hot"
    assert dac.label_for("discomfort", "dc") == "discomfort"
    assert data.get_corpus("donateacry").sources[0].label_for("discomfort", "ch") == "discomfort"
    assert giul.label_for("cry", None) == corpora.UNKNOWN_CRY and giul.label_for("other", None) is None
    assert giul.group_for("laugh_1.m4a_17", "laugh") == "laugh_1.m4a"
    assert giul.group_for("V_2017-04-01+08_06_22=0_30.mp3_5", "cry") == "V_2017-04-01+08_06_22=0_30.mp3"
    assert giul.group_for("5-198411-C", "cry") == giul.group_for("5-198411-A", "noise") == "5-198411"
    assert giul.group_for("silence.wav_3", "silence") == giul.group_for("anything", "silence")
    assert giul.is_cry(corpora.UNKNOWN_CRY) and not giul.is_cry("laugh") and dac.is_cry("hungry")


# ---------------------------------------------------------------- synthetic corpus

def _make_corpus(root: Path, n_uuids: int = 8, per_uuid: int = 3, seed: int = 0) -> dict:
    """Folder-per-class Donate-a-Cry-style corpus of 0.3 s wavs; returns {"ok": [...], "corrupt": path}."""
    rng = np.random.default_rng(seed)
    tags = {"hungry": "hu", "tired": "ti", "belly_pain": "bp"}
    ok = []
    for i in range(n_uuids):
        u = str(uuidlib.UUID(int=int(rng.integers(2**62)) << 64 | int(rng.integers(2**62))))
        u = u.upper() if i % 2 else u
        for j in range(per_uuid):
            label = list(tags)[(i + j) % len(tags)] if i % 3 == 0 else list(tags)[i % len(tags)]
            ts = 1430000000 + 100 * i + j
            f = root / label / f"{u}-{ts}-1.7-{'mf'[i % 2]}-04-{tags[label]}.wav"
            f.parent.mkdir(parents=True, exist_ok=True)
            sf.write(f, synth.cry_sweep(0.3, 8000, seed=i * 10 + j), 8000, subtype="PCM_16")
            ok.append(f)
    corrupt = root / "hungry" / "0000aaaa-bbbb-cccc-dddd-eeeeffff0000-1430000000-1.0-m-26-hu.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00not really a wave file")
    (root / "hungry" / "notes.txt").write_text("not audio")
    return {"ok": ok, "corrupt": corrupt}


def test_build_manifest_synthetic(tmp_path, data_env):
    made = _make_corpus(tmp_path / "src")
    m = data.build_manifest("donateacry", source=tmp_path / "src", progress=False)
    assert list(m.columns) == data.COLUMNS
    assert len(m) == len(made["ok"]) and m["clip_id"].is_unique
    # labels come from the folders, groups from the uuid in the name
    for _, r in m.iterrows():
        f = data.resolve_path(r["path"])
        assert f.is_file() and r["label"] == f.parent.name
        assert r["group"] == r["uuid"] == f.name[:36] and r["age"] == "04"
    assert sorted(m["label"].unique()) == data.labels_of(m) == ["belly_pain", "hungry", "tired"]
    assert m["is_cry"].all() and (m["sample_rate"] == 8000).all()
    assert np.allclose(m["duration"], 0.3, atol=0.01)
    assert m["group"].nunique() == 8
    # the corrupt file is reported, not fatal
    failed = pd.read_csv(data_env / "donateacry" / "failed.csv")
    assert len(failed) == 1 and data.resolve_path(failed["path"][0]) == made["corrupt"]
    assert failed["reason"][0]
    # round trip keeps string columns (age "04", uuids) and types
    back = data.load_manifest("donateacry")
    pd.testing.assert_frame_equal(back, m, check_dtype=False)
    assert back["age"].iloc[0] == "04" and back["is_cry"].dtype == bool
    s = data.class_summary(m)
    assert s["clips"].sum() == len(m) and set(s["label"]) == set(m["label"])
    assert s.set_index("label")["groups"].to_dict() == m.groupby("label")["group"].nunique().to_dict()


def test_store_path_relative_inside_root():
    p = paths.ROOT / "data" / "corpus" / "x" / "a.wav"
    assert data._store_path(p) == "data/corpus/x/a.wav"
    assert data.resolve_path("data/corpus/x/a.wav") == p
    assert data.resolve_path("/elsewhere/a.wav") == Path("/elsewhere/a.wav")


def test_missing_manifest_and_corpus_hint(data_env, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="python -m babycry_core data build"):
        data.load_manifest("donateacry")
    monkeypatch.setenv("BABYCRY_SHARED_DATA", str(tmp_path / "no-shared"))
    with pytest.raises(FileNotFoundError, match="data link"):
        data.build_manifest("donateacry", progress=False)


def test_prepare_and_split_frames_synthetic(tmp_path, data_env):
    _make_corpus(tmp_path / "src", n_uuids=12)
    manifest, splits = data.prepare("donateacry", source=tmp_path / "src", seed=1, n_folds=3, progress=False)
    assert json.loads((data_env / "donateacry" / "splits.json").read_text()) == splits
    assert data.load_splits("donateacry") == splits
    for kw in ({}, {"split": "fold", "fold": 2}, {"split": "fold", "fold": 0, "protocol": "random"},
               {"protocol": "random"}):
        tr, va, te = data.split_frames("donateacry", **kw)
        assert len(tr) + len(va) + len(te) == len(manifest) and len(te) and len(tr) and len(va)
        assert list(tr.columns) == data.COLUMNS
    with pytest.raises(ValueError, match="fold"):
        data.split_frames("donateacry", split="fold", fold=3)
    with pytest.raises(ValueError, match="protocol"):
        data.split_frames("donateacry", protocol="nope")


# ---------------------------------------------------------------- split guarantees

def _fake_manifest(seed: int = 0, n_groups: int = 90) -> pd.DataFrame:
    """Imbalanced labels, 1-8 clips per group, some groups with two labels (like a baby with two reasons)."""
    rng = np.random.default_rng(seed)
    labels, p = ["hungry", "discomfort", "tired", "belly_pain", "burping"], [0.6, 0.15, 0.12, 0.08, 0.05]
    rows = []
    for g in range(n_groups):
        main = rng.choice(labels, p=p)
        for j in range(int(rng.integers(1, 9))):
            lab = main if rng.random() < 0.85 else rng.choice(labels, p=p)
            rows.append({"clip_id": f"c/g{g}_{j}", "label": str(lab), "group": f"g{g}"})
    return pd.DataFrame(rows)


def _groups_of(m: pd.DataFrame, ids) -> set:
    return set(m.set_index("clip_id").loc[list(ids), "group"])


def _check_grouped(m: pd.DataFrame, part: dict):
    g = {k: _groups_of(m, part[k]) for k in ("train", "val", "test")}
    assert not g["train"] & g["val"] and not g["train"] & g["test"] and not g["val"] & g["test"]
    all_ids = part["train"] + part["val"] + part["test"]
    assert len(all_ids) == len(set(all_ids))


def test_splits_respect_groups_and_cover_every_clip():
    m = _fake_manifest()
    s = data.make_splits(m, seed=0, n_folds=5)
    json.dumps(s)  # JSON-able
    _check_grouped(m, s["fixed"])
    assert sorted(s["fixed"]["train"] + s["fixed"]["val"] + s["fixed"]["test"]) == sorted(m["clip_id"])
    assert len(s["folds"]) == 5
    tests = [set(f["test"]) for f in s["folds"]]
    assert Counter(c for t in tests for c in t) == Counter(m["clip_id"])  # every clip tested exactly once
    test_groups = [_groups_of(m, f["test"]) for f in s["folds"]]
    for i in range(5):
        _check_grouped(m, s["folds"][i])
        assert set(s["folds"][i]["train"] + s["folds"][i]["val"]) == set(m["clip_id"]) - tests[i]
        for j in range(i + 1, 5):
            assert not test_groups[i] & test_groups[j]


def test_splits_sizes_and_stratification():
    m = _fake_manifest(seed=3, n_groups=150)
    s = data.make_splits(m, seed=0, test_size=0.2, val_size=0.15)
    n = len(m)
    assert abs(len(s["fixed"]["test"]) / n - 0.2) < 0.06
    assert abs(len(s["fixed"]["val"]) / n - 0.15) < 0.06
    overall = m["label"].value_counts(normalize=True)
    by_id = m.set_index("clip_id")["label"]
    for part in [s["fixed"]["test"], s["fixed"]["train"]] + [f["test"] for f in s["folds"]]:
        share = by_id.loc[part].value_counts(normalize=True).reindex(overall.index, fill_value=0)
        assert (share - overall).abs().max() < 0.1, share
    assert set(by_id.loc[s["fixed"]["train"]]) == set(m["label"])  # every class trainable


def test_splits_deterministic_per_seed():
    m = _fake_manifest()
    a, b = data.make_splits(m, seed=7), data.make_splits(m.sample(frac=1, random_state=1), seed=7)
    assert a == data.make_splits(m, seed=7)
    assert a == b  # row order does not matter
    assert a != data.make_splits(m, seed=8)


def test_random_folds_are_by_file_and_leak_groups():
    m = _fake_manifest()
    s = data.make_splits(m, seed=0)
    assert Counter(c for f in s["random_folds"] for c in f["test"]) == Counter(m["clip_id"])
    assert any(_groups_of(m, f["train"]) & _groups_of(m, f["test"]) for f in s["random_folds"])


def test_too_few_groups_is_a_clear_error():
    m = pd.DataFrame({"clip_id": list("abcdef"), "label": ["x", "y"] * 3, "group": ["g1", "g2", "g3"] * 2})
    with pytest.raises(ValueError, match="groups"):
        data.make_splits(m, n_folds=5)


# ---------------------------------------------------------------- link_corpus

def test_link_corpus_links_shared_folders(tmp_path, data_env, monkeypatch):
    shared = tmp_path / "shared"
    for name in ("donateacry", "giulbia"):
        (shared / name / "hungry").mkdir(parents=True)
    monkeypatch.setenv("BABYCRY_SHARED_DATA", str(shared))
    done = linking.link_corpus()
    corpus = data_env / "corpus"
    assert (corpus / "donateacry").is_symlink() and (corpus / "donateacry" / "hungry").is_dir()
    assert (corpus / "giulbia").resolve() == (shared / "giulbia").resolve()
    assert "uploads-sample" in done and not (corpus / "uploads-sample").exists()
    assert "already" in linking.link_corpus()["donateacry"]


def test_link_corpus_failed_clone_is_reported(tmp_path, data_env, monkeypatch):
    import subprocess

    from babycry_core.data import linking as corpus_setup

    monkeypatch.setenv("BABYCRY_SHARED_DATA", str(tmp_path / "none"))

    def fail(url, dest):
        raise subprocess.CalledProcessError(128, ["git", "clone"], stderr="fatal: unable to access")

    monkeypatch.setattr(corpus_setup, "_git_clone", fail)
    done = linking.link_corpus()
    assert "failed" in done["donateacry"] and "unable to access" in done["donateacry"]
    assert not (data_env / "corpus" / "donateacry").exists()


# ---------------------------------------------------------------- the real corpora

@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if not HAS_SHARED:
        pytest.skip(f"real corpus not present at {SHARED}")
    out = tmp_path_factory.mktemp("realdata")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BABYCRY_DATA", str(out))  # corpus/ absent there: the shared folders are used
        res = {c: data.prepare(c, progress=False) for c in ("donateacry", "combined")}
    return {c: res[c] + (pd.read_csv(out / c / "failed.csv"),) for c in res}


@needs_shared
def test_real_donateacry_manifest(real):
    m, s, failed = real["donateacry"]
    assert len(m) == 457 and failed.empty
    assert m["label"].value_counts().to_dict() == {"hungry": 382, "discomfort": 27, "tired": 24,
                                                   "belly_pain": 16, "burping": 8}
    # README says 222 app installs; the cleaned folder holds 221 distinct uuids (case-insensitively too)
    assert m["group"].nunique() == m["uuid"].str.lower().nunique() == 221
    assert m.groupby("group").size().max() == 13
    assert (m["sample_rate"] == 8000).all() and m["duration"].between(6.4, 7.2).all()
    _check_grouped(m, s["fixed"])
    test_groups = [_groups_of(m, f["test"]) for f in s["folds"]]
    assert sum(len(g) for g in test_groups) == len(set().union(*test_groups)) == 221


@needs_shared
def test_real_combined_manifest(real):
    m, s, failed = real["combined"]
    assert failed.empty and len(m) == 457 + 432
    counts = m["label"].value_counts().to_dict()
    assert counts == {"hungry": 382, "discomfort": 20, "cold_hot": 7, "tired": 24, "belly_pain": 16, "burping": 8,
                      "laugh": 108, "silence": 108, "noise": 108, corpora.UNKNOWN_CRY: 108}
    assert len(set(counts) - {corpora.UNKNOWN_CRY}) == 9
    assert set(m.loc[m["is_cry"], "label"]) == set(counts) - {"laugh", "silence", "noise"}
    g = m.groupby("label")["group"].nunique()
    assert (g["laugh"], g["silence"], g["noise"], g[corpora.UNKNOWN_CRY]) == (2, 1, 89, 21)


def _recording(path: str) -> str:
    """giulbia source recording from the file name, independently of the corpus spec."""
    folder, stem = Path(path).parent.name, Path(path).stem
    if folder == "silence":
        return "silence"
    esc = re.match(r"^(\d+-\d+)-[A-Z]$", stem)
    return esc.group(1) if esc else stem.rsplit("_", 1)[0]


@needs_shared
def test_real_giulbia_recordings_never_straddle_a_split(real):
    m, s, _ = real["combined"]
    giul = m[m["source"] == "giulbia"]
    rec = dict(zip(giul["clip_id"], giul["path"].map(_recording)))
    assert len([c for c, r in rec.items() if r == "laugh_1.m4a"]) == 88
    for part in [s["fixed"]] + s["folds"]:
        side = {}
        for k in ("train", "val", "test"):
            for c in part[k]:
                if c in rec:
                    side.setdefault(rec[c], set()).add(k)
        assert all(len(v) == 1 for v in side.values()), {r: v for r, v in side.items() if len(v) > 1}
    _check_grouped(m, s["fixed"])
    for f in s["folds"]:
        _check_grouped(m, f)
    # a single-recording class stays trainable in the fixed split
    assert "silence" in set(m.set_index("clip_id").loc[s["fixed"]["train"], "label"])


@needs_shared
def test_real_random_folds_leak(real):
    for corpus in ("donateacry", "combined"):
        m, s, _ = real[corpus]
        shared = [_groups_of(m, f["train"]) & _groups_of(m, f["test"]) for f in s["random_folds"]]
        assert all(shared), corpus  # every random fold tests on babies / recordings it trained on

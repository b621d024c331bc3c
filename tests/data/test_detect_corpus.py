"""The cry detector's corpus with its optional negatives (dac-rejected, speech-more, urbansound): kinds, groups,
exclusions, and the corpus as before when those folders are missing. Generated audio in tmp folders, plus one
test on ../shared/data when it is there."""
from __future__ import annotations

import itertools
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from babycry_core import paths
from babycry_core.data import corpora, sources, manifest as data
from babycry_core.data.corpora import CorpusSpec

NEW = ("dac-rejected", "speech-more", "urbansound", "laughter")

# Donate-a-Cry uuids: Android writes them lower case (ms times, app 1.7), iOS upper case (s times, app 1.0)
ANDROID = ["1a2b3c4d-0000-4000-8000-00000000000a", "1a2b3c4d-0000-4000-8000-00000000000b",
           "1a2b3c4d-0000-4000-8000-00000000000c"]
IOS = ["5E6F7A8B-0000-4000-8000-00000000000D", "5E6F7A8B-0000-4000-8000-00000000000E",
       "5E6F7A8B-0000-4000-8000-00000000000F"]
ONLY_REJECTED = "9c9c9c9c-0000-4000-8000-000000000009"  # an app with no cleaned cry at all


def _name(uuid: str, k: int, reason: str = "hu", ext: str = ".wav") -> str:
    if uuid != uuid.lower():
        return f"{uuid}-{1430000000 + k}-1.0-f-26-{reason}{ext}"
    return f"{uuid}-{1430000000000 + k * 1000}-1.7-m-04-{reason}{ext}"


def _wav(path: Path, seconds: float = 0.3, sr: int = 8000, seed: int = 0, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr)).astype(np.float32)
    sf.write(path, y, sr, format=fmt, subtype="PCM_16")
    return path


def _tsv(path: Path, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)


@pytest.fixture
def detect_env(tmp_path, monkeypatch):
    """A data dir with every detect source as tiny generated files; no ../shared/data."""
    d = tmp_path / "data"
    monkeypatch.setenv("BABYCRY_DATA", str(d))
    monkeypatch.setenv("BABYCRY_SHARED_DATA", str(tmp_path / "no-shared"))
    c, seeds = d / "corpus", itertools.count()
    for i, u in enumerate(ANDROID + IOS):
        for k in range(2):
            _wav(c / "donateacry" / ("hungry", "tired")[i % 2] / _name(u, k, ("hu", "ti")[i % 2]), seed=next(seeds))
    for stem in ("rec_a.m4a_0", "rec_a.m4a_1", "rec_b.mp3_0", "5-1000-A"):
        _wav(c / "giulbia" / "cry" / f"{stem}.wav", sr=16000, seed=next(seeds))
    for stem in ("laugh_1.m4a_0", "laugh_1.m4a_1", "laugh_2.m4a_0", "laugh_3.m4a_0"):
        _wav(c / "giulbia" / "laugh" / f"{stem}.wav", sr=16000, seed=next(seeds))
    for stem in ("1-100-A", "2-200-A", "2-200-B", "3-300-A"):
        _wav(c / "giulbia" / "noise" / f"{stem}.wav", sr=16000, seed=next(seeds))
    for k in range(3):
        _wav(c / "giulbia" / "silence" / f"silence.wav_{k}.wav", sr=16000, seed=next(seeds))
    (c / "fsdd" / "recordings").mkdir(parents=True)  # derived/ is pre-built below: FSDD is never read
    for stem in ("jackson_0", "jackson_1", "theo_0", "nicolas_0"):
        _wav(d / "derived" / "speech" / f"{stem}.wav", seed=next(seeds))
    for stem in ("roomtone0_0", "roomtone1_0", "roomtone2_0"):
        _wav(d / "derived" / "roomtone" / f"{stem}.wav", seed=next(seeds))

    # dac-rejected: flat, .wav/.caf as named by the app, labels.tsv with the YAMNet cry score
    rej, rows = c / "dac-rejected", []

    def reject(uuid, k, seconds=1.2, cry=0.01, listed=True, ext=".wav", infant=None):
        f = rej / _name(uuid, 10 + k, ext=ext)
        _wav(f, seconds, seed=100 + len(rows), fmt="CAF" if ext == ".caf" else None)
        if listed:
            rows.append({"file": f.name, "uuid": uuid, "platform": "ios" if uuid.isupper() else "android",
                         "duration_s": seconds, "yamnet_top": "Speech", "yamnet_max_cry": cry,
                         "yamnet_max_infant": cry if infant is None else infant})
        return f.name

    made = {"ok": [reject(ANDROID[0], 0), reject(ANDROID[0], 1), reject(IOS[0], 0, ext=".caf"),
                   reject(IOS[1], 0), reject(ONLY_REJECTED, 0), reject(ONLY_REJECTED, 1, cry=0.1, infant=0.19)],
            "uncertain": [reject(ONLY_REJECTED, 2, cry=0.05, infant=0.2), reject(ANDROID[1], 0, cry=0.62)],
            "short": reject(IOS[2], 0, seconds=0.5),
            "empty": reject(IOS[2], 1, seconds=0.0), "unlisted": reject(ANDROID[2], 0, listed=False)}
    _tsv(rej / "labels.tsv", rows)

    # speech-more: <speaker>/<utt>.flac + speakers.tsv
    ages = {"0001": (8, "m"), "0002": (12, "f"), "0003": (13, "f"), "0004": (30, "m"), "0005": (25, "f")}
    for spk in ages:
        for u in range(2):
            _wav(c / "speech-more" / spk / f"{spk}0{u}.flac", sr=16000, seed=next(seeds), fmt="FLAC")
    _tsv(c / "speech-more" / "speakers.tsv",
         [{"speaker": s, "age": a, "gender": g, "split": "train"} for s, (a, g) in ages.items()])

    # urbansound: <class>/<fsID>-<classID>-<occurrence>-<slice>.flac + clips.tsv
    us = ["dog_bark/100-3-0-0", "dog_bark/100-3-0-1", "siren/200-8-0-0", "children_playing/300-2-0-0",
          "drilling/400-4-0-0"]
    for stem in us:
        _wav(c / "urbansound" / f"{stem}.flac", sr=16000, seed=next(seeds), fmt="FLAC")
    _tsv(c / "urbansound" / "clips.tsv", [{"file": f"{s}.flac", "class": s.split("/")[0],
                                           "fsID": s.split("/")[1].split("-")[0], "fold": 1, "duration_s": 0.3,
                                           "orig_duration_s": 0.3} for s in us])

    # laughter: <kind>/<youtube id>_<start>_<end>.m4a (here .wav) + clips.tsv; video "shared" is in both kinds
    laughs = [("baby_laughter", "aaa"), ("baby_laughter", "bbb"), ("baby_laughter", "shared"), ("belly_laugh", "shared"),
              ("belly_laugh", "ccc")]
    for kind, vid in laughs:
        _wav(c / "laughter" / kind / f"{vid}_10_20.wav", sr=16000, seed=next(seeds))
    _tsv(c / "laughter" / "clips.tsv", [{"file": f"{k}/{v}_10_20.wav", "youtube_id": v, "kind": k} for k, v in laughs])
    return d, made


def _sides(m: pd.DataFrame, part: dict) -> dict:
    """group -> the set of parts (train/val/test) its clips are in."""
    grp = m.set_index("clip_id")["group"]
    out: dict = {}
    for k in ("train", "val", "test"):
        for c in part[k]:
            out.setdefault(grp[c], set()).add(k)
    return out


def _never_straddles(m: pd.DataFrame, splits: dict) -> None:
    for part in [splits["fixed"]] + splits["folds"]:
        bad = {g: s for g, s in _sides(m, part).items() if len(s) > 1}
        assert not bad, bad


# ---------------------------------------------------------------- specs

def test_speaker_kind_rule():
    rule = sources.KIND_RULES["speaker"]
    assert rule({"age": "6", "gender": "f"}) == rule({"age": "12", "gender": "m"}) == "speech_children"
    assert rule({"age": "13", "gender": "f"}) == "speech_women" and rule({"age": "37", "gender": "m"}) == "speech_men"
    with pytest.raises(ValueError):
        rule({"age": "30", "gender": "x"})


def test_detect_spec_new_sources_are_optional_negatives():
    spec = corpora.get_corpus("detect")
    new = [s for s in spec.sources if s.name in NEW]
    assert [s.name for s in new] == list(NEW) and all(s.optional and not s.is_cry("noise") for s in new)
    assert not any(s.optional for s in spec.sources if s.name not in NEW)
    assert {s.label for s in new} == {"noise", "speech", "laugh"} <= set(corpora.DETECTOR_CLASSES)
    assert "CC BY-NC" in spec.description


# ---------------------------------------------------------------- generated corpus

def test_detect_kinds_labels_and_groups(detect_env):
    d, made = detect_env
    m = data.build_manifest("detect", progress=False)
    assert list(m.columns) == data.COLUMNS and (m["kind"] != "").all() and m["clip_id"].is_unique
    assert set(m["label"]) == set(corpora.DETECTOR_CLASSES)
    kinds = m.groupby("kind")["label"].agg(set).to_dict()
    assert kinds == {"cry": {"cry"}, "laughing": {"laugh"}, "household_street": {"noise"}, "same_app": {"noise"},
                     "same_app_uncertain": {"noise"}, "silence": {"silence"}, "speech_men": {"speech"},
                     "speech_women": {"speech"}, "speech_children": {"speech"}, "baby_laughter": {"laugh"},
                     "belly_laugh": {"laugh"}}
    by_src = m.groupby("source")["kind"].agg(lambda s: dict(Counter(s))).to_dict()
    assert by_src["dac-rejected"] == {"same_app": len(made["ok"]), "same_app_uncertain": len(made["uncertain"])}
    assert by_src["laughter"] == {"baby_laughter": 3, "belly_laugh": 2}
    lg = m[m["source"] == "laughter"]
    assert lg["group"].nunique() == 4 and set(lg["group"]) == {"yt:aaa", "yt:bbb", "yt:shared", "yt:ccc"}
    assert by_src["speech-more"] == {"speech_children": 4, "speech_women": 4, "speech_men": 2}
    assert by_src["urbansound"] == {"household_street": 5}
    assert by_src["derived"] == {"speech_men": 4, "silence": 3}
    assert by_src["giulbia"] == {"cry": 4, "laughing": 4, "household_street": 4, "silence": 3}
    assert m.loc[m["is_cry"], "kind"].eq("cry").all() and not m.loc[~m["is_cry"], "kind"].eq("cry").any()
    ks = data.kind_summary(m).set_index("kind")
    assert ks.loc["same_app", "clips"] == len(made["ok"]) and ks.loc["same_app", "label"] == "noise"
    assert ks.loc["household_street", "sources"] == "giulbia/urbansound" and ks.loc["speech_men", "groups"] == 4

    rej = m[m["source"] == "dac-rejected"]
    assert (rej["label"] == "noise").all() and not rej["is_cry"].any() and (rej["reason"] == "").all()
    assert (rej["group"] == rej["uuid"]).all()  # grouped by app uuid, as written in the name
    assert sorted(Path(p).name for p in rej["path"]) == sorted(made["ok"] + made["uncertain"])
    assert any(Path(p).suffix == ".caf" for p in rej["path"])

    sp = m[m["source"] == "speech-more"]
    assert (sp["group"] == "speaker:" + sp["clip_id"].str.split("/").str[1]).all() and sp["group"].nunique() == 5
    kind_of = dict(zip(sp["group"], sp["kind"]))
    assert kind_of == {"speaker:0001": "speech_children", "speaker:0002": "speech_children",
                       "speaker:0003": "speech_women", "speaker:0004": "speech_men", "speaker:0005": "speech_women"}

    us = m[m["source"] == "urbansound"]
    stems = us["clip_id"].str.split("/").str[-1]
    assert (us["group"] == "fsID:" + stems.str.split("-").str[0]).all()
    assert us["group"].value_counts().to_dict()["fsID:100"] == 2 and us["group"].nunique() == 4

    # the cleaned cries keep their groups; prefixes keep speaker ids and fsIDs apart from other names
    dac = m[m["source"] == "donateacry"]
    assert (dac["group"] == dac["uuid"]).all() and dac["kind"].eq("cry").all()


def test_detect_exclusions_are_recorded(detect_env):
    d, made = detect_env
    m = data.build_manifest("detect", progress=False)
    failed = pd.read_csv(d / "detect" / "failed.csv")
    why = {Path(p).name: r for p, r in zip(failed["path"], failed["reason"])}
    assert set(why) == {made["short"], made["empty"], made["unlisted"]}
    assert why[made["short"]].startswith("excluded: 0.50 s < 1 s")
    assert "empty" in why[made["empty"]] or "no audio" in why[made["empty"]]
    assert why[made["unlisted"]] == "no row in labels.tsv"
    names = set(m["path"].map(lambda p: Path(p).name))
    assert not names & set(why)
    assert _name(ONLY_REJECTED, 11) in names  # yamnet_max_cry 0.3 is not above 0.3: kept


def test_uuid_with_cries_and_rejects_never_straddles(detect_env):
    m = data.build_manifest("detect", progress=False)
    shared = set(m.loc[m["source"] == "donateacry", "group"]) & set(m.loc[m["source"] == "dac-rejected", "group"])
    assert shared == {ANDROID[0], ANDROID[1], IOS[0], IOS[1]}  # lower-case Android and upper-case iOS uuids both match
    for g in shared:
        assert set(m.loc[m["group"] == g, "label"]) == {"cry", "noise"}
    for seed in range(3):
        s = data.make_splits(m, seed=seed, n_folds=3)
        _never_straddles(m, s)
        for part in [s["fixed"]] + s["folds"]:
            sides = _sides(m, part)
            assert all(len(sides[g]) == 1 for g in shared)


def test_without_optional_folders_the_corpus_is_as_before(detect_env, monkeypatch):
    d, _ = detect_env
    full = data.build_manifest("detect", progress=False)
    for name in NEW:
        shutil.rmtree(d / "corpus" / name)
    bare = data.build_manifest("detect", progress=False)
    assert pd.read_csv(d / "detect" / "failed.csv").empty
    expected = full[~full["source"].isin(NEW)].reset_index(drop=True)
    pd.testing.assert_frame_equal(bare, expected)
    # ... and the same as a corpus that never had the optional sources, splits included
    spec = corpora.get_corpus("detect")
    monkeypatch.setitem(corpora.CORPORA, "detect_before",
                        CorpusSpec("detect_before", tuple(s for s in spec.sources if not s.optional)))
    before = data.build_manifest("detect_before", progress=False)
    pd.testing.assert_frame_equal(bare, before)
    assert data.make_splits(bare, seed=0, n_folds=3) == data.make_splits(before, seed=0, n_folds=3)


def test_a_required_source_still_fails_when_missing(detect_env):
    d, _ = detect_env
    shutil.rmtree(d / "corpus" / "giulbia")
    with pytest.raises(FileNotFoundError, match="giulbia"):
        data.build_manifest("detect", progress=False)


def test_old_manifest_without_kind_is_read(tmp_path):
    p = tmp_path / "manifest.csv"
    cols = [c for c in data.COLUMNS if c != "kind"]
    pd.DataFrame([["a/1", "x.wav", "hungry", "g1", "donateacry", True, 1.0, 8000, "u", "m", "04", "hu"],
                  ["b/1", "y.wav", "noise", "g2", "giulbia", False, 1.0, 8000, "", "", "", ""]],
                 columns=cols).to_csv(p, index=False)
    m = data._read_manifest(p)
    assert m["kind"].tolist() == ["cry", "noise"] and "kind" in m.columns


# ---------------------------------------------------------------- the real folders

SHARED = paths.shared_data_dir()
HAS_REAL = all((SHARED / n).is_dir() for n in ("donateacry", "giulbia", "fsdd") + NEW)


@pytest.mark.skipif(not HAS_REAL, reason=f"the detect corpus's folders are not all in {SHARED}")
def test_real_detect_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "data"))  # no corpus/ links there: ../shared/data is used
    m, s = data.prepare("detect", progress=False)
    failed = pd.read_csv(tmp_path / "data" / "detect" / "failed.csv")
    src_kind = m.groupby(["source", "kind"]).size().to_dict()
    assert src_kind[("dac-rejected", "same_app")] + src_kind[("dac-rejected", "same_app_uncertain")] == 343 - 4
    assert src_kind[("dac-rejected", "same_app_uncertain")] == 35  # yamnet_max_infant >= 0.2, scored apart
    assert (src_kind[("laughter", "baby_laughter")], src_kind[("laughter", "belly_laugh")]) == (541, 108)
    assert m.loc[m["source"] == "laughter", "group"].nunique() == 541 + 108 - 13  # 13 videos in both kinds
    assert (src_kind[("speech-more", "speech_children")], src_kind[("speech-more", "speech_women")],
            src_kind[("speech-more", "speech_men")]) == (208, 180, 112)  # 52 children x 4, 45 women, 28 men
    assert src_kind[("urbansound", "household_street")] == 370
    g = m.groupby("source")["group"].nunique()
    assert (g["speech-more"], g["urbansound"], g["dac-rejected"]) == (125, 286, 182)
    assert len(failed) == 4 and failed["reason"].str.contains(" s < 1 s").all()  # 2 of them hold no audio at all
    # every fold's test part holds laughing babies, belly laughs and clean same-app uploads (stratified by kind)
    kind = m.set_index("clip_id")["kind"]
    for f in s["folds"]:
        held = set(kind[f["test"]])
        assert {"baby_laughter", "belly_laugh", "same_app", "cry", "speech_children"} <= held
    # the rejected uploads name their app's uuid exactly as its cleaned cries do (no case mismatch)
    labels = pd.read_csv(SHARED / "dac-rejected" / "labels.tsv", sep="\t", dtype=str)
    cleaned = {f.name[:36] for f in (SHARED / "donateacry").rglob("*.wav")}
    assert {u for u in labels["uuid"] if u in cleaned} == {u for u in labels["uuid"]
                                                           if u.lower() in {c.lower() for c in cleaned}}
    both = set(m.loc[m["source"] == "donateacry", "group"]) & set(m.loc[m["source"] == "dac-rejected", "group"])
    assert len(both) == 61  # every uuid that overlaps in labels.tsv keeps a reject
    _never_straddles(m, s)
    assert set(m["label"]) == set(corpora.DETECTOR_CLASSES) and (m["kind"] != "").all()
    assert Counter(c for f in s["folds"] for c in f["test"]) == Counter(m["clip_id"])

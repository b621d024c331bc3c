"""Corpus → manifest → grouped splits.

`build_manifest` walks a corpus spec (see `corpora.py`), probes every file, and writes
`<data_dir>/<corpus>/manifest.csv` (one row per clip) plus `failed.csv` (path, reason: files that would not
decode, and files a source leaves out on purpose, their reason starting "excluded:").
`make_splits` cuts it into a fixed train/val/test split and k grouped folds: the clips of one group (one
Donate-a-Cry app install ~ one baby, one home recording, one ESC-50 source clip) always stay on one side,
otherwise the test set hears the training babies. `random_folds` ignore groups; they exist only so the
leaderboard can show how much that leak inflates the scores.

Layout of `data/` (never commit it: it holds corpus links, audio and derived files; the lead keeps it in
.gitignore):
    data/corpus/donateacry      symlink to ../shared/data/donateacry, or the cleaned folder of a clone
    data/corpus/giulbia         symlink to ../shared/data/giulbia
    data/corpus/uploads-sample  symlink to ../shared/data/uploads-sample (raw .3gp/.caf phone uploads)
    data/corpus/{dac-rejected,speech-more,urbansound}  optional extra negatives of the detect corpus
    data/<corpus>/manifest.csv, failed.csv, splits.json
Linking or cloning the corpora into data/corpus/ is data/linking.py (its names are re-exported here).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from babycry_core import fileio, paths
from babycry_core.data.corpora import UNKNOWN_CRY, get_corpus
from babycry_core.data.sources import CRY_KIND, SourceSpec
from babycry_core.data.linking import NO_CORPUS, NoCorpusError

COLUMNS = ["clip_id", "path", "label", "kind", "group", "source", "is_cry", "duration", "sample_rate",
           "uuid", "gender", "age", "reason"]
_STR_COLUMNS = ["clip_id", "path", "label", "kind", "group", "source", "uuid", "gender", "age", "reason"]
BUILD_HINT = "run `python -m babycry_core data build`"


# ---------------------------------------------------------------- paths

def resolve_path(p: str | os.PathLike) -> Path:
    """A manifest `path` as a usable Path: relative paths are relative to the project root."""
    p = Path(p).expanduser()
    return p if p.is_absolute() else paths.ROOT / p


def _store_path(p: Path) -> str:
    """Relative to the project root when inside it (a moved clone still works), else absolute."""
    p = Path(os.path.abspath(p))  # absolute but symlinks kept: data/corpus/... stays inside the project
    try:
        return p.relative_to(paths.ROOT).as_posix()
    except ValueError:
        return str(p)


def _corpus_dir(corpus: str) -> Path:
    return paths.data_dir() / corpus


def _source_root(src: SourceSpec, override: Path | None) -> Path | None:
    """The folder of one source; None for an optional source that is nowhere (it adds no rows)."""
    if override is not None:
        root = Path(override).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"source folder {root} does not exist")
        return Path(os.path.abspath(root))
    root = Path(src.root)
    root = root if root.is_absolute() else paths.data_dir() / root
    if src.derived:  # generated or joined from other corpora (derived.py), built on first use
        from babycry_core.data import derived

        derived.ensure(src.derived, root)
    if root.is_dir():
        return root
    shared = paths.shared_data_dir() / Path(src.root).name
    if shared.is_dir():
        return shared
    if src.optional:
        return None
    if src.name == "donateacry":
        raise NoCorpusError(NO_CORPUS)
    raise FileNotFoundError(f"{src.name} corpus not found at {root}: run `python -m babycry_core data link` "
                            f"(or pass --source FOLDER)")


# ---------------------------------------------------------------- manifest

def build_manifest(corpus: str = "donateacry", source: Path | None = None, out_dir: Path | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """Probe every file of `corpus`; write manifest.csv and failed.csv into out_dir (default data_dir()/corpus).

    `source` replaces the root folder of the corpus's first source (e.g. a Donate-a-Cry clone elsewhere).
    Files that fail to decode, and files a source leaves out (no metadata row, over `max_meta`, under
    `min_duration`), are listed in failed.csv (path, reason) and skipped. An optional source that is missing adds
    no rows.
    """
    from tqdm import tqdm

    from babycry_core.audio import decode as audio

    spec = get_corpus(corpus)
    jobs, failed = [], []
    for i, src in enumerate(spec.sources):
        root = _source_root(src, source if i == 0 else None)
        if root is None:
            continue
        for entry, why in src.entries(root):
            if why is None:
                jobs.append((src, root, entry))
            else:
                failed.append({"path": _store_path(entry), "reason": why})
    if not jobs:
        raise FileNotFoundError(f"no audio files found for corpus {corpus!r}")

    rows, seen = [], set()
    for src, root, e in tqdm(jobs, desc=f"probing {corpus}", unit="file", disable=not progress):
        try:
            info = audio.probe(e.path)
            if not info.duration or info.duration <= 0:
                raise ValueError("no audio samples")
        except Exception as ex:  # a bad file is reported, never fatal
            msg = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
            failed.append({"path": _store_path(e.path), "reason": msg})
            continue
        short = src.too_short(float(info.duration))
        if short:
            failed.append({"path": _store_path(e.path), "reason": short})
            continue
        clip_id = f"{src.name}/{e.rel.with_suffix('').as_posix()}"
        if clip_id in seen:  # same name, other extension
            clip_id = f"{src.name}/{e.rel.as_posix()}"
        seen.add(clip_id)
        p = e.parsed
        rows.append({
            "clip_id": clip_id, "path": _store_path(e.path), "label": e.label, "kind": e.kind, "group": e.group,
            "source": src.name, "is_cry": e.is_cry,
            "duration": round(float(info.duration), 4), "sample_rate": int(info.sample_rate),
            "uuid": p.get("uuid", ""), "gender": p.get("gender", ""), "age": p.get("age", ""),
            # the reason tag a parent chose describes a cry; on a rejected upload (not a cry) it means nothing
            "reason": p.get("reason", "") if e.is_cry else "",
        })
    manifest = pd.DataFrame(rows, columns=COLUMNS).sort_values("clip_id", ignore_index=True)
    out = Path(out_dir) if out_dir is not None else _corpus_dir(spec.name)
    fileio.atomic_write(out / "manifest.csv", lambda fh: manifest.to_csv(fh, index=False), mode="w")
    failed_df = pd.DataFrame(failed, columns=["path", "reason"])
    fileio.atomic_write(out / "failed.csv", lambda fh: failed_df.to_csv(fh, index=False), mode="w")
    return manifest


def _read_manifest(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={c: str for c in _STR_COLUMNS}, keep_default_na=False)
    if "kind" not in df.columns:  # written before kinds existed: "cry" for cries, else the label
        df.insert(COLUMNS.index("kind"), "kind", "")
    df["is_cry"] = df["is_cry"].astype(str).str.lower().isin(["true", "1"])
    missing = df["kind"] == ""
    df.loc[missing, "kind"] = np.where(df.loc[missing, "is_cry"], CRY_KIND, df.loc[missing, "label"])
    df["duration"] = pd.to_numeric(df["duration"])
    df["sample_rate"] = pd.to_numeric(df["sample_rate"]).astype(int)
    return df


def load_manifest(corpus: str = "donateacry") -> pd.DataFrame:
    path = _corpus_dir(corpus) / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no manifest for corpus {corpus!r} at {path}: {BUILD_HINT}"
                                + ("" if corpus == "donateacry" else f" --corpus {corpus}"))
    return _read_manifest(path)


def labels_of(manifest: pd.DataFrame) -> list[str]:
    """Sorted class names present in the data."""
    return sorted(manifest["label"].astype(str).unique())


def model_classes(corpus: str) -> list[str]:
    """The classes a model of this corpus learns: every label except the gate-only "cry without a reason"."""
    return [c for c in labels_of(load_manifest(corpus)) if c != UNKNOWN_CRY]


def class_summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """Per label: clips, groups (distinct source recordings / babies), share of clips, is_cry."""
    g = manifest.groupby("label", sort=True)
    out = pd.DataFrame({"clips": g.size(), "groups": g["group"].nunique(), "is_cry": g["is_cry"].all()})
    out["share"] = (out["clips"] / max(len(manifest), 1)).round(4)
    out = out.reset_index()[["label", "clips", "groups", "share", "is_cry"]]
    return out.sort_values(["clips", "label"], ascending=[False, True], ignore_index=True)


def kind_summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """Per kind (what the sound really is): its label, clips, groups and sources."""
    g = manifest.groupby("kind", sort=True)
    out = pd.DataFrame({"label": g["label"].agg(lambda s: "/".join(sorted(set(s)))), "clips": g.size(),
                        "groups": g["group"].nunique(), "sources": g["source"].agg(lambda s: "/".join(sorted(set(s))))})
    return out.reset_index().sort_values(["label", "kind"], ignore_index=True)


# ---------------------------------------------------------------- splits

def _pick(y: np.ndarray, groups: np.ndarray | None, idx: np.ndarray, k: int, seed: int,
          tries: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ~1/k of `idx` by group (groups=None: by file). Among the folds of `tries` seeded
    StratifiedGroupKFold shuffles, take the one that keeps every class in the remaining part, then best balances
    covering the classes that have 2+ groups, the class mix and the size. Deterministic in `seed`.
    Returns (rest, held) positions."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    yy = y[idx]
    gg = idx.astype(str) if groups is None else groups[idx]
    n_groups = len(set(gg))
    if n_groups < 2:
        raise ValueError(f"cannot split {len(idx)} clips in {n_groups} group(s): need at least 2 groups")
    k = min(k, n_groups)
    classes = np.unique(yy)
    multi = {c for c in classes if len(set(gg[yy == c])) > 1}
    overall = np.array([(yy == c).mean() for c in classes])
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes with fewer groups than folds: expected here
        for t in range(tries):
            if groups is None:
                folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed * 1000 + t).split(idx, yy)
            else:
                folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed * 1000 + t).split(idx, yy, gg)
            for rest, held in folds:
                mix = np.array([(yy[held] == c).mean() for c in classes])
                score = (len(set(classes) - set(yy[rest])),
                         0.5 * len(multi - set(yy[held])) + float(np.abs(mix - overall).sum())
                         + abs(len(held) / len(idx) - 1 / k))
                if best is None or score < best[0]:
                    best = (score, rest, held)
    return idx[best[1]], idx[best[2]]


def _ids(ids: np.ndarray, positions) -> list[str]:
    return sorted(ids[np.asarray(positions, dtype=int)].tolist())


def _part(ids, train, val, test) -> dict:
    return {"train": _ids(ids, train), "val": _ids(ids, val), "test": _ids(ids, test)}


def _protocol(ids, y, groups, ks: tuple[int, int, int], n_folds: int, seed: int) -> tuple[dict, list[dict]]:
    """One protocol's fixed split and folds: grouped (by baby / recording / speaker), or by file when groups is None."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    k_test, k_val, k_inner = ks
    rest, test = _pick(y, groups, np.arange(len(ids)), k_test, seed)
    train, val = _pick(y, groups, rest, k_val, seed)
    fixed = _part(ids, train, val, test)
    outer = (StratifiedKFold if groups is None else StratifiedGroupKFold)(n_splits=n_folds, shuffle=True,
                                                                          random_state=seed)
    folds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rest, test in outer.split(ids, y, groups):
            train, val = _pick(y, groups, rest, k_inner, seed)
            folds.append(_part(ids, train, val, test))
    return fixed, folds


def strata(manifest: pd.DataFrame) -> np.ndarray:
    """What the splits stratify on: the label, and the kind where it is finer than the label (laughing babies and
    giulbia's laugh recordings, same-app uploads and street sounds), so that every fold holds some of each kind.
    Where every kind is its label's only kind (the reason corpora) this is the label itself."""
    y = manifest["label"].astype(str)
    if "kind" not in manifest:
        return y.to_numpy()
    kind = manifest["kind"].astype(str)
    finer = kind.groupby(y).transform("nunique") > 1
    return np.where(finer, y + "/" + kind, y)


def make_splits(manifest: pd.DataFrame, *, seed: int = 0, test_size: float = 0.2, val_size: float = 0.15,
                n_folds: int = 5) -> dict:
    """Grouped (by `group`), label-stratified splits as JSON-able lists of clip_ids.

    Stratified by `strata` (the label, or label/kind where a label holds several kinds).
    fixed: train/val/test (~test_size and ~val_size of all clips); folds: n_folds grouped folds whose test parts
    partition the corpus, each with a grouped val subset of its training part (for early stopping);
    random_folds / random_fixed: the same by file, ignoring groups (leaky: leaderboard contrast only).
    A class with a single group (giulbia silence) can only ever sit on one side; the fixed split keeps it in train.
    """
    if not 0 < test_size < 1 or not 0 < val_size < 1 or test_size + val_size >= 1:
        raise ValueError("need 0 < test_size, val_size and test_size + val_size < 1")
    if n_folds < 2:
        raise ValueError("n_folds must be at least 2")
    if manifest["clip_id"].duplicated().any():
        raise ValueError("manifest has duplicate clip_ids")
    manifest = manifest.sort_values("clip_id", ignore_index=True)  # row order must not change the splits
    ids = manifest["clip_id"].astype(str).to_numpy()
    y = strata(manifest)
    groups = manifest["group"].astype(str).to_numpy()
    if len(set(groups)) < n_folds:
        raise ValueError(f"{len(set(groups))} groups cannot make {n_folds} grouped folds")
    k_test = max(2, round(1 / test_size))
    k_val = max(2, round((1 - test_size) / val_size))
    k_inner = max(2, round((1 - 1 / n_folds) / val_size))
    fixed, folds = _protocol(ids, y, groups, (k_test, k_val, k_inner), n_folds, seed)
    random_fixed, random_folds = _protocol(ids, y, None, (k_test, k_val, k_inner), n_folds, seed)  # leaky: by file

    return {"version": 1, "seed": seed, "test_size": test_size, "val_size": val_size, "n_folds": n_folds,
            "n_clips": len(ids), "n_groups": int(len(set(groups))), "fixed": fixed, "folds": folds,
            "random_fixed": random_fixed, "random_folds": random_folds}


def write_splits(splits: dict, out_dir: Path) -> Path:
    return fileio.write_json(Path(out_dir) / "splits.json", splits)


def load_splits(corpus: str = "donateacry") -> dict:
    path = _corpus_dir(corpus) / "splits.json"
    if not path.is_file():
        raise FileNotFoundError(f"no splits for corpus {corpus!r} at {path}: {BUILD_HINT}")
    return fileio.read_json(path)


def prepare(corpus: str = "donateacry", source: Path | None = None, seed: int = 0, n_folds: int = 5,
            progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Build the manifest and the splits of one corpus into data_dir()/corpus (what the CLI calls)."""
    manifest = build_manifest(corpus, source=source, progress=progress)
    splits = {"corpus": corpus, **make_splits(manifest, seed=seed, n_folds=n_folds)}
    write_splits(splits, _corpus_dir(corpus))
    return manifest, splits


def _split_part(splits: dict, split: str, fold: int | None, protocol: str) -> dict:
    if protocol not in ("grouped", "random"):
        raise ValueError(f"protocol must be 'grouped' or 'random', not {protocol!r}")
    if split not in ("fixed", "fold", "folds", "cv"):
        raise ValueError(f"split must be 'fixed' or 'fold', not {split!r}")
    if split == "fixed" and fold is None:
        return splits["fixed" if protocol == "grouped" else "random_fixed"]
    folds = splits["folds" if protocol == "grouped" else "random_folds"]
    if fold is None or not 0 <= int(fold) < len(folds):
        raise ValueError(f"fold must be 0..{len(folds) - 1} with split={split!r}, not {fold!r}")
    return folds[int(fold)]


def split_frames(corpus: str = "donateacry", split: str = "fixed", fold: int | None = None,
                 protocol: str = "grouped") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train, val, test) manifest rows of the fixed split, or of grouped fold `fold` (split="fold").

    protocol="random" gives the leaky by-file split/folds instead.
    """
    manifest = load_manifest(corpus)
    part = _split_part(load_splits(corpus), split, fold, protocol)
    by_id = manifest.set_index("clip_id", drop=False)
    wanted = part["train"] + part["val"] + part["test"]
    missing = set(wanted) - set(by_id.index)
    if missing:
        raise ValueError(f"splits.json names {len(missing)} clips missing from the manifest of {corpus!r} "
                         f"(e.g. {sorted(missing)[0]}); they are out of date: {BUILD_HINT}")
    return tuple(by_id.loc[part[k]].reset_index(drop=True) for k in ("train", "val", "test"))


def split_clips(cfg, labels: list[str] | None = None):
    """(labels, {"train"|"val"|"test": (paths, y, frame)}) of a run's saved split or fold; `cfg` is a TrainConfig
    (corpus, split, fold, protocol). labels: every model class of the corpus unless given."""
    fold = cfg.fold if cfg.split == "fold" else None
    frames = dict(zip(("train", "val", "test"), split_frames(cfg.corpus, cfg.split, fold, cfg.protocol)))
    # a flat model learns every class of the corpus except "cry without a reason" (a gate-only label)
    labels = labels or model_classes(cfg.corpus)
    index = {c: i for i, c in enumerate(labels)}
    out = {}
    for part, df in frames.items():
        df = df[df["label"].isin(index)].reset_index(drop=True)
        out[part] = ([resolve_path(p) for p in df["path"]], df["label"].map(index).to_numpy(dtype=np.int64), df)
    return labels, out

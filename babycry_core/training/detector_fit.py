"""Training the cry detector: the corpus "detect", augmented training windows, training.loop.fit, a cry threshold.

`fit_detector(cfg, run_dir)` trains on the fixed split or one grouped fold of `data/detect` (by baby,
recording, ESC-50 source and speaker). The training part gets augmented copies (augment/waveform.py) cut into
2 s windows; validation and test are real recordings only. The epoch loop is training.loop.fit's own; this module
contributes the data and a finish hook that chooses the cry threshold on validation *recordings* (not
windows), with each validation cry also turned down to -40 dBFS, and scores the test recordings. The
training part also gets generated household sounds (household.py) as more kinds of noise; they are never
tested.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from babycry_core.data.corpora import CRY, DETECTOR_CLASSES, SPEECH
from babycry_core.inference.cry_detector import CryDetector, choose_threshold
from babycry_core.models.detector_net import DETECTOR_FEATURES
from babycry_core.runs.run_folder import RunFolder
from babycry_core.audio.signal import rms_dbfs
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import fix_length, log_mel, window_starts

CORPUS = "detect"
N_AUGMENTED = {"cry": 1, "speech": 1, "laugh": 4, "noise": 4, "silence": 2}  # augmented copies per recording:
# the rare, varied not-a-cry kinds get more (the sampler balances classes; more copies make them more varied)
TRAIN_HOP_S = 1.0  # training windows are cut 1 s apart (inference scores every 0.5 s)
QUIET_DBFS = -40.0
N_HOUSEHOLD, HOUSEHOLD_SECONDS = 200, 5.0  # generated household sounds added to the training part (noise)
N_LAUGHS = (50, 200)  # generated laughs (laughter.py) added to the training part, HOUSEHOLD_SECONDS each:
# synthetic ones, and ones cut from the training part's own cries in a laugh's rhythm
ACTIVE_DB = 20.0  # training windows this far below the recording's loudest window are left out
MIN_RECALL = 0.98  # the threshold's validation recall (the target is >= 0.95 on held-out babies)


def default_config(**overrides):
    """The detector's TrainConfig: 2 s normalised windows, balanced sampling, 6000 windows an epoch, one thread."""
    from babycry_core.training.loop import TrainConfig

    base = dict(model="cry_detector", corpus=CORPUS, epochs=15, batch_size=64, patience=5, mixup=0.0, lr=3e-3,
                dropout=0.2, score_train=False, epoch_size=6000, threads=1, features=DETECTOR_FEATURES.to_dict())
    base.update(overrides)
    return TrainConfig(**base)


def as_detector_config(cfg):
    """cfg with the detector's defaults wherever it holds TrainConfig's generic ones (the CLI's and the Train
    page's configs): a detector always gets its 2 s normalised windows, its epoch size and its sampler."""
    from babycry_core.training.loop import TrainConfig

    generic = TrainConfig(model=cfg.model)
    given = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
             if getattr(cfg, f.name) != getattr(generic, f.name)}
    return default_config(**given)


def load_waves(frame: pd.DataFrame, sr: int, progress: bool = False) -> list[np.ndarray]:
    from tqdm import tqdm

    from babycry_core.audio import decode as audio
    from babycry_core.data import manifest as data

    return [audio.load(data.resolve_path(p), sr) for p in tqdm(frame["path"], desc="decoding", leave=False,
                                                                 disable=not progress)]


def cut(y: np.ndarray, cfg: FeatureConfig, hop_s: float = TRAIN_HOP_S) -> list[np.ndarray]:
    """Training windows of one recording: cfg.clip_seconds long, hop_s apart (a short one padded), without
    the windows more than ACTIVE_DB below the recording's loudest one: a pause between two cries (or the
    silent tail of an ESC-50 clip) is no example of its recording's label."""
    n = cfg.clip_samples
    wins = [fix_length(y[s : s + n], n) for s in window_starts(len(y), n, int(hop_s * cfg.sample_rate),
                                                                slack=1.0, tail=False)]
    return wins if len(wins) == 1 else [w for w, keep in zip(wins, active(wins)) if keep]


def active(wins) -> np.ndarray:
    """(windows,) bool: the windows no more than ACTIVE_DB below the loudest one (all of a silent recording)."""
    level = np.array([rms_dbfs(w) for w in wins])
    return level >= level.max() - ACTIVE_DB


def _windows_part(waves, frame: pd.DataFrame, labels: list[str], cfg: FeatureConfig, tag: str = ""):
    index = {c: i for i, c in enumerate(labels)}
    X, y, rows = [], [], []
    for w, (_, row) in zip(waves, frame.iterrows()):
        for j, win in enumerate(cut(w, cfg)):
            X.append(log_mel(win, cfg))
            y.append(index[row["label"]])
            rows.append({**row.to_dict(), "clip_id": f"{row['clip_id']}{tag}@{j}", "recording": row["clip_id"]})
    X = np.stack(X)[:, None] if X else np.zeros((0, 1, cfg.n_mels, 1 + cfg.clip_samples // cfg.hop_length), np.float32)
    return X.astype(np.float32), np.array(y, dtype=np.int64), pd.DataFrame(rows)


def augmented(waves, frame: pd.DataFrame, sr: int, seed: int, progress: bool = False):
    """N_AUGMENTED[label] random-chain copies of every training recording, plus one pitched-up copy of each
    speech recording. Interferers: the part's own speech and noise / room-tone recordings. Returns (waves, frame)."""
    from tqdm import tqdm

    from babycry_core.augment.waveform import random_chain

    rng = np.random.default_rng(seed)
    labels = frame["label"].astype(str).to_numpy()
    pools = {"speech": [w for w, c in zip(waves, labels) if c == SPEECH],
             "noise": [w for w, c in zip(waves, labels) if c in ("noise", "silence")]}
    out_w, out_rows = [], []
    jobs = [(i, k, False) for i in range(len(waves)) for k in range(N_AUGMENTED.get(labels[i], 1))]
    jobs += [(i, N_AUGMENTED[SPEECH], True) for i in range(len(waves)) if labels[i] == SPEECH]
    for i, k, pitch in tqdm(jobs, desc="augmenting", leave=False, disable=not progress):
        y, steps = random_chain(waves[i], sr, rng, pools, label=labels[i], pitch=pitch)
        out_w.append(y)
        out_rows.append({**frame.iloc[i].to_dict(), "clip_id": f"{frame.iloc[i]['clip_id']}#aug{k}",
                         "augmentation": ", ".join(steps)})
    return out_w, pd.DataFrame(out_rows)


def with_generated(frame: pd.DataFrame, waves: list, sr: int, seed: int):
    """The training part plus N_HOUSEHOLD generated household sounds (household.py, labelled noise) and
    N_LAUGHS generated laughs (laughter.py: synthetic, and cut from the part's own cries), each its own group."""
    from babycry_core.augment import household
    from babycry_core.augment import laughter

    hw, kinds = household.sounds(N_HOUSEHOLD, HOUSEHOLD_SECONDS, sr, seed)
    cries = [w for w, c in zip(waves, frame["label"]) if c == CRY]
    lw = laughter.sounds(N_LAUGHS[0], HOUSEHOLD_SECONDS, sr, seed + 1)
    lw += laughter.voiced_sounds(cries, N_LAUGHS[1], HOUSEHOLD_SECONDS, sr, seed + 2) if cries else []
    rows = [{"clip_id": f"household/{k}_{i}", "label": "noise", "group": f"household_{i}", "source": "household"}
            for i, k in enumerate(kinds)]
    rows += [{"clip_id": f"generated/laugh_{i}", "label": "laugh", "group": f"generated_laugh_{i}",
              "source": "generated"} for i in range(len(lw))]
    rows = pd.DataFrame([{**r, "is_cry": False, "duration": HOUSEHOLD_SECONDS} for r in rows])
    return pd.concat([frame, rows], ignore_index=True), list(waves) + hw + lw


def build_parts(cfg, frames, *, progress: bool = False):
    """{part: (X, y, window frame)} for training.loop.fit, and the decoded recordings of each part (the training
    part's with the generated household sounds, and its augmented copies under "train_aug")."""
    fcfg = cfg.feature_config
    labels = list(DETECTOR_CLASSES)
    frames = dict(frames)
    waves = {part: load_waves(f, fcfg.sample_rate, progress) for part, f in frames.items()}
    frames["train"], waves["train"] = with_generated(frames["train"], waves["train"], fcfg.sample_rate,
                                                     cfg.seed + 1000 * int(cfg.fold or 0))
    waves["train_is_cry"] = list(frames["train"]["label"] == CRY)
    parts = {part: _windows_part(waves[part], f, labels, fcfg) for part, f in frames.items()}
    aw, af = augmented(waves["train"], frames["train"], fcfg.sample_rate, cfg.seed, progress)
    waves["train_aug"], waves["train_aug_is_cry"] = aw, list(af["label"] == CRY)
    Xa, ya, fa = _windows_part(aw, af, labels, fcfg)
    X, y, f = parts["train"]
    parts["train"] = (np.concatenate([X, Xa]), np.concatenate([y, ya]), pd.concat([f, fa], ignore_index=True))
    info = {"augmented_recordings": len(aw), "household_sounds": N_HOUSEHOLD, "generated_laughs": list(N_LAUGHS),
            "active_db": ACTIVE_DB, "n_augmented": N_AUGMENTED, "train_windows": int(len(parts["train"][1])),
            "train_windows_per_class": {labels[i]: int(n) for i, n in enumerate(np.bincount(parts["train"][1],
                                                                                               minlength=len(labels)))}}
    return labels, parts, waves, info


def with_quiet_cries(waves, is_cry) -> tuple[list[np.ndarray], np.ndarray]:
    """(recordings, is_cry): the recordings, then each cry among them turned down to QUIET_DBFS (all cries): what a
    clip threshold is chosen on, so that a quiet cry is still heard."""
    from babycry_core.augment.waveform import gain

    is_cry = np.asarray(is_cry, bool)
    quiet = [gain(w, QUIET_DBFS) for w, c in zip(waves, is_cry) if c]
    return list(waves) + quiet, np.concatenate([is_cry, np.ones(len(quiet), bool)])


def recording_scores(det: CryDetector, waves, quiet_dbfs: float | None = None) -> np.ndarray:
    """The detector's cry probability of each recording (optionally turned down to quiet_dbfs first)."""
    from babycry_core.augment.waveform import gain

    return np.array([det.detect(gain(w, quiet_dbfs) if quiet_dbfs is not None else w).probability for w in waves])


def test_figures(det: CryDetector, waves, frame: pd.DataFrame) -> dict:
    """Recording-level cry detection on the test part: F1 / recall / precision with group intervals, false
    alarms per kind, and the recall of the test cries turned down to QUIET_DBFS."""
    from babycry_core.eval.cry_metrics import cry_detection

    is_cry = (frame["label"] == CRY).to_numpy()
    called = recording_scores(det, waves) >= det.threshold
    out = cry_detection(is_cry, called, frame["group"].astype(str).tolist(), true_labels=frame["label"].tolist())
    quiet = recording_scores(det, [w for w, c in zip(waves, is_cry) if c], QUIET_DBFS) >= det.threshold
    out["quiet_recall"] = float(quiet.mean()) if len(quiet) else None
    out["quiet_dbfs"] = QUIET_DBFS
    return out


def fit_detector(cfg, run_dir: Path | None = None, *, progress: bool = True, frames=None, prepared=None) -> Path:
    """Train a cry detector run (see the module doc). `frames` = {"train", "val", "test"} manifest rows
    (default: the config's split of data/detect); `prepared`: build_parts() of those frames, when the caller
    has it already."""
    from babycry_core.data import manifest as data
    from babycry_core.training import loop as train
    from babycry_core.runs.checkpoint import load

    if frames is None:
        fold = cfg.fold if cfg.split == "fold" else None
        frames = dict(zip(("train", "val", "test"), data.split_frames(CORPUS, cfg.split, fold, cfg.protocol)))
    labels, parts, waves, info = prepared or build_parts(cfg, frames, progress=progress)

    def finish(run_dir: Path) -> None:
        folder = RunFolder(run_dir)
        det = CryDetector(load(folder), folder)
        recs, rec_cry = with_quiet_cries(waves["val"], (frames["val"]["label"] == CRY).to_numpy())
        chosen = choose_threshold(recording_scores(det, recs), rec_cry, MIN_RECALL)
        cal = dict(folder.read(RunFolder.CALIBRATION))
        cal.update(chosen, top_fraction=det.top_fraction, quiet_dbfs=QUIET_DBFS,
                   fit_on=f"validation recordings ({len(waves['val'])}) and their cries at {QUIET_DBFS:g} dBFS")
        folder.write(RunFolder.CALIBRATION, cal)
        if len(frames["test"]):
            folder.update(RunFolder.METRICS, cry=test_figures(CryDetector(load(folder), folder), waves["test"],
                                                              frames["test"]))

    meta = {"role": "detector", "augmentation": info, "n_recordings": {k: int(len(v)) for k, v in frames.items()}}
    return train.fit(dataclasses.replace(cfg), run_dir, progress=progress, data_parts=(labels, parts),
                     extra_meta=meta, finish_hook=finish)


def score_run(run_dir: Path) -> dict:
    """(Re)compute a detector run's recording-level test figures into its metrics.json["cry"]."""
    from babycry_core.data import manifest as data
    from babycry_core.runs.checkpoint import load

    folder = RunFolder.of(run_dir)
    config = folder.config
    fold = config.get("fold") if config.get("split") == "fold" else None
    _, _, test = data.split_frames(CORPUS, config.get("split", "fixed"), fold, config.get("protocol", "grouped"))
    det = CryDetector(load(folder), folder)
    return folder.update(RunFolder.METRICS, cry=test_figures(det, load_waves(test, det.cfg.sample_rate), test))["cry"]

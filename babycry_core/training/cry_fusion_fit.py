"""Fitting YAMNet's side of a fused cry detector (inference/cry_fusion.py) on top of a trained cry_detector run.

- The head: a class-balanced logistic regression on YAMNet's window features of the *training* recordings and
  their augmented copies (the phone codecs and gains on every class, augment/waveform.py), at most
  MAX_WINDOWS_PER_RECORDING active windows each (windows more than ACTIVE_DB below the recording's loudest are
  left out, as for the CNN).
- The fusion (mode "fusion"): a logistic regression on [logit CNN P(cry), head logit, logit YAMNet's cry score] over
  the *validation* windows and those of the validation cries turned down to QUIET_DBFS: neither network trained on
  them.
- The screen (modes "cascade" and "fusion"): the CNN window P(cry) that lets through SCREEN_RECALL of the validation
  cries' active windows (quiet ones included), so that YAMNet runs only where the CNN hears something cry-like.
- The clip threshold: the detector's rule (training/detector_fit.py) on the validation recordings and quiet cries.

Window features are cached on disk per recording (by content and YAMNet's weights): five folds compute each
recording once.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from babycry_core import fileio, paths
from babycry_core.data.corpora import CRY
from babycry_core.features.logmel import windows
from babycry_core.inference.cry_fusion import MODES, YamnetFusion, logit
from babycry_core.inference.cry_detector import CryDetector, choose_threshold, clip_probability
from babycry_core.runs.run_folder import RunFolder
from babycry_core.training.detector_fit import active

MAX_WINDOWS_PER_RECORDING = 6
SCREEN_RECALL = 0.99
HEAD_C = 0.1
MIN_THRESHOLD = 1e-3


def recording_windows(y: np.ndarray, cfg) -> np.ndarray:
    """(windows, samples): the detector's own windows of a recording (features.logmel.windows)."""
    return np.stack([w for _, w in windows(y, cfg)])


def sampled_active(W: np.ndarray, rng=None, cap: int | None = None) -> np.ndarray:
    """Indices of the active windows of one recording's windows W (training.detector_fit.active), at most `cap` of them
    drawn by rng: a few training examples per recording, none from its pauses."""
    keep = np.flatnonzero(active(W))
    if cap and len(keep) > cap:
        keep = rng.choice(keep, cap, replace=False)
    return keep


def recording_features(y: np.ndarray, cfg, handle: str | None = None) -> np.ndarray:
    """YAMNet's window features (windows, N_FEATURES) of one recording, cached on disk."""
    from babycry_core.features.yamnet import model_key
    from babycry_core.features.yamnet_windows import window_features

    key = hashlib.sha1(np.ascontiguousarray(y, np.float32).tobytes()
                       + f"{cfg.sample_rate}/{cfg.clip_samples}/{cfg.window_hop_samples}/{model_key(handle)}".encode())
    f = paths.cache_dir() / "yamnet_windows" / f"{key.hexdigest()}.npy"
    return fileio.cached_npy(f, lambda: window_features(recording_windows(y, cfg), cfg.sample_rate, handle))


def training_table(waves, is_cry, cfg, seed: int = 0, handle: str | None = None, progress: bool = False):
    """(features (windows, N_FEATURES), is_cry (windows,)) for the head: active windows, a few per recording."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    F, y = [], []
    for w, c in tqdm(list(zip(waves, is_cry)), desc="YAMNet windows", leave=False, disable=not progress):
        feats = recording_features(w, cfg, handle)
        keep = sampled_active(recording_windows(w, cfg), rng, MAX_WINDOWS_PER_RECORDING)
        F.append(feats[keep])
        y += [bool(c)] * len(keep)
    return np.concatenate(F), np.array(y)


def fit_head(F: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, coef, intercept) of a class-balanced logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = F.mean(0), F.std(0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    clf = LogisticRegression(C=HEAD_C, class_weight="balanced", max_iter=3000)
    clf.fit((F - mean) / scale, y.astype(int))
    return mean, scale, clf.coef_[0].astype(np.float64), float(clf.intercept_[0])


def validation_table(det: CryDetector, val_waves, val_is_cry, handle: str | None = None):
    """Per validation recording and per validation cry turned down to QUIET_DBFS: the CNN's window P(cry), YAMNet's
    window features and the active windows; and whether each is a cry. (p_cnn, feats, act, rec_cry)"""
    from babycry_core.training.detector_fit import with_quiet_cries

    recs, rec_cry = with_quiet_cries(val_waves, val_is_cry)
    p_cnn, feats, act = [], [], []
    for w in recs:
        W = recording_windows(w, det.cfg)
        p_cnn.append(det.feature_proba(det.features(list(W)))[:, det.cry_index])
        feats.append(recording_features(w, det.cfg, handle))
        act.append(active(W))
    return p_cnn, feats, act, rec_cry


def fit_fusion(det: CryDetector, train_waves, train_is_cry, val_waves, val_is_cry, mode: str = "fusion",
               handle: str | None = None, seed: int = 0, progress: bool = False) -> YamnetFusion:
    """YAMNet's side for the CNN detector `det` (see the module doc)."""
    from babycry_core.features.yamnet import model_key
    from babycry_core.training.detector_fit import QUIET_DBFS

    if mode not in MODES:
        raise ValueError(f"unknown fusion mode {mode!r}; valid: {', '.join(MODES)}")
    cfg = det.cfg
    F, y = training_table(train_waves, train_is_cry, cfg, seed, handle, progress)
    fusion = YamnetFusion(mode, *fit_head(F, y), handle=handle, model_key=model_key(handle))
    p_cnn, feats, act, rec_cry = validation_table(det, val_waves, val_is_cry, handle)
    if mode == "fusion":
        from sklearn.linear_model import LogisticRegression

        Z = np.concatenate([np.stack([logit(p[a]), fusion.head_logit(f[a]), logit(f[a, 0])], 1)
                            for p, f, a in zip(p_cnn, feats, act)])
        t = np.concatenate([[c] * int(a.sum()) for c, a in zip(rec_cry, act)])
        lr = LogisticRegression(class_weight="balanced", max_iter=1000).fit(Z, t.astype(int))
        fusion.weights, fusion.bias = tuple(float(v) for v in lr.coef_[0]), float(lr.intercept_[0])
    calibrate(fusion, p_cnn, feats, act, rec_cry, det.top_fraction)
    fusion.info = {"fit": {"head_windows": int(len(y)), "head_cry_windows": int(y.sum()),
                           "validation_recordings": int(len(val_waves)),
                           "quiet_cries": int(len(rec_cry) - len(val_waves)),
                           "quiet_dbfs": QUIET_DBFS, **fusion.info.get("fit", {})}}
    return fusion


def calibrate(fusion: YamnetFusion, p_cnn, feats, act, rec_cry, top_fraction: float) -> None:
    """The screen (cascade and fusion: the CNN window P(cry) that lets through SCREEN_RECALL of the validation cries'
    active windows) and the clip threshold (the detector's rule), from validation recordings' CNN window P(cry),
    YAMNet window features and active windows."""
    from babycry_core.training.detector_fit import MIN_RECALL

    rec_cry = np.asarray(rec_cry, bool)
    if fusion.mode in ("cascade", "fusion"):
        cry_windows = [p[a] for p, a, c in zip(p_cnn, act, rec_cry) if c]
        fusion.screen = float(np.quantile(np.concatenate(cry_windows), 1 - SCREEN_RECALL)) if cry_windows else None
    clip_p = [clip_probability(fusion.screened(p, lambda ask, f=f: f[ask]), top_fraction) for p, f in zip(p_cnn, feats)]
    chosen = choose_threshold(np.array(clip_p), rec_cry, MIN_RECALL)
    fusion.threshold = max(float(chosen["cry_threshold"]), MIN_THRESHOLD)  # P(cry) 0 (screened out) is never a cry
    fusion.info.setdefault("fit", {}).update({k: v for k, v in chosen.items() if k != "cry_threshold"},
                                             screen_recall=SCREEN_RECALL if fusion.screen is not None else None)


def fuse_run(cnn_run: Path | RunFolder, out_dir: Path, fusion: YamnetFusion, note: dict | None = None) -> Path:
    """A fused run folder: a copy of the CNN run plus fusion.json and the head (the CNN run is left as it was)."""
    cnn_run, out_dir = Path(cnn_run), Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(cnn_run, out_dir, ignore=shutil.ignore_patterns(*RunFolder.NOT_COPIED))
    folder = RunFolder(out_dir)
    fusion.save(folder)
    folder.update(RunFolder.CONFIG, fused_from=cnn_run.name, fusion_mode=fusion.mode, **(note or {}))
    return out_dir


def fuse_detector_run(cnn_run, mode: str = "fusion", out_dir: Path | None = None, progress: bool = True) -> Path:
    """`python -m babycry_core fuse RUN`: YAMNet's side fitted on the CNN run's own split of data/detect (its
    training part and augmented copies for the head, its validation part for the fusion and the threshold), written
    as a new run folder (checkpoints/<time>-cry_fusion-<hex>/); its test figures are scored as for any detector."""
    from babycry_core.data import manifest as data
    from babycry_core.runs import run_registry as runs
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.detector_fit import CORPUS, build_parts, default_config, score_run

    cnn_run = runs.open_run(cnn_run)
    config = cnn_run.config
    if config.get("role") != "detector" or cnn_run.has(RunFolder.FUSION):
        raise ValueError(f"{cnn_run.name} is not a plain cry_detector run: fuse a CNN detector")
    split, fold = config.get("split", "fixed"), config.get("fold")
    cfg = default_config(split=split, fold=fold, seed=int(config.get("seed", 0)))
    frames = dict(zip(("train", "val", "test"),
                      data.split_frames(CORPUS, split, fold if split == "fold" else None, config.get("protocol", "grouped"))))
    _, _, waves, _ = build_parts(cfg, frames, progress=progress)
    fusion = fit_fusion(CryDetector(load(cnn_run), cnn_run), waves["train"] + waves["train_aug"],
                        [*waves["train_is_cry"], *waves["train_aug_is_cry"]], waves["val"],
                        (frames["val"]["label"] == CRY).to_numpy(), mode, progress=progress)
    out_dir = Path(out_dir) if out_dir else runs.new_run_dir("cry_fusion")
    fuse_run(cnn_run, out_dir, fusion, {"split": split, "fold": fold})
    score_run(out_dir)
    return out_dir

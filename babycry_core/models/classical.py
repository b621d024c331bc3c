"""SVM and XGBoost on clip embeddings: the `svm` and `xgboost` registry models (family "classical").

Input: one embedding per clip from `embeddings.embed` (TrainConfig.embedding: "handcrafted", "yamnet", or a
trained CNN run's penultimate layer). Each model is a scikit-learn Pipeline (StandardScaler + classifier),
class-balanced (class_weight="balanced" / balanced sample weights), its hyperparameters chosen by grouped
CV (StratifiedGroupKFold on the manifest `group` column, so one baby never sits on both sides) on the
training part only. Validation is used for temperature/threshold calibration, test for metrics.json, as
for the CNNs. Logits are log-probabilities.

Run folder (same protocol as a CNN run, see runs.py), plus:
    split.json          the clip ids of train / val / test this run used
    svm.skops           svm: the fitted Pipeline in the skops format (no pickle), loaded only if its sha256 matches
                        config.json["files"] and it holds nothing but the types in trusted_types()
    svm.joblib          svm, runs written before skops: a pickle, read only when pickle is trusted explicitly
                        (load(..., trust_pickle=True), CLI --trust-pickle, env BABYCRY_TRUST_PICKLE=1); convert_run()
                        rewrites such a run as svm.skops
    scaler.json         xgboost: StandardScaler mean/scale as JSON
    xgboost.json        xgboost: the native Booster model (JSON, with feature names), no pickle
    embedder/           CNN source only: a copy of that run's config, feature config, labels and weights
config.json["embedding_source"] says where the features come from; config.json["files"] lists every model
file with its sha256. The run-folder helpers here (begin_run, finish_run, check_run, evaluate_run) are
shared with models/yamnet.py.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import io
import json
import logging
import os
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .. import embeddings, fileio, runs
from ..embeddings import Source
from ..features import FeatureConfig, windows
from .registry import register

log = logging.getLogger(__name__)

FAMILY = "classical"
SVM_GRID = {"clf__C": [0.3, 1.0, 3.0, 10.0], "clf__kernel": ["rbf", "linear"]}
XGB_GRID = {"clf__max_depth": [2, 4], "clf__n_estimators": [60, 150]}
XGB_LEARNING_RATE = 0.1
EMBEDDER = "embedder"
LOG_FLOOR = 1e-7  # log(0) guard when probabilities become logits
MAX_HASHED_BYTES = 32 << 20  # check_run hashes files up to this size; bigger ones get a header check only
_EMBEDDER_FILES = ("config.json", "feature_config.json", "labels.json", "model.safetensors")
SKOPS_FILE = "svm.skops"
LEGACY_PICKLE = "svm.joblib"  # runs written before skops
TRUST_PICKLE_ENV = "BABYCRY_TRUST_PICKLE"


# ---------------------------------------------------------------- scikit-learn models without pickle

def trusted_types() -> list[str]:
    """Every type a saved scikit-learn model may hold beyond plain data: exactly what _fit_svm builds
    (StandardScaler + Platt-calibrated SVC in a Pipeline). Plain data (builtins, numpy arrays, scalars and
    dtypes) is left to skops' own defaults. A file holding any other type is refused before anything is built,
    even one skops would trust by default (skops trusts every scikit-learn estimator)."""
    from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return [f"{t.__module__}.{t.__name__}" for t in (Pipeline, StandardScaler, SVC, CalibratedClassifierCV,
                                                     _CalibratedClassifier, _SigmoidCalibration)]


def save_sklearn(obj, path: Path) -> None:
    """A fitted scikit-learn object as a skops file (a zip of JSON and .npy arrays; no pickle), atomically."""
    import skops.io as sio

    fileio.write_bytes(Path(path), sio.dumps(obj, compression=zipfile.ZIP_DEFLATED))


def _named_types(data: bytes) -> set[str]:
    """Every "module.Class" that a skops file's schema.json names (objects, types, containers)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        schema = json.loads(z.read("schema.json"))
    out, todo = set(), [schema]
    while todo:
        o = todo.pop()
        if isinstance(o, dict):
            if isinstance(o.get("__module__"), str) and isinstance(o.get("__class__"), str):
                out.add(f"{o['__module__']}.{o['__class__']}")
            todo.extend(o.values())
        elif isinstance(o, list):
            todo.extend(o)
    return out


def load_sklearn(path: Path):
    """Load a skops file, refusing (one-line ValueError) anything outside trusted_types() and plain data.

    skops.io.get_untrusted_types is used to check only: its answer is never passed back as `trusted`.
    """
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    path = Path(path)
    data = path.read_bytes()
    trusted = trusted_types()
    try:
        named = _named_types(data)
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as e:  # not a zip, no schema.json, bad JSON, unknown protocol, ...
        raise ValueError(f"{path.name} is not a readable skops file ({type(e).__name__}: {' '.join(str(e).split())})")
    refused = sorted((untrusted | {t for t in named if not t.startswith(("builtins.", "numpy."))}) - set(trusted))
    if refused:
        raise ValueError(f"{path.name} holds types babycry does not trust ({', '.join(refused)}); refusing to load it")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's InconsistentVersionWarning: the version is in config.json
            return sio.loads(data, trusted=trusted)
    except UntrustedTypesFoundException as e:
        raise ValueError(f"{path.name} holds types babycry does not trust ({' '.join(str(e).split())}); "
                         "refusing to load it")


class PickleWarning(UserWarning):
    """A pickle file (an old run's svm.joblib) was loaded because pickle was trusted explicitly."""


_TRUST_PICKLE = contextvars.ContextVar("babycry_trust_pickle", default=False)


@contextlib.contextmanager
def trusting_pickle(trust: bool = True):
    """Within this block, old runs' pickle files may be loaded (what load(..., trust_pickle=True) uses)."""
    token = _TRUST_PICKLE.set(bool(trust) or _TRUST_PICKLE.get())
    try:
        yield
    finally:
        _TRUST_PICKLE.reset(token)


def pickle_trusted() -> bool:
    """True inside trusting_pickle() or with env BABYCRY_TRUST_PICKLE=1 (how the app is told)."""
    return _TRUST_PICKLE.get() or os.environ.get(TRUST_PICKLE_ENV, "").strip() == "1"


def _convert_hint(run_dir: Path) -> str:
    return (f"convert it once with `python -c \"from babycry_core.models.classical import convert_run; "
            f"convert_run('{run_dir}')\"` (that reads the pickle: only for a file you trust)")


def _load_legacy_pickle(run_dir: Path):
    import joblib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's InconsistentVersionWarning: the version is in config.json
        return joblib.load(run_dir / LEGACY_PICKLE)


def _load_pipeline(run_dir: Path, config: dict):
    """The SVM Pipeline of a run whose files verify_files() has checked: svm.skops, or an old svm.joblib."""
    files = config.get("files") or {}
    if SKOPS_FILE in files:
        try:
            return load_sklearn(run_dir / SKOPS_FILE)
        except ValueError as e:
            raise ValueError(f"checkpoint {run_dir.name}: {e}")
    if LEGACY_PICKLE not in files:
        raise ValueError(f"checkpoint {run_dir.name} is damaged: config.json records no {SKOPS_FILE}")
    if not pickle_trusted():
        raise ValueError(f"checkpoint {run_dir.name} stores its SVM as a pickle ({LEGACY_PICKLE}), which can run "
                         f"code when loaded, so it is not loaded: {_convert_hint(run_dir)}, or load it as it is "
                         f"with --trust-pickle (CLI predict) or {TRUST_PICKLE_ENV}=1 (app)")
    warnings.warn(f"checkpoint {run_dir.name}: loading {LEGACY_PICKLE}, a pickle (it can run code), because pickle "
                  f"is trusted explicitly; {_convert_hint(run_dir)}", PickleWarning, stacklevel=2)
    return _load_legacy_pickle(run_dir)


def convert_run(run) -> Path:
    """Rewrite an old SVM run (svm.joblib, a pickle) as svm.skops: same model, same answers; returns the new file.

    Calling this is the explicit act of trust: the pickle is read once (after its recorded sha256 matches), saved
    with skops, reloaded through the trusted-types check and compared, then config.json records svm.skops and
    its sha256 and svm.joblib is removed. `run` is a run id or folder.
    """
    import skops

    run_dir = runs.find_run(run)
    config = fileio.read_json(run_dir / "config.json")
    files = dict(config.get("files") or {})
    if config.get("model") != "svm" or LEGACY_PICKLE not in files:
        raise ValueError(f"checkpoint {run_dir.name} has no {LEGACY_PICKLE} to convert "
                         f"(model {config.get('model')!r}, files {sorted(files)})")
    verify_files(run_dir, config)
    pipe = _load_legacy_pickle(run_dir)
    save_sklearn(pipe, run_dir / SKOPS_FILE)
    try:
        back = load_sklearn(run_dir / SKOPS_FILE)
        n = int(config.get("n_features") or pipe.n_features_in_)
        probe = np.random.default_rng(0).standard_normal((64, n)).astype(np.float32) * 3
        if not np.array_equal(back.predict_proba(probe), pipe.predict_proba(probe)):
            raise RuntimeError(f"checkpoint {run_dir.name}: the skops copy does not reproduce {LEGACY_PICKLE}; "
                               "not converted")
    except BaseException:
        (run_dir / SKOPS_FILE).unlink(missing_ok=True)  # the run stays as it was
        raise
    old_sha = files.pop(LEGACY_PICKLE)
    config["files"] = {SKOPS_FILE: fileio.sha256_file(run_dir / SKOPS_FILE), **files}
    config["converted"] = {"from": LEGACY_PICKLE, "sha256": old_sha, "to": SKOPS_FILE,
                           "skops_version": skops.__version__, "time": time.time()}
    fileio.write_json(run_dir / "config.json", config)
    (run_dir / LEGACY_PICKLE).unlink()
    log.info("checkpoint %s: %s converted to %s", run_dir.name, LEGACY_PICKLE, SKOPS_FILE)
    return run_dir / SKOPS_FILE


# ---------------------------------------------------------------- predictors rebuilt from a run folder

class EmbeddingModel:
    """Embedding source + fitted head → (n, n_classes) logits. What LoadedModel.model is for these families.

    `window_logits(wins, cfg)` is what inference.Predictor calls (waveform windows at the run's sample rate);
    `clip_logits(paths)` embeds corpus clips (cached); `logits_from_embeddings(E)` is the head alone.
    """

    def __init__(self, source: Source, feature_config: FeatureConfig, labels: list[str], classes):
        self.source = source
        self.feature_config = feature_config
        self.labels = list(labels)
        self.classes = np.asarray(list(classes), dtype=np.int64)  # label index of each head output column

    def _proba(self, E: np.ndarray) -> np.ndarray:  # (n, len(classes))
        raise NotImplementedError

    def proba(self, E: np.ndarray) -> np.ndarray:
        out = np.zeros((len(E), len(self.labels)), np.float64)
        if len(E):
            out[:, self.classes] = self._proba(np.asarray(E, np.float32))
        return out

    def logits_from_embeddings(self, E: np.ndarray) -> np.ndarray:
        return np.log(np.clip(self.proba(E), LOG_FLOOR, None))

    def embed_windows(self, wins: list[np.ndarray]) -> np.ndarray:
        return embeddings.embed(self.source, wins, self.feature_config)

    def window_logits(self, wins: list[np.ndarray], cfg: FeatureConfig | None = None) -> np.ndarray:
        return self.logits_from_embeddings(self.embed_windows(wins))

    def clip_logits(self, clip_paths, progress: bool = False) -> np.ndarray:
        return self.logits_from_embeddings(embeddings.embed(self.source, clip_paths, self.feature_config,
                                                            progress=progress))


class SvmModel(EmbeddingModel):
    def __init__(self, pipeline, source, feature_config, labels):
        super().__init__(source, feature_config, labels, pipeline.classes_)
        self.pipeline = pipeline

    def _proba(self, E):
        return self.pipeline.predict_proba(E)


class XgbModel(EmbeddingModel):
    def __init__(self, booster, mean, scale, feature_names, source, feature_config, labels, classes):
        super().__init__(source, feature_config, labels, classes)
        self.booster = booster
        self.mean = np.asarray(mean, np.float64)
        self.scale = np.asarray(scale, np.float64)
        self.feature_names = list(feature_names)

    def dmatrix(self, E: np.ndarray):
        import xgboost as xgb

        return xgb.DMatrix(((np.asarray(E, np.float64) - self.mean) / self.scale).astype(np.float32),
                           feature_names=self.feature_names)

    def _proba(self, E):
        p = self.booster.predict(self.dmatrix(E))
        return np.stack([1 - p, p], 1) if p.ndim == 1 else p  # binary:logistic gives P(class 1) only


def feature_contributions(loaded, waveform: np.ndarray, top: int | None = None) -> list[tuple[str, float]]:
    """Why an XGBoost run chose its class: per-feature SHAP contributions (Booster pred_contribs) to the
    predicted class's margin, averaged over the recording's windows, largest |contribution| first.

    `loaded` is a checkpoint.LoadedModel of an xgboost run (or its .model); `waveform` is at its sample rate.
    """
    model = getattr(loaded, "model", loaded)
    if not isinstance(model, XgbModel):
        raise TypeError("feature contributions need an xgboost run")
    wins = [w for _, w in windows(np.asarray(waveform, np.float32), model.feature_config)]
    E = model.embed_windows(wins)
    label = int(model.proba(E).mean(0).argmax())
    col = int(np.flatnonzero(model.classes == label)[0])
    contribs = model.booster.predict(model.dmatrix(E), pred_contribs=True)
    if contribs.ndim == 3:  # (windows, classes, features + bias)
        v = contribs[:, col, :-1].mean(0)
    else:  # binary: the margin of class 1
        v = contribs[:, :-1].mean(0) * (1.0 if col == 1 else -1.0)
    out = sorted(zip(model.feature_names, map(float, v)), key=lambda t: -abs(t[1]))
    return out[:top] if top else out


# ---------------------------------------------------------------- run folder: shared with yamnet.py

def begin_run(cfg, run_dir: Path | None, family: str) -> tuple[Path, float]:
    """Create the folder, mark it running; a first config.json so even a run that fails early names its model."""
    run_dir = Path(run_dir) if run_dir else runs.new_run_dir(cfg.model)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    runs.set_status(run_dir, "running", pid=os.getpid(), started=started)
    fileio.write_json(run_dir / "config.json", {**dataclasses.asdict(cfg), "family": family})
    return run_dir, started


def fail_run(run_dir: Path, e: BaseException) -> None:
    runs.set_status(run_dir, "failed", ended=time.time(), message=f"{type(e).__name__}: {e}"[:500])
    runs.append_event(run_dir, {"event": "end", "status": "failed", "message": str(e)[:300]})


def write_run_files(run_dir: Path, meta: dict, fcfg: FeatureConfig, labels: list[str], parts: dict) -> None:
    """config.json (first version), feature_config.json, labels.json, split.json."""
    fileio.write_json(run_dir / "config.json", meta)
    fileio.write_json(run_dir / "feature_config.json", fcfg.to_dict())
    fileio.write_json(run_dir / "labels.json", labels)
    fileio.write_json(run_dir / "split.json", {p: parts[p][2]["clip_id"].tolist() for p in ("train", "val", "test")})


def file_hashes(run_dir: Path, rel_paths) -> dict:
    return {rel: fileio.sha256_file(Path(run_dir) / rel) for rel in rel_paths}


def finish_run(run_dir: Path, model: EmbeddingModel, labels: list[str], parts: dict, E: dict, started: float,
               status: str = "finished", **end) -> None:
    """Calibrate on validation, test metrics, prove the folder rebuilds the same model; status written last."""
    from .. import calibration
    from ..checkpoint import load
    from ..cv import test_metrics

    yva, yte = parts["val"][1], parts["test"][1]
    val_logits = model.logits_from_embeddings(E["val"])
    cal = calibration.fit(val_logits, yva) if len(yva) else {"temperature": 1.0, "threshold": 0.0}
    fileio.write_json(run_dir / "calibration.json", cal)
    test_logits = model.logits_from_embeddings(E["test"])
    if len(yte):
        metrics = test_metrics(test_logits, yte, labels, cal, parts["test"][2]["clip_id"].tolist())
        fileio.write_json(run_dir / "metrics.json", metrics)
    # the folder alone must rebuild a model giving the same answers, before the run is marked done
    reloaded = load(run_dir).model
    probe = E["test"] if len(E["test"]) else E["val"]
    ref = test_logits if len(E["test"]) else val_logits
    if len(probe) and not np.allclose(reloaded.logits_from_embeddings(probe), ref, atol=1e-5):
        raise RuntimeError(f"run {run_dir.name}: the saved model does not reproduce the trained model's outputs")
    ended = time.time()
    runs.append_event(run_dir, {"event": "end", "status": status, "seconds": ended - started, **end})
    runs.set_status(run_dir, status, ended=ended, message="stopped by request" if status == "stopped" else "", **end)


def check_run(run_dir: Path) -> str | None:
    """None when every model file recorded in config.json is present and intact, else why not (cheap)."""
    run_dir = Path(run_dir)
    config = fileio.read_json(run_dir / "config.json", default={})
    files = config.get("files")
    if not files:
        return "config.json records no model files"
    for rel, sha in files.items():
        f = run_dir / rel
        if not f.is_file():
            return f"no {rel}"
        size = f.stat().st_size
        if size == 0:
            return f"{rel} is empty"
        if size <= MAX_HASHED_BYTES:
            if fileio.sha256_file(f) != sha:
                return f"{rel} does not match the sha256 recorded in config.json"
        elif f.suffix == ".safetensors":
            try:
                from safetensors import safe_open

                with safe_open(str(f), framework="pt") as sf:
                    if not list(sf.keys()):
                        return f"{rel} holds no tensors"
            except Exception as e:
                return f"{rel} is unreadable ({type(e).__name__})"
    return None


def verify_files(run_dir: Path, config: dict) -> None:
    """Full sha256 check of every recorded model file, before anything is deserialised. Raises ValueError."""
    for rel, sha in (config.get("files") or {}).items():
        f = Path(run_dir) / rel
        if not f.is_file() or fileio.sha256_file(f) != sha:
            raise ValueError(f"checkpoint {Path(run_dir).name} is damaged: {rel} is missing or does not match "
                             f"the sha256 recorded in config.json (refusing to load it)")


def evaluate_run(run_dir: Path) -> dict:
    """Re-evaluate a run on the test part of its own split (embeddings cached per clip); rewrite metrics.json."""
    from ..checkpoint import load
    from ..cv import test_metrics
    from ..train import TrainConfig

    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    labels, parts = embeddings.split_clips(cfg, labels=loaded.labels)
    clip_paths, y, frame = parts["test"]
    logits = loaded.model.clip_logits(clip_paths)
    metrics = test_metrics(logits, y, labels, loaded.calibration, frame["clip_id"].tolist())
    fileio.write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


# ---------------------------------------------------------------- training

def _group_splits(y: np.ndarray, groups: np.ndarray, seed: int):
    """Grouped CV folds over the training part: StratifiedGroupKFold when every class spans enough groups."""
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    n_groups = len(set(groups))
    if n_groups < 2:
        raise ValueError("the training part has fewer than 2 groups (babies / recordings): grouped CV cannot "
                         "choose hyperparameters; build the data with more groups")
    n = min(3, n_groups)
    per_class = min(len(set(groups[y == c])) for c in np.unique(y))
    if per_class >= n:
        cv, name = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed), f"StratifiedGroupKFold({n})"
    else:
        cv, name = GroupKFold(n_splits=n), f"GroupKFold({n})"
    return list(cv.split(np.zeros((len(y), 1)), y, groups)), name


def _search(pipe, grid: dict, X, y, splits, cv_name: str, **fit_params):
    from sklearn.model_selection import GridSearchCV

    gs = GridSearchCV(pipe, grid, scoring="f1_macro", cv=splits, n_jobs=1, refit=True, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny folds: undefined-metric and failed-fit warnings are expected
        gs.fit(X, y, **fit_params)
    res = gs.cv_results_
    return gs.best_estimator_, {
        "cv": f"{cv_name} on the training part's groups", "scoring": "macro-F1", "grid": grid,
        "best_params": {k: _plain(v) for k, v in gs.best_params_.items()},
        "best_cv_macro_f1": float(gs.best_score_),
        "results": [{"params": {k: _plain(v) for k, v in p.items()}, "macro_f1_mean": float(m), "macro_f1_std": float(s)}
                    for p, m, s in zip(res["params"], res["mean_test_score"], res["std_test_score"])],
    }


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _fit_svm(X, y, splits, cv_name, cfg, run_dir, names, source, fcfg, labels):
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    best, search = _search(build_svm(len(labels), seed=cfg.seed), SVM_GRID, X, y, splits, cv_name)
    # probabilities: Platt scaling fit on the same grouped folds' held-out decision values (ensemble=False:
    # one SVM refit on the whole training part), so no baby informs its own calibration
    pipe = Pipeline([("scaler", StandardScaler()),
                     ("clf", CalibratedClassifierCV(clone(best.named_steps["clf"]), method="sigmoid",
                                                    ensemble=False, cv=splits))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    save_sklearn(pipe, run_dir / SKOPS_FILE)
    search["probabilities"] = "Platt (sigmoid) on held-out decision values of the same grouped folds"
    return SvmModel(pipe, source, fcfg, labels), search, [SKOPS_FILE]


def _fit_xgb(X, y, splits, cv_name, cfg, run_dir, names, source, fcfg, labels):
    from sklearn.utils.class_weight import compute_sample_weight

    present = np.unique(y)  # XGBoost wants labels 0..m-1: encode, keep the map
    y_enc = np.searchsorted(present, y)
    w = compute_sample_weight("balanced", y_enc)
    # XGBoost cannot fit an inner fold whose training side lacks a class (a class resting on one recording,
    # e.g. giulbia "silence"): search only over inner folds that hold every class, else keep the defaults
    full = [(tr, te) for tr, te in splits if len(np.unique(y_enc[tr])) == len(present)]
    if full:
        best, search = _search(build_xgboost(len(present), seed=cfg.seed), XGB_GRID, X, y_enc, full, cv_name,
                               clf__sample_weight=w)
    else:
        best = build_xgboost(len(present), seed=cfg.seed).fit(X, y_enc, clf__sample_weight=w)
        search = {"cv": "none: no inner grouped fold holds every class, default hyperparameters",
                  "best_params": {}, "grid": XGB_GRID}
    scaler, booster = best.named_steps["scaler"], best.named_steps["clf"].get_booster()
    booster.feature_names = list(names)
    fileio.write_bytes(run_dir / "xgboost.json", bytes(booster.save_raw(raw_format="json")))
    fileio.write_json(run_dir / "scaler.json", {"mean": scaler.mean_, "scale": scaler.scale_, "var": scaler.var_,
                                                "n_samples_seen": int(scaler.n_samples_seen_),
                                                "feature_names": list(names)})
    search["sample_weights"] = "balanced"
    model = XgbModel(booster, scaler.mean_, scaler.scale_, names, source, fcfg, labels, present)
    return model, search, ["xgboost.json", "scaler.json"]


def _record_source(src: Source, run_dir: Path, fcfg: FeatureConfig, parts: dict) -> tuple[dict, Source]:
    """config.json's embedding_source; a CNN is copied into run_dir/embedder so the folder stands alone."""
    if src.kind == embeddings.HANDCRAFTED:
        return {"kind": src.kind, "version": embeddings.HANDCRAFTED_VERSION,
                "feature_names": embeddings.handcrafted_names(fcfg)}, src
    if src.kind == embeddings.YAMNET:
        from . import yamnet

        return yamnet.describe(src.handle, fcfg), src
    dest = run_dir / EMBEDDER
    for f in _EMBEDDER_FILES:
        fileio.write_bytes(dest / f, (src.run_dir / f).read_bytes())
    cnn_cfg = fileio.read_json(src.run_dir / "config.json")
    meta = {"kind": "cnn", "run_id": src.run_dir.name, "source_path": str(src.run_dir), "path": EMBEDDER,
            "model": cnn_cfg.get("model"), "layer": "penultimate (LogMelNet.embed)",
            "weights_sha256": fileio.sha256_file(dest / "model.safetensors"), "feature_config": fcfg.to_dict(),
            "embedder_split": {k: cnn_cfg.get(k) for k in ("corpus", "split", "fold", "protocol")}}
    meta["test_clips_seen_by_embedder"] = _embedder_overlap(cnn_cfg, parts)
    if meta["test_clips_seen_by_embedder"]:
        log.warning("embedding CNN %s was trained on %s of this run's test clips: its test scores are optimistic",
                    src.run_dir.name, meta["test_clips_seen_by_embedder"])
    return meta, Source("cnn", run_dir=dest.resolve())


def _embedder_overlap(cnn_cfg: dict, parts: dict):
    """How many of this run's test clips the embedding CNN trained on (None when its split is unavailable)."""
    from .. import data

    try:
        fold = cnn_cfg.get("fold") if cnn_cfg.get("split") == "fold" else None
        train, val, _ = data.split_frames(cnn_cfg.get("corpus", "donateacry"), cnn_cfg.get("split", "fixed"), fold,
                                          cnn_cfg.get("protocol", "grouped"))
    except (OSError, ValueError, KeyError):
        return None
    seen = set(train["clip_id"]) | set(val["clip_id"])
    return int(len(seen & set(parts["test"][2]["clip_id"])))


def _fit(kind: str, cfg, run_dir: Path | None, progress: bool) -> Path:
    import sklearn

    run_dir, started = begin_run(cfg, run_dir, FAMILY)
    try:
        src = embeddings.resolve(cfg.embedding, cfg.yamnet_handle)
        if src.kind == embeddings.YAMNET:
            from . import yamnet

            yamnet.load_yamnet(src.handle)  # fail fast, with the one-sentence fix, before any work
        fcfg = embeddings.source_feature_config(src, cfg.feature_config)
        labels, parts = embeddings.split_clips(cfg)
        src_meta, src = _record_source(src, run_dir, fcfg, parts)
        ytr, groups = parts["train"][1], parts["train"][2]["group"].astype(str).to_numpy()
        meta = {**dataclasses.asdict(cfg), "features": fcfg.to_dict(), "family": FAMILY, "n_classes": len(labels),
                "embedding_source": src_meta, "band_hz": list(fcfg.band_hz), "sklearn_version": sklearn.__version__,
                **{f"n_{p}": int(len(parts[p][1])) for p in ("train", "val", "test")}}
        write_run_files(run_dir, meta, fcfg, labels, parts)
        runs.append_event(run_dir, {"event": "start", "time": started, "model": cfg.model, "embedding": src.name})
        E = {p: embeddings.embed(src, parts[p][0], fcfg, progress=progress) for p in ("train", "val", "test")}
        names = embeddings.feature_names(src, fcfg, E["train"].shape[1])
        splits, cv_name = _group_splits(ytr, groups, cfg.seed)
        t0 = time.time()
        fitter = _fit_svm if kind == "svm" else _fit_xgb
        model, search, files = fitter(E["train"], ytr, splits, cv_name, cfg, run_dir, names, src, fcfg, labels)
        if kind == "xgboost":
            import xgboost

            meta["xgboost_version"] = xgboost.__version__
        meta.update(n_features=int(E["train"].shape[1]), search=search, classes_trained=model.classes.tolist(),
                    files=file_hashes(run_dir, files + ([f"{EMBEDDER}/{f}" for f in _EMBEDDER_FILES]
                                                        if src.kind == "cnn" else [])))
        fileio.write_json(run_dir / "config.json", meta)
        runs.append_event(run_dir, {"event": "search", "seconds": time.time() - t0,
                                    "best_params": search["best_params"], "best_cv_macro_f1": search.get("best_cv_macro_f1")})
        finish_run(run_dir, model, labels, parts, E, started)
        return run_dir
    except BaseException as e:
        fail_run(run_dir, e)
        raise


def fit_svm(cfg, run_dir: Path | None = None, *, progress: bool = True) -> Path:
    return _fit("svm", cfg, run_dir, progress)


def fit_xgboost(cfg, run_dir: Path | None = None, *, progress: bool = True) -> Path:
    return _fit("xgboost", cfg, run_dir, progress)


# ---------------------------------------------------------------- loading

def _source_of(run_dir: Path, config: dict) -> Source:
    meta = config.get("embedding_source") or {}
    kind = meta.get("kind")
    if kind == embeddings.HANDCRAFTED:
        return Source(kind)
    if kind == embeddings.YAMNET:
        from . import yamnet

        return Source(kind, handle=yamnet.handle_for_run(meta.get("handle")))
    if kind == "cnn":
        return Source("cnn", run_dir=(Path(run_dir) / meta.get("path", EMBEDDER)).resolve())
    raise ValueError(f"checkpoint {Path(run_dir).name} is damaged: unknown embedding source {kind!r}")


def load_run(run_dir: Path, config: dict, labels: list[str]) -> EmbeddingModel:
    """Rebuild the whole chain (embedding source → scaler → classifier) from the run folder."""
    run_dir = Path(run_dir)
    verify_files(run_dir, config)  # before any deserialisation
    fcfg = FeatureConfig.from_dict(fileio.read_json(run_dir / "feature_config.json"))
    source = _source_of(run_dir, config)
    if config["model"] == "svm":
        return SvmModel(_load_pipeline(run_dir, config), source, fcfg, labels)
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(run_dir / "xgboost.json"))
    sc = fileio.read_json(run_dir / "scaler.json")
    names = booster.feature_names or sc.get("feature_names")
    return XgbModel(booster, sc["mean"], sc["scale"], names, source, fcfg, labels,
                    config.get("classes_trained", range(len(labels))))


# ---------------------------------------------------------------- registry

def build_svm(n_classes: int, seed: int = 0, C: float = 1.0, kernel: str = "rbf", **_):
    """An unfitted StandardScaler + class-balanced SVC pipeline."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return Pipeline([("scaler", StandardScaler()),
                     ("clf", SVC(C=C, kernel=kernel, class_weight="balanced", random_state=seed))])


def build_xgboost(n_classes: int, seed: int = 0, max_depth: int = 3, n_estimators: int = 100, **_):
    """An unfitted StandardScaler + XGBoost pipeline (class balance via sample weights at fit time)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    return Pipeline([("scaler", StandardScaler()),
                     ("clf", XGBClassifier(max_depth=max_depth, n_estimators=n_estimators,
                                           learning_rate=XGB_LEARNING_RATE, tree_method="hist", n_jobs=1,
                                           random_state=seed))])


_COMMON = dict(load=load_run, check=check_run, evaluate=evaluate_run)
register("svm", FAMILY, "SVM (RBF/linear, class-balanced) on clip embeddings: handcrafted, YAMNet or a CNN's "
         "penultimate layer", fit=fit_svm, grid=SVM_GRID, **_COMMON)(build_svm)
register("xgboost", FAMILY, "XGBoost (class-balanced, native JSON model) on clip embeddings: handcrafted, YAMNet "
         "or a CNN's penultimate layer", fit=fit_xgboost, grid=XGB_GRID, **_COMMON)(build_xgboost)

__all__ = ["EmbeddingModel", "SvmModel", "XgbModel", "feature_contributions", "fit_svm", "fit_xgboost",
           "load_run", "check_run", "evaluate_run", "build_svm", "build_xgboost", "trusted_types", "save_sklearn",
           "load_sklearn", "convert_run", "trusting_pickle", "pickle_trusted", "PickleWarning"]

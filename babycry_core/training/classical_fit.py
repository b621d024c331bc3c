"""Fitting the scikit-learn / XGBoost heads (the `svm` and `xgboost` registry models, family "classical") on clip
embeddings: one fit path, the head kinds differ only in their hooks (HEADS: fit + save the model files).

Input: one embedding per clip from `embeddings.embed` (TrainConfig.embedding: "handcrafted", "yamnet", or a
trained CNN run's penultimate layer). Hyperparameters are chosen by grouped CV (StratifiedGroupKFold on the
manifest `group` column, so one baby never sits on both sides) on the training part only; validation is used
for temperature/threshold calibration, test for metrics.json, as for the CNNs. Logits are log-probabilities.

Run folder (written by runs.writer.RunWriter, as every run), plus:
    split.json          the clip ids of train / val / test this run used
    svm.skops           svm: the fitted Pipeline in the skops format (no pickle; sklearn_io.py), loaded only if its
                        sha256 matches config.json["files"] and it holds nothing but the trusted types
    scaler.json         xgboost: StandardScaler mean/scale as JSON
    xgboost.json        xgboost: the native Booster model (JSON, with feature names), no pickle
    embedder/           CNN source only: a copy of that run's config, feature config, labels and weights
config.json["embedding_source"] says where the features come from; config.json["files"] lists every model
file with its sha256. runs.checkpoint.load rebuilds the predictor (embedding_models.py).
"""
from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from pathlib import Path

import numpy as np

from babycry_core import fileio
from babycry_core.data.manifest import split_clips
from babycry_core.runs import embeddings
from babycry_core.runs.embedding_models import EMBEDDER, SvmModel, XgbModel
from babycry_core.runs.embeddings import Source
from babycry_core.features.config import FeatureConfig
from babycry_core.models.classical import FAMILY, SVM_GRID, XGB_GRID, build_svm, build_xgboost
from babycry_core.runs.writer import RunWriter
from babycry_core.runs.sklearn_io import SKOPS_FILE, save_sklearn
from babycry_core.runs.run_folder import RunFolder

log = logging.getLogger(__name__)

_EMBEDDER_FILES = (RunFolder.CONFIG, RunFolder.FEATURES, RunFolder.LABELS, RunFolder.WEIGHTS)


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


def _fit_svm(X, y, splits, cv_name, cfg, out: RunWriter, names, source, fcfg, labels):
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
    save_sklearn(pipe, out.run_dir / SKOPS_FILE)
    search["probabilities"] = "Platt (sigmoid) on held-out decision values of the same grouped folds"
    return SvmModel(pipe, source, fcfg, labels), search, [SKOPS_FILE]


def _fit_xgb(X, y, splits, cv_name, cfg, out: RunWriter, names, source, fcfg, labels):
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
    out.bytes(RunFolder.XGBOOST, bytes(booster.save_raw(raw_format="json")))
    out.json(RunFolder.SCALER, {"mean": scaler.mean_, "scale": scaler.scale_, "var": scaler.var_,
                             "n_samples_seen": int(scaler.n_samples_seen_), "feature_names": list(names)})
    search["sample_weights"] = "balanced"
    model = XgbModel(booster, scaler.mean_, scaler.scale_, names, source, fcfg, labels, present)
    return model, search, [RunFolder.XGBOOST, RunFolder.SCALER]


def _record_source(src: Source, out: RunWriter, fcfg: FeatureConfig, parts: dict) -> tuple[dict, Source]:
    """config.json's embedding_source; a CNN is copied into the run's embedder/ so the folder stands alone."""
    if src.kind == embeddings.HANDCRAFTED:
        return {"kind": src.kind, "version": embeddings.HANDCRAFTED_VERSION,
                "feature_names": embeddings.handcrafted_names(fcfg)}, src
    if src.kind == embeddings.YAMNET:
        from babycry_core.features.yamnet import describe

        return describe(src.handle, fcfg), src
    dest = out.run_dir / EMBEDDER
    for f in _EMBEDDER_FILES:
        out.bytes(f"{EMBEDDER}/{f}", (src.run_dir / f).read_bytes())
    cnn_cfg = RunFolder(src.run_dir).config
    meta = {"kind": "cnn", "run_id": src.run_dir.name, "source_path": str(src.run_dir), "path": EMBEDDER,
            "model": cnn_cfg.get("model"), "layer": "penultimate (LogMelNet.embed)",
            "weights_sha256": fileio.sha256_file(dest / RunFolder.WEIGHTS), "feature_config": fcfg.to_dict(),
            "embedder_split": {k: cnn_cfg.get(k) for k in ("corpus", "split", "fold", "protocol")}}
    meta["test_clips_seen_by_embedder"] = _embedder_overlap(cnn_cfg, parts)
    if meta["test_clips_seen_by_embedder"]:
        log.warning("embedding CNN %s was trained on %s of this run's test clips: its test scores are optimistic",
                    src.run_dir.name, meta["test_clips_seen_by_embedder"])
    return meta, Source("cnn", run_dir=dest.resolve())


def _embedder_overlap(cnn_cfg: dict, parts: dict):
    """How many of this run's test clips the embedding CNN trained on (None when its split is unavailable)."""
    from babycry_core.data import manifest as data

    try:
        fold = cnn_cfg.get("fold") if cnn_cfg.get("split") == "fold" else None
        train, val, _ = data.split_frames(cnn_cfg.get("corpus", "donateacry"), cnn_cfg.get("split", "fixed"), fold,
                                          cnn_cfg.get("protocol", "grouped"))
    except (OSError, ValueError, KeyError):
        return None
    seen = set(train["clip_id"]) | set(val["clip_id"])
    return int(len(seen & set(parts["test"][2]["clip_id"])))


HEADS = {"svm": _fit_svm, "xgboost": _fit_xgb}  # per kind: fit the head, save its files; -> (model, search, files)


def fit_classical(cfg, run_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Embed the saved split, choose hyperparameters by grouped CV, fit, calibrate, test; write the run folder."""
    import sklearn

    fit_head = HEADS[cfg.model]
    out = RunWriter.create(cfg.model, run_dir).begin(cfg, FAMILY)
    with out.failing():
        src = embeddings.resolve(cfg.embedding, cfg.yamnet_handle)
        if src.kind == embeddings.YAMNET:
            from babycry_core.features.yamnet import load_yamnet

            load_yamnet(src.handle)  # fail fast, with the one-sentence fix, before any work
        fcfg = embeddings.source_feature_config(src, cfg.feature_config)
        labels, parts = split_clips(cfg)
        src_meta, src = _record_source(src, out, fcfg, parts)
        ytr, groups = parts["train"][1], parts["train"][2]["group"].astype(str).to_numpy()
        meta = {**dataclasses.asdict(cfg), "features": fcfg.to_dict(), "family": FAMILY, "n_classes": len(labels),
                "embedding_source": src_meta, "band_hz": list(fcfg.band_hz), "sklearn_version": sklearn.__version__,
                **{f"n_{p}": int(len(parts[p][1])) for p in ("train", "val", "test")}}
        out.run_files(meta, fcfg, labels, parts)
        out.event({"event": "start", "time": out.started, "model": cfg.model, "embedding": src.name})
        E = {p: embeddings.embed(src, parts[p][0], fcfg, progress=progress) for p in ("train", "val", "test")}
        names = embeddings.feature_names(src, fcfg, E["train"].shape[1])
        splits, cv_name = _group_splits(ytr, groups, cfg.seed)
        t0 = time.time()
        model, search, files = fit_head(E["train"], ytr, splits, cv_name, cfg, out, names, src, fcfg, labels)
        if cfg.model == "xgboost":
            import xgboost

            meta["xgboost_version"] = xgboost.__version__
        embedder = [f"{EMBEDDER}/{f}" for f in _EMBEDDER_FILES] if src.kind == "cnn" else []
        meta.update(n_features=int(E["train"].shape[1]), search=search, classes_trained=model.classes.tolist(),
                    files=out.files(files + embedder))
        out.config(meta)
        out.event({"event": "search", "seconds": time.time() - t0, "best_params": search["best_params"],
                   "best_cv_macro_f1": search.get("best_cv_macro_f1")})
        _finish(out, model, labels, parts, E)
    return out.run_dir


def _finish(out: RunWriter, model, labels: list[str], parts: dict, E: dict) -> None:
    """Calibrate on validation, test metrics, prove the folder rebuilds the same model; status written last."""
    from babycry_core.runs.checkpoint import load

    logits = {p: model.logits_from_embeddings(E[p]) for p in ("val", "test")}
    out.calibrate_and_test(labels, parts, logits.__getitem__)
    # the folder alone must rebuild a model giving the same answers, before the run is marked done
    probe = "test" if len(E["test"]) else "val"
    if len(E[probe]) and not np.allclose(load(out.run_dir).model.logits_from_embeddings(E[probe]), logits[probe],
                                         atol=1e-5):
        raise RuntimeError(f"run {out.run_dir.name}: the saved model does not reproduce the trained model's outputs")
    out.end("finished")

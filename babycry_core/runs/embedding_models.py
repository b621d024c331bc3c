"""Models that answer from clip embeddings: an embedding source (embeddings.py) + a fitted head. What
runs.checkpoint.load returns (LoadedModel.model) for the classical (svm, xgboost) and yamnet families.

`window_logits(wins, cfg)` is what inference.Predictor calls (waveform windows at the run's sample rate);
`clip_logits(paths)` embeds corpus clips (cached); `logits_from_embeddings(E)` is the head alone.
`feature_contributions` explains an XGBoost answer (SHAP values, for the Classify page).
An SVM read from its skops file answers in numpy (PlainSvm): scikit-learn is imported only if `.pipeline` is used.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core.runs import embeddings
from babycry_core.runs.embeddings import Source
from babycry_core.runs.run_folder import RunFolder
from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import windows

LOG_FLOOR = 1e-7  # log(0) guard when probabilities become logits
EMBEDDER = RunFolder.EMBEDDER  # a CNN source is copied into this sub-folder of the run, so the folder stands alone


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

    def head_proba(self, E: np.ndarray) -> np.ndarray:  # (n, len(classes))
        raise NotImplementedError

    def proba(self, E: np.ndarray) -> np.ndarray:
        out = np.zeros((len(E), len(self.labels)), np.float64)
        if len(E):
            out[:, self.classes] = self.head_proba(np.asarray(E, np.float32))
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
        """pipeline: a fitted Pipeline, or its sklearn_io.SkopsObject: then PlainSvm answers where it can (numpy,
        no scikit-learn import) and the Pipeline is built on first use of `.pipeline`."""
        from babycry_core.runs.sklearn_io import SkopsObject

        self._tree = pipeline if isinstance(pipeline, SkopsObject) else None
        self._pipeline = None if self._tree is not None else pipeline
        self.plain = PlainSvm.from_tree(self._tree) if self._tree is not None else None
        super().__init__(source, feature_config, labels, (self.plain or self.pipeline).classes_)

    @property
    def pipeline(self):
        if self._pipeline is None:
            from babycry_core.runs.sklearn_io import build_sklearn

            self._pipeline = build_sklearn(self._tree)
        return self._pipeline

    def head_proba(self, E):
        return self.plain.predict_proba(E) if self.plain is not None else self.pipeline.predict_proba(E)


class PlainSvm:
    """predict_proba of Pipeline(StandardScaler, CalibratedClassifierCV(SVC(kernel="rbf"), method="sigmoid")) in
    numpy, from the skops file's attributes: scikit-learn 1.9's arithmetic step by step (float32 stays float32 in
    the scaler; libsvm's one-vs-one sums; the ovr transform; Platt sigmoids; normalisation), the same numbers to
    ~1e-15. `from_tree` gives None for any other pipeline, which scikit-learn then answers itself."""

    def __init__(self, mean, scale, classes, calibrated):
        self.mean, self.scale, self.classes_, self.calibrated = mean, scale, classes, calibrated

    @classmethod
    def from_tree(cls, tree) -> PlainSvm | None:
        try:
            (_, scaler), (_, clf) = _attrs(tree, "sklearn.pipeline.Pipeline")["steps"]
            sc = _attrs(scaler, "sklearn.preprocessing._data.StandardScaler")
            cc = _attrs(clf, "sklearn.calibration.CalibratedClassifierCV")
            mean = sc["mean_"] if sc["with_mean"] else None
            scale = sc["scale_"] if sc["with_std"] else None
            calibrated = [_calibrated(c) for c in cc["calibrated_classifiers_"]]
            if cc["method"] != "sigmoid" or not calibrated:
                return None
            return cls(mean, scale, np.asarray(cc["classes_"]), calibrated)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def predict_proba(self, E: np.ndarray) -> np.ndarray:
        X = np.array(E, dtype=E.dtype if E.dtype in (np.float32, np.float64) else np.float64)
        if X.ndim != 2 or X.shape[1] != self.calibrated[0]["sv"].shape[1] or not np.isfinite(X).all():
            raise ValueError(f"PlainSvm: expected finite (n, {self.calibrated[0]['sv'].shape[1]}) embeddings, "
                             f"got shape {X.shape}")
        if self.mean is not None:
            X -= self.mean.astype(X.dtype)
        if self.scale is not None:
            X /= self.scale.astype(X.dtype)
        X = X.astype(np.float64)
        out = np.zeros((len(X), len(self.classes_)))
        for c in self.calibrated:
            out += _calibrated_proba(c, X)
        return out / len(self.calibrated)


def _attrs(obj, name: str) -> dict:
    if getattr(obj, "name", None) != name or not isinstance(obj.attrs, dict):
        raise TypeError(name)
    return obj.attrs


def _calibrated(tree) -> dict:
    """One _CalibratedClassifier (rbf SVC + sigmoid calibrators) as the arrays PlainSvm needs."""
    c = _attrs(tree, "sklearn.calibration._CalibratedClassifier")
    svc = _attrs(c["estimator"], "sklearn.svm._classes.SVC")
    n_cls = len(svc["classes_"])
    if (c["method"] != "sigmoid" or svc["kernel"] != "rbf" or svc["_sparse"]
            or (n_cls > 2 and svc["decision_function_shape"] != "ovr")):
        raise ValueError("not a dense rbf SVC with sigmoid calibration")
    ab = [(float(_attrs(s, "sklearn.calibration._SigmoidCalibration")["a_"]), float(s.attrs["b_"]))
          for s in c["calibrators"]]
    classes = np.asarray(c["classes"])
    sv, n_sv = np.asarray(svc["support_vectors_"], np.float64), np.asarray(svc["_n_support"], np.int64)
    if n_sv.sum() != len(sv) or len(ab) != (1 if n_cls == 2 else n_cls):
        raise ValueError("inconsistent SVC")
    return {"sv": sv, "n_sv": n_sv, "coef": np.asarray(svc["_dual_coef_"], np.float64),
            "intercept": np.asarray(svc["_intercept_"], np.float64), "gamma": float(svc["_gamma"]),
            "n_cls": n_cls, "ab": ab, "pos": np.searchsorted(np.unique(classes), np.asarray(svc["classes_"])),
            "n_classes": len(classes)}


def _svc_decision(c: dict, X: np.ndarray) -> np.ndarray:
    """SVC.decision_function: libsvm's one-vs-one values (sum of coef x RBF kernel + intercept), then the ovr
    transform (or, binary, the sign flip)."""
    K = np.empty((len(X), len(c["sv"])))
    for i in range(0, len(X), 64):  # blocks: the difference tensor stays small for long recordings
        d = X[i:i + 64, None, :] - c["sv"][None]
        K[i:i + 64] = np.exp(-c["gamma"] * (d * d).sum(-1))
    n, start = c["n_cls"], np.concatenate([[0], np.cumsum(c["n_sv"])])
    dec, p = np.empty((len(X), n * (n - 1) // 2)), 0
    for i in range(n):
        for j in range(i + 1, n):
            si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
            dec[:, p] = K[:, si] @ c["coef"][j - 1, si] + K[:, sj] @ c["coef"][i, sj] + c["intercept"][p]
            p += 1
    if n == 2:
        return -dec[:, :1]
    votes, conf, p = np.zeros((len(X), n)), np.zeros((len(X), n)), 0
    for i in range(n):  # sklearn.utils.multiclass._ovr_decision_function(dec < 0, -dec, n)
        for j in range(i + 1, n):
            neg = dec[:, p] < 0
            conf[:, i] += dec[:, p]
            conf[:, j] -= dec[:, p]
            votes[~neg, i] += 1
            votes[neg, j] += 1
            p += 1
    return votes + conf / (3 * (np.abs(conf) + 1))


def _calibrated_proba(c: dict, X: np.ndarray) -> np.ndarray:
    """_CalibratedClassifier.predict_proba (method "sigmoid")."""
    pred, k = _svc_decision(c, X), c["n_classes"]
    proba = np.zeros((len(X), k))
    for idx, col, (a, b) in zip(c["pos"], pred.T, c["ab"]):
        proba[:, idx + 1 if k == 2 else idx] = 1.0 / (1.0 + np.exp(a * col + b))  # expit(-(a * col + b))
    if k == 2:
        proba[:, 0] = 1.0 - proba[:, 1]
    else:
        den = proba.sum(1)[:, None]
        proba = np.divide(proba, den, out=np.full_like(proba, 1 / k), where=den != 0)
    proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
    return proba


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

    def head_proba(self, E):
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


class YamnetModel(EmbeddingModel):
    """YAMNet embedder + trained head (models/yamnet_transfer.YamnetHead); what runs.checkpoint.load returns for a
    yamnet run."""

    def __init__(self, head, source: Source, feature_config: FeatureConfig, labels: list[str]):
        super().__init__(source, feature_config, labels, range(len(labels)))
        self.head = head.eval()

    def logits_from_embeddings(self, E: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.head(torch.from_numpy(np.asarray(E, np.float32))).numpy().astype(np.float64)

    def proba(self, E):
        from babycry_core.eval.calibration import softmax

        return softmax(self.logits_from_embeddings(E))

    def audioset_evidence(self, waveform_16k: np.ndarray, top: int = 5) -> dict:
        from babycry_core.features.yamnet import audioset_evidence

        return audioset_evidence(waveform_16k, self.source.handle, top)


def source_of(run_dir: Path, config: dict) -> Source:
    """The embedding source a classical run recorded in config.json["embedding_source"]."""
    meta = config.get("embedding_source") or {}
    kind = meta.get("kind")
    if kind == embeddings.HANDCRAFTED:
        return Source(kind)
    if kind == embeddings.YAMNET:
        from babycry_core.features.yamnet import handle_for_run

        return Source(kind, handle=handle_for_run(meta.get("handle")))
    if kind == "cnn":
        return Source("cnn", run_dir=(Path(run_dir) / meta.get("path", EMBEDDER)).resolve())
    raise ValueError(f"checkpoint {Path(run_dir).name} is damaged: unknown embedding source {kind!r}")


def standardise(E: np.ndarray, scaler: dict | None) -> np.ndarray:
    """XGBoost's input as XgbModel.dmatrix makes it (float64 standardisation, then float32); svm: E as is."""
    if not scaler:
        return np.asarray(E, np.float32)
    mean, scale = np.asarray(scaler["mean"], np.float64), np.asarray(scaler["scale"], np.float64)
    return ((np.asarray(E, np.float64) - mean) / scale).astype(np.float32)

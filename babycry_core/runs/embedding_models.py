"""Models that answer from clip embeddings: an embedding source (embeddings.py) + a fitted head. What
checkpoint.load returns (LoadedModel.model) for the classical (svm, xgboost) and yamnet families.

`window_logits(wins, cfg)` is what inference.Predictor calls (waveform windows at the run's sample rate);
`clip_logits(paths)` embeds corpus clips (cached); `logits_from_embeddings(E)` is the head alone.
`feature_contributions` explains an XGBoost answer (SHAP values, for the Classify page).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core.runs import embeddings
from babycry_core.runs.embeddings import Source
from babycry_core.features.logmel import FeatureConfig, windows

LOG_FLOOR = 1e-7  # log(0) guard when probabilities become logits
EMBEDDER = "embedder"  # a CNN source is copied into this sub-folder of the run, so the folder stands alone


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


class YamnetModel(EmbeddingModel):
    """YAMNet embedder + trained head (models/yamnet.YamnetHead); what checkpoint.load returns for a yamnet run."""

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

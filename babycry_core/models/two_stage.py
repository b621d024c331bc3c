"""The two-stage model (`two_stage`, family "two_stage"): is it a cry at all, then why.

    gate    small CNN (registry "cnn"): cry / laugh / noise / silence. "cry" is every is_cry label of the corpus,
            cry_unknown (cries without a reason) included.
    reason  small CNN: among the cry classes that carry a reason (Donate-a-Cry: hungry, tired, ...).

They combine into one probability vector over the model classes (every corpus label but cry_unknown):

    P(reason r) = P(cry) · P(r | cry)          P(laugh), P(noise), P(silence) from the gate

using each stage's temperature-scaled probabilities: calibration is per stage (see `usable_temperature`).
`window_logits` returns the log of that vector, so `inference.Predictor` works on it unchanged. The run's own
temperature stays 1: a temperature over the 9-class vector would distort cry vs no-cry (flattening lifts six
small reason probabilities together, so their sum P(cry) grows; measured: gate-style false alarms 0 % -> 81 %
at T = 2.1).

This module is the model: the combination (`TwoStageModel`); which classes play which part is `data.corpora.class_roles`.
Training each stage with training.loop.fit, the noise-mixed gate data and the run folder are training/two_stage_fit.py; the
post-training checks two_stage_checks.py; runs.checkpoint.load rebuilds it from gate/ and reason/.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import log_mel
from babycry_core.models.spec import ModelSpec

FAMILY = "two_stage"
NAME = "two_stage"
STAGE_MODEL = "cnn"  # each stage is the small LogMelNet CNN, trained by training.loop.fit
CRY = "cry"  # the gate's cry class
STAGES = ("gate", "reason")
LOG_FLOOR = 1e-12


# ---------------------------------------------------------------- classes

# ---------------------------------------------------------------- the combined model

class TwoStageModel:
    """Gate + reason networks → (n, n_classes) log-probabilities. What LoadedModel.model is for this family.

    `window_logits(wins, cfg)` is what inference.Predictor calls; `feature_logits(X, cfg)` takes log-mel
    features (n, 1, n_mels, frames) (evaluation, occlusion saliency); `stage_proba(X)` gives both stages'
    calibrated probabilities. Inference only: safe to share between threads.
    """

    def __init__(self, gate_net, reason_net, labels, gate_labels, reason_labels, feature_config: FeatureConfig,
                 gate_temperature: float = 1.0, reason_temperature: float = 1.0):
        self.gate_net, self.reason_net = gate_net, reason_net
        self.labels = list(labels)
        self.gate_labels, self.reason_labels = list(gate_labels), list(reason_labels)
        self.feature_config = feature_config
        self.gate_temperature, self.reason_temperature = float(gate_temperature), float(reason_temperature)
        self.cry_index = self.gate_labels.index(CRY)
        self.run_dir: Path | None = None
        self._gate_cols = [(self.labels.index(c), i) for i, c in enumerate(self.gate_labels) if c != CRY]
        self._reason_cols = [self.labels.index(c) for c in self.reason_labels]
        missing = set(self.labels) - {c for c in self.gate_labels if c != CRY} - set(self.reason_labels)
        if missing:
            raise ValueError(f"no stage predicts {sorted(missing)}")

    @property
    def cry_labels(self) -> list[str]:
        return list(self.reason_labels)

    @staticmethod
    def _proba(net, X: np.ndarray, temperature: float, batch_size: int = 64) -> np.ndarray:
        import torch

        outs = []
        with torch.inference_mode():
            for i in range(0, len(X), batch_size):
                z = net(torch.from_numpy(np.ascontiguousarray(X[i: i + batch_size], dtype=np.float32)))
                outs.append(torch.softmax(z.double() / temperature, dim=1).numpy())
        return np.concatenate(outs) if outs else np.zeros((0, 0))

    def stage_proba(self, X: np.ndarray, calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(P(gate class), P(reason | cry)) for log-mel features X, each row summing to 1; calibrated=False:
        without the stages' temperatures."""
        tg, tr = (self.gate_temperature, self.reason_temperature) if calibrated else (1.0, 1.0)
        return self._proba(self.gate_net, X, tg), self._proba(self.reason_net, X, tr)

    def combine(self, p_gate: np.ndarray, p_reason: np.ndarray) -> np.ndarray:
        """One probability vector over `labels`: P(r) = P(cry) P(r | cry); non-cry classes from the gate."""
        out = np.zeros((len(p_gate), len(self.labels)), np.float64)
        for col, i in self._gate_cols:
            out[:, col] = p_gate[:, i]
        out[:, self._reason_cols] = p_gate[:, [self.cry_index]] * p_reason
        return out

    def proba(self, X: np.ndarray, calibrated: bool = True) -> np.ndarray:
        if not len(X):
            return np.zeros((0, len(self.labels)))
        return self.combine(*self.stage_proba(X, calibrated))

    def feature_logits(self, X: np.ndarray, cfg: FeatureConfig | None = None) -> np.ndarray:
        return np.log(np.clip(self.proba(np.asarray(X, np.float32)), LOG_FLOOR, None)).astype(np.float32)

    def window_logits(self, wins: list[np.ndarray], cfg: FeatureConfig | None = None) -> np.ndarray:
        cfg = cfg or self.feature_config
        X = np.stack([log_mel(w, cfg) for w in wins])[:, None]
        return self.feature_logits(X, cfg)


# ---------------------------------------------------------------- per-stage calibration

T_DEGENERATE = 0.1  # calibration.fit_temperature searches [0.05, 20]; a fit this low means it ran into the bound


def usable_temperature(cal: dict) -> float:
    """A fitted temperature, or 1 when the fit ran into its lower bound.

    calibration.fit_temperature minimises validation NLL; when a model gets every validation clip right (easy for
    the gate: cry vs ESC-50 noise; and for any model on a tiny validation part) the NLL keeps falling as T
    shrinks and T ends near the bound (0.05): probabilities of 1e-20, i.e. separability, not calibration (a
    network trained with cross-entropy is never 10x under-confident). Used for each stage before combining,
    and for the run's own temperature.
    """
    t = float(cal.get("temperature", 1.0))
    return 1.0 if t < T_DEGENERATE else t


# ---------------------------------------------------------------- registry

def build_two_stage(n_classes: int, **_):
    raise TypeError("two_stage is trained with training.fit.fit(TrainConfig(model='two_stage', corpus='combined')) and "
                    "rebuilt from its run folder with runs.checkpoint.load; it has no single network to build")


SPECS = (ModelSpec(NAME, FAMILY, build_two_stage, "Two-stage: cry/laugh/noise/silence gate CNN x cry-reason CNN, "
                   "P(reason) = P(cry) P(reason | cry)"),)

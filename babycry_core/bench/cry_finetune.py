"""`bench cry`'s candidate (c), `yamnet_top`: YAMNet fine-tuned at its top (training/yamnet_top.py) on the fold's
training windows and augmented copies, its epoch chosen on validation windows, its clip threshold by the detector's
rule on the validation recordings and their quiet cries. Clip P(cry): the mean of the top third of window P(cry)."""
from __future__ import annotations

import numpy as np

from babycry_core.data.corpora import CRY
from babycry_core.models.detector_net import DETECTOR_FEATURES


def _windows(waves, is_cry, rng=None, cap: int | None = None):
    from babycry_core.training.cry_fusion_fit import recording_windows, sampled_active

    W, y = [], []
    for w, c in zip(waves, is_cry):
        win = recording_windows(w, DETECTOR_FEATURES)
        keep = sampled_active(win, rng, cap)
        W.append(win[keep])
        y += [bool(c)] * len(keep)
    return np.concatenate(W), np.array(y)


def fold_top(k: int, prepared, frames, progress: bool):
    """decide(y) -> (P(cry), called a cry) of fold k's fine-tuned top."""
    from babycry_core.inference.cry_detector import choose_threshold, clip_probability
    from babycry_core.training.cry_fusion_fit import recording_windows
    from babycry_core.training.detector_fit import MIN_RECALL, with_quiet_cries
    from babycry_core.training.yamnet_top import MAX_WINDOWS_PER_RECORDING, fit_top, predict_top, window_activations

    lab, sr = prepared[2], DETECTOR_FEATURES.sample_rate
    rng = np.random.default_rng(k)
    W, y = _windows(lab["train"] + lab["train_aug"], [*lab["train_is_cry"], *lab["train_aug_is_cry"]], rng,
                    MAX_WINDOWS_PER_RECORDING)
    A = window_activations(W, sr)
    del W
    val_cry = (frames["val"]["label"] == CRY).to_numpy()
    Wv, yv = _windows(lab["val"], val_cry)
    net = fit_top(A, y, window_activations(Wv, sr), yv, seed=k, progress=progress)
    del A

    def clip_p(w) -> float:
        return clip_probability(predict_top(net, window_activations(recording_windows(w, DETECTOR_FEATURES), sr)))

    recs, rec_cry = with_quiet_cries(lab["val"], val_cry)
    thr = choose_threshold(np.array([clip_p(w) for w in recs]), rec_cry, MIN_RECALL)["cry_threshold"]

    def decide(w):
        q = clip_p(w)
        return q, q >= thr

    return decide

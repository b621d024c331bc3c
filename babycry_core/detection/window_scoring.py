"""Scoring 2 s windows in batches for the episode engine: `features.logmel.log_mel_batch` and a frozen copy of the
detector's network (`WindowScorer`)."""
from __future__ import annotations

import warnings

import numpy as np

from babycry_core.eval.calibration import softmax
from babycry_core.features.logmel import log_mel_batch
from babycry_core.audio.signal import SILENCE_DBFS

_FAST: dict[int, object] = {}


def _fast_net(net, cfg):
    """The detector network traced and frozen for inference (batch norm folded: about 2x faster on CPU)."""
    import torch

    key = id(net)
    if key not in _FAST or _FAST[key][0] is not net:
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                x = torch.zeros(2, 1, cfg.n_mels, cfg.n_frames)
                _FAST[key] = (net, torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net.eval(), x))))
        except Exception:  # an exotic build without TorchScript: the network as it is
            _FAST[key] = (net, net)
    return _FAST[key][1]


class WindowScorer:
    """Class probabilities of 2 s windows with the detector's features, temperature and labels, batched.

    A detector with its own `batch_logits` (onnx_engine.OnnxCryDetector: onnxruntime) is called as it is, and
    torch is never imported; a torch detector's network is traced and frozen once (`fast`)."""

    def __init__(self, detector, fast: bool = True):
        self.det, self.cfg = detector, detector.cfg
        own = getattr(detector, "batch_logits", None)
        if own is not None:
            self.logits = own
        else:
            net = _fast_net(detector.net, self.cfg) if fast else detector.net
            self.logits = lambda X: _torch_logits(net, X)
        self.silence = detector.labels.index("silence") if "silence" in detector.labels else None
        self.quiet_rms = 10 ** (SILENCE_DBFS / 20)

    def proba(self, W: np.ndarray) -> np.ndarray:
        W = np.asarray(W, dtype=np.float32)
        out = np.zeros((len(W), len(self.det.labels)), np.float32)
        loud = np.sqrt(np.mean(np.square(W, dtype=np.float64), axis=1)) >= self.quiet_rms
        if self.silence is not None:
            out[~loud, self.silence] = 1.0
        else:
            loud[:] = True
        if loud.any():
            X = log_mel_batch(W[loud], self.cfg)[:, None]  # (windows, 1, n_mels, frames)
            out[loud] = self.det.fused(W[loud], softmax(self.logits(X), self.det.temperature))
        return out


def _torch_logits(net, X: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return net(torch.from_numpy(X)).numpy()

"""Why did the model answer that? Saliency maps over the log-mel spectrogram the model received (captum).

Two methods:
  occlusion  every torch model (and any other scorer exposing `feature_logits(X, cfg)`): tiles of the
             log-mel are set to silence (-top_db dB, what padding looks like in training) one at a time;
             a tile's saliency is how much the target class's log-probability drops without it.
  gradcam    torch models with `cam_module()` (the CNNs): Grad-CAM on the last convolutional block,
             upsampled to the spectrogram with `LayerAttribution.interpolate` (bilinear).

Which frames? The whole recording, on the same frame axis as `model_input(y, cfg)`:
  * a clip of one window (<= 1.15 x clip_seconds) is explained on that window exactly as the model saw it
    (cut or zero-padded to clip_seconds), so the map has `cfg.n_frames` frames;
  * a longer clip is cut into the same half-overlapping windows `predict()` uses; each window is explained
    for the *clip's* answer (one target for all windows) and the maps are placed back at the window's frame
    offset, overlaps averaged. At most `max_windows` windows are explained (cost grows with each); frames
    after them stay 0.
The map is the positive part of the attribution (evidence *for* the target), divided by its maximum, so it
lies in [0, 1]; all zeros means no region supports the answer. Shape (n_mels, frames), float32.

Thread-safe: occlusion only runs forward passes under no_grad; Grad-CAM runs on a private copy of the
network, so its hooks never touch the model that other sessions are predicting with.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from babycry_core.features.config import FeatureConfig
from babycry_core.features.logmel import log_mel, windows

METHODS = ("occlusion", "gradcam")
# occlusion tiles per window (mel bands, time): 4 x 16 = 64 forward passes; for the small CNN on a 7 s clip
# measured 0.9-1.4 s on 2 CPU cores shared with other jobs (load 1.6-4.3)
OCCLUSION_GRID = (4, 16)
MAX_WINDOWS = 6
NOISE_NATS = 1e-4  # occlusion changes in log-probability below this are rounding noise


def model_input(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The log-mel the saliency maps are drawn on (n_mels, frames): the padded window for a short clip,
    the whole recording for a long one."""
    wins = windows(np.asarray(y, dtype=np.float32), cfg)
    return log_mel(wins[0][1] if len(wins) == 1 else y, cfg)


def covered_seconds(y: np.ndarray, cfg: FeatureConfig, max_windows: int = MAX_WINDOWS) -> float | None:
    """Seconds of the recording a saliency map covers when `max_windows` cuts it short, else None (all of it)."""
    wins = windows(np.asarray(y, dtype=np.float32), cfg)
    return wins[max_windows - 1][0] + cfg.clip_seconds if len(wins) > max_windows else None


def available_methods(predictor) -> list[str]:
    """Methods that work for this predictor's model (empty: no saliency for it)."""
    net = _torch_net(predictor)
    if net is not None:
        return ["occlusion", "gradcam"] if callable(getattr(net, "cam_module", None)) else ["occlusion"]
    return ["occlusion"] if callable(getattr(predictor.scorer, "feature_logits", None)) else []


def saliency(predictor, y: np.ndarray, method: str = "occlusion", target: str | int | None = None, *,
             max_windows: int = MAX_WINDOWS, grid: tuple[int, int] = OCCLUSION_GRID) -> np.ndarray | None:
    """Saliency of `target` (class name or index; default: the clip's answer) over `model_input(y, cfg)`.

    Returns (n_mels, frames) in [0, 1], or None when `method` is not possible for this model
    (see `available_methods`). `y` is the decoded waveform at the model's sample rate.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if method not in available_methods(predictor):
        return None
    import torch

    cfg: FeatureConfig = predictor.cfg
    y = np.asarray(y, dtype=np.float32)
    wins = windows(y, cfg)
    width = model_input(y, cfg).shape[1] if len(wins) > 1 else cfg.n_frames
    wins = wins[: max(1, int(max_windows))]
    X = torch.from_numpy(np.stack([log_mel(w, cfg) for _, w in wins])[:, None])  # (windows, 1, n_mels, frames)
    net = _private_net(predictor)  # None for non-torch scorers
    forward = _forward_fn(predictor, net)
    t = _target_index(predictor, forward, X, target)

    if method == "occlusion":
        from captum.attr import Occlusion

        m, f = X.shape[2], X.shape[3]
        sm, sf = math.ceil(m / grid[0]), math.ceil(f / grid[1])  # non-overlapping tiles (captum clips the last)
        with torch.no_grad():
            attr = Occlusion(forward).attribute(X, sliding_window_shapes=(1, sm, sf), strides=(1, sm, sf),
                                                baselines=-float(cfg.top_db), target=t, perturbations_per_eval=64)
        # changes under NOISE_NATS come from batched float arithmetic (an occluded tile that was already silent
        # gives the same input, yet a slightly different sum), not from the model
        attr = attr.masked_fill(attr.abs() < NOISE_NATS, 0.0)
    else:
        from captum.attr import LayerAttribution, LayerGradCam

        cam = LayerGradCam(net, net.cam_module())
        attr = cam.attribute(X.clone().requires_grad_(True), target=t, relu_attributions=True)
        attr = LayerAttribution.interpolate(attr.detach(), tuple(X.shape[2:]), interpolate_mode="bilinear")
    maps = attr.detach().float().numpy()[:, 0]  # (windows, n_mels, frames)
    return _stitch(maps, [s for s, _ in wins], width, cfg)


def _torch_net(predictor):
    """The torch network behind a predictor, or None for other families."""
    try:
        from torch import nn
    except ImportError:  # pragma: no cover
        return None
    net = getattr(predictor.scorer, "model", None)
    return net if isinstance(net, nn.Module) else None


def _private_net(predictor):
    """A copy of the torch network in eval mode (hooks and layout changes never touch the shared model), or None
    for other families. channels_last: about twice as fast for these convolutions on CPU; the copy is cheap."""
    net = _torch_net(predictor)
    if net is None:
        return None
    import torch

    return copy.deepcopy(net).eval().to(memory_format=torch.channels_last)


def _forward_fn(predictor, net=None):
    """log-mel batch (n, 1, n_mels, frames) tensor -> log-probabilities tensor (n, classes), through `net` (a
    private copy from `_private_net`) or the scorer's `feature_logits`.

    Log-softmax (with the run's temperature) rather than raw logits: silencing a tile can move every logit
    together, and only the change relative to the other classes is evidence for the target.
    """
    import torch

    temperature = float(predictor.loaded.temperature)
    if net is not None:

        def logits(x):
            return net(x.contiguous(memory_format=torch.channels_last))
    else:
        scorer, cfg = predictor.scorer, predictor.cfg

        def logits(x):
            out = scorer.feature_logits(x.detach().cpu().numpy(), cfg)
            return torch.as_tensor(np.asarray(out, dtype=np.float32))

    def forward(x):
        return torch.log_softmax(logits(x).float() / temperature, dim=1)

    return forward


def _target_index(predictor, forward, X, target) -> int:
    if target is None:  # the clip's answer: mean calibrated probability over windows, as predict() does
        import torch

        with torch.no_grad():
            log_p = forward(X).detach().double().numpy()
        return int(np.exp(log_p).mean(axis=0).argmax())
    if isinstance(target, str):
        if target not in predictor.labels:
            raise ValueError(f"unknown class {target!r}; this model knows {', '.join(predictor.labels)}")
        return predictor.labels.index(target)
    if not 0 <= int(target) < len(predictor.labels):
        raise ValueError(f"target index {target} out of range 0..{len(predictor.labels) - 1}")
    return int(target)


def _stitch(maps: np.ndarray, starts: list[float], width: int, cfg: FeatureConfig) -> np.ndarray:
    """Per-window maps -> one map over `width` frames (overlaps averaged), positive part scaled to [0, 1]."""
    maps = np.nan_to_num(np.maximum(maps, 0.0))
    n_mels = maps.shape[1]
    if len(maps) == 1 and maps.shape[2] == width:
        out = maps[0]
    else:
        total = np.zeros((n_mels, width), dtype=np.float64)
        count = np.zeros(width, dtype=np.float64)
        for s, m in zip(starts, maps):
            off = int(round(s * cfg.sample_rate / cfg.hop_length))
            n = max(0, min(m.shape[1], width - off))
            total[:, off:off + n] += m[:, :n]
            count[off:off + n] += 1
        out = total / np.maximum(count, 1)
    peak = float(out.max()) if out.size else 0.0
    return (out / peak if peak > 0 else np.zeros_like(out)).astype(np.float32)


__all__ = ["METHODS", "available_methods", "covered_seconds", "model_input", "saliency"]


def feature_drivers(predictor, y: np.ndarray, top: int = 10) -> list[tuple[str, float]] | None:
    """For an XGBoost run: the input features that drove the answer (XGBoost's own SHAP contributions,
    `pred_contribs`), largest first. None for every other kind of model."""
    if predictor.loaded.config.get("model") != "xgboost":
        return None
    from babycry_core.runs.embedding_models import feature_contributions

    return feature_contributions(predictor.loaded, y, top=top)


def audioset_opinion(y: np.ndarray, sr: int, top: int = 5) -> dict:
    """YAMNet's own AudioSet view of the recording ("Baby cry, infant cry" score and top classes).

    Imports TensorFlow (after torch, via tf_import) only when called. Raises YamnetUnavailable with one
    sentence saying what failed and how to fix it when the weights cannot be had.
    """
    from babycry_core.features.yamnet import audioset_evidence, to_16k

    return audioset_evidence(to_16k(y, sr), top=top)

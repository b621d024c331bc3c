"""Candidate (c): YAMNet fine-tuned at its top. Layers 1-13 stay frozen (run by the TFLite file); layer 14 (its
last depthwise-separable block, 1.05 M weights, started from the file's) and a new head are trained on the fold's
training windows and their augmented copies.

Why the top only: the torch port of the whole network is about 10x slower than the interpreter on this CPU, and a
full fine-tune over five folds of 7,500 training recordings and copies would take days here; `yamnet_ft` (the
whole network) was measured on the reason task. A window (2 s) is three patches (features/yamnet_windows.py); its
logit is a linear head on the mean and the max of the three fine-tuned patch embeddings.
"""
from __future__ import annotations

import numpy as np

from babycry_core.features.yamnet_errors import EMBED_DIM
from babycry_core.features.yamnet_windows import PATCH_OFFSETS_S, PatchCache, window_patches

MAX_WINDOWS_PER_RECORDING = 3
EPOCHS, BATCH, LR_BODY, LR_HEAD = 3, 64, 1e-4, 1e-3
_ACTS = PatchCache(20000)  # layer 13's output per patch, by content


def window_activations(W: np.ndarray, sr: int, handle: str | None = None) -> np.ndarray:
    """(windows, 3, 1024, 3, 2) float16: layer 13's output for each window's three patches (cached by content)."""
    from babycry_core.features.yamnet import load_yamnet

    model = load_yamnet(handle)
    out = np.zeros((len(W), len(PATCH_OFFSETS_S), EMBED_DIM, 3, 2), np.float16)
    for i, w in enumerate(np.asarray(W, np.float32)):
        for j, p in enumerate(window_patches(w, sr)):
            out[i, j] = _ACTS.through(p, sr, lambda x: model.layer13(x).astype(np.float16))
    return out


def build_top(handle: str | None = None):
    """Layer 14 with the file's weights, and a fresh head: (batch, 3, 1024, 3, 2) -> (batch,) logits."""
    import torch
    from torch import nn

    from babycry_core.features.yamnet import resolve_handle
    from babycry_core.features.yamnet_net import build_layers
    from babycry_core.features.yamnet_tflite import read_tflite_weights

    layers = build_layers()
    state = {k[len("layers."):]: v for k, v in read_tflite_weights(resolve_handle(handle)).items() if k.startswith("layers.")}
    layers.load_state_dict(state)

    class Top(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer14 = layers[13]
            self.head = nn.Linear(2 * EMBED_DIM, 1)  # mean and max over the patches

        def forward(self, A):  # (batch, patches, 1024, 3, 2)
            b, p = A.shape[:2]
            e = self.layer14(A.flatten(0, 1).float()).mean(dim=(2, 3)).view(b, p, -1)  # (batch, patches, 1024)
            return self.head(torch.cat([e.mean(1), e.amax(1)], 1)).squeeze(1)

    return Top()


def fit_top(A: np.ndarray, y: np.ndarray, A_val: np.ndarray, y_val: np.ndarray, handle=None, seed: int = 0,
            threads: int = 1, progress: bool = False):
    """Train the top (class-balanced BCE, AdamW) for EPOCHS; keep the epoch with the lowest validation loss."""
    import copy

    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    net = build_top(handle)
    opt = torch.optim.AdamW([{"params": net.layer14.parameters(), "lr": LR_BODY},
                             {"params": net.head.parameters(), "lr": LR_HEAD}], weight_decay=1e-4)
    pos = torch.tensor(float((~y).sum()) / max(1, int(y.sum())))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos)
    rng = np.random.default_rng(seed)
    best, best_state = np.inf, None
    for _ in tqdm(range(EPOCHS), desc="fine-tune YAMNet's top", leave=False, disable=not progress):
        net.train()
        for idx in np.array_split(rng.permutation(len(y)), max(1, len(y) // BATCH)):
            loss = loss_fn(net(torch.from_numpy(A[idx])), torch.from_numpy(y[idx].astype(np.float32)))
            opt.zero_grad()
            loss.backward()
            opt.step()
        v = float(loss_fn(predict_top(net, A_val, raw=True), torch.from_numpy(y_val.astype(np.float32))))
        if v < best:
            best, best_state = v, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return net.eval()


def predict_top(net, A: np.ndarray, raw: bool = False):
    import torch

    with torch.inference_mode():
        z = torch.cat([net(torch.from_numpy(A[i : i + 256])) for i in range(0, len(A), 256)]) if len(A) else torch.zeros(0)
    return z if raw else torch.sigmoid(z).numpy()

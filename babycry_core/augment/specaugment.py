"""Training-time augmentation on log-mel batches: SpecAugment masks and mixup. Training folds only."""
from __future__ import annotations

import numpy as np
import torch


def spec_augment(x: torch.Tensor, gen: torch.Generator, n_freq: int = 2, max_f: int = 8,
                 n_time: int = 2, max_t: int = 40) -> torch.Tensor:
    """Mask random mel bands and time spans of each example with its mean. x: (batch, 1, n_mels, frames)."""
    x = x.clone()
    b, _, m, t = x.shape
    fill = x.mean(dim=(1, 2, 3))  # (batch,)
    for axis, n_masks, width, size in ((2, n_freq, max_f, m), (3, n_time, max_t, t)):
        for _ in range(n_masks):
            w = torch.randint(0, width + 1, (b,), generator=gen)
            start = (torch.rand(b, generator=gen) * (size - w).clamp(min=1)).long()
            idx = torch.arange(size)
            mask = (idx[None] >= start[:, None]) & (idx[None] < (start + w)[:, None])  # (batch, size)
            shape = (b, 1, size, 1) if axis == 2 else (b, 1, 1, size)
            x = torch.where(mask.view(shape), fill.view(b, 1, 1, 1), x)
    return x


def mixup(x: torch.Tensor, y_onehot: torch.Tensor, alpha: float, gen: torch.Generator):
    """Convex combinations of pairs of examples and their targets (Zhang et al. 2018)."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    lam = float(np.random.default_rng(seed).beta(alpha, alpha)) if alpha > 0 else 1.0
    perm = torch.randperm(x.shape[0], generator=gen)
    return lam * x + (1 - lam) * x[perm], lam * y_onehot + (1 - lam) * y_onehot[perm]

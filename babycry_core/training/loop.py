"""The one epoch loop for every torch model: the log-mel CNNs, the cry detector, each stage of the two-stage model
and the YAMNet head. Class balance (sampler or loss), SpecAugment and mixup (log-mel input), AdamW with a cosine
schedule, early stopping on validation macro-F1; the best epoch's weights are saved as it happens.

`fit(cfg, run_dir)` trains one registry network on one split (the fixed split or one grouped fold) and writes a
self-describing run folder (runs/writer.py). Staged or derived models pass the `data_parts` they prepare;
`run_job` is the same machinery for a family that prepares its own data and network (training/yamnet_head.py). Progress
goes to a tqdm bar and to history.jsonl (one JSON event per epoch). SIGTERM (the Train page's Stop button) ends
the run cleanly after the current batch, marked "stopped". Under torchrun the same call runs on every rank
(distributed.py); rank 0 writes the folder. Every family is trained through training.fit.fit.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from babycry_core.runs.writer import RunWriter, StopFlag, make_dir, stop_on_sigterm
from babycry_core.runs.train_config import TrainConfig  # noqa: F401 (re-exported: callers import it from here)

log = logging.getLogger(__name__)


@dataclass
class TorchJob:
    """One torch training run beyond its TrainConfig: the data, and what the family adds to the loop.

    parts: {"train"|"val"|"test": (X, y, frame)}, X an array the network takes (log-mel (n, 1, n_mels, frames),
    or embeddings (n, d)); meta: extra config.json entries (family, ...); build(n_classes): the network (default:
    the registry's); augment: SpecAugment and mixup on the inputs (log-mel only); finish(run_dir): runs after
    calibration and test metrics, before the folder is proved and marked done.
    """

    labels: list[str]
    parts: dict
    meta: dict = field(default_factory=dict)
    build: Callable | None = None
    augment: bool = True
    finish: Callable | None = None


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def load_split_features(cfg: TrainConfig, labels: list[str] | None = None, progress: bool = True):
    """(labels, {"train"|"val"|"test": (X, y, frame)}) for the configured split; X: (n, 1, n_mels, frames)."""
    from tqdm import tqdm

    from babycry_core.data.manifest import split_clips
    from babycry_core.features.logmel import clip_features

    labels, clips = split_clips(cfg, labels)
    fcfg = cfg.feature_config
    out = {}
    for part, (paths_, y, df) in clips.items():
        it = tqdm(paths_, desc=f"features ({part})", leave=False, disable=not progress)
        X = np.stack([clip_features(p, fcfg) for p in it])[:, None] if len(df) else \
            np.zeros((0, 1, fcfg.n_mels, fcfg.n_frames), np.float32)
        out[part] = (X.astype(np.float32), y, df)
    return labels, out


def predict_logits(model, X: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Logits (n, n_classes) for log-mel features X (n, 1, n_mels, frames), in eval mode, batch by batch."""
    import torch

    from babycry_core.training.distributed import unwrap

    model = unwrap(model)  # evaluation needs no gradient sync
    model.eval()
    device = next(model.parameters()).device
    outs = []
    with torch.inference_mode():
        for i in range(0, len(X), batch_size):
            outs.append(model(torch.from_numpy(X[i : i + batch_size]).to(device)).cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)


def _epoch_metrics(logits: np.ndarray, y: np.ndarray, k: int) -> dict:
    from babycry_core.eval.metrics import metric_fn

    import torch
    import torch.nn.functional as F

    if not len(y):
        return {"loss": float("nan"), "accuracy": float("nan"), "macro_f1": float("nan")}
    pred = logits.argmax(1)
    loss = float(F.cross_entropy(torch.tensor(logits), torch.tensor(y)))
    return {"loss": loss, "accuracy": float(metric_fn("accuracy", k)(y, pred)), "macro_f1": float(metric_fn("macro_f1", k)(y, pred))}


def fit(cfg: TrainConfig, run_dir: Path | None = None, *, progress: bool = True, data_parts=None,
        extra_meta: dict | None = None, finish_hook=None) -> Path:
    """Train a registry network, early-stop, calibrate, evaluate on the test part, write the run folder; return it.

    The log-mel CNNs load their corpus split; staged or derived models (two_stage's stages, cry_detector) pass
    `data_parts` = (labels, parts), `extra_meta` for config.json and `finish_hook(run_dir)`, run after
    calibration and before the status says "finished". Other families are trained by training.fit.fit.
    """
    import torch

    from babycry_core.training import distributed
    from babycry_core.models import get_spec
    from babycry_core.runs.family import family

    spec = get_spec(cfg.model)  # unknown names fail before any work
    if not family(spec.family).takes_log_mel_parts and data_parts is None:
        raise ValueError(f"{cfg.model} is a {spec.family!r} model, trained by training.fit.fit "
                         f"(python -m babycry_core train --model {cfg.model})")
    ctx = distributed.context()
    if ctx.is_main:
        run_dir = make_dir(cfg.model, run_dir)
    out = RunWriter(ctx.share_path(run_dir), ctx.is_main)
    with stop_on_sigterm() as flag, out.failing():
        out.begin()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        labels, parts = data_parts or load_split_features(cfg, progress=progress and ctx.is_main)
        run_job(cfg, TorchJob(labels, parts, dict(extra_meta or {}), finish=finish_hook), out, flag, progress, ctx)
    return out.run_dir


def run_job(cfg: TrainConfig, job: TorchJob, out: RunWriter, flag: StopFlag, progress: bool = True, ctx=None) -> None:
    """Build the network, train it with the one epoch loop, then calibrate, test and finish the run folder.
    The caller has begun the run (`out.begin()`), seeded, and handles failure (`out.failing()`)."""
    from babycry_core.training import distributed
    from babycry_core.models import build_model

    ctx = ctx or distributed.context()
    labels, parts = job.labels, job.parts
    build = job.build or (lambda k: build_model(cfg.model, k, dropout=cfg.dropout, pretrained=cfg.pretrained))
    model = build(len(labels)).to(ctx.device)
    meta = {**dataclasses.asdict(cfg), "family": "torch", "n_classes": len(labels), "world_size": ctx.world_size,
            "pretrained_status": getattr(model, "pretrained_status", ""),
            "n_params": int(sum(p.numel() for p in model.parameters())),
            **{f"n_{part}": int(len(parts[part][1])) for part in ("train", "val", "test")}, **job.meta}
    out.run_files(meta, cfg.feature_config, labels)
    out.event({"event": "start", "time": out.started, "model": cfg.model, "epochs": cfg.epochs,
               "world_size": ctx.world_size, "pretrained_status": meta["pretrained_status"]})
    if cfg.pretrained:
        log.warning("model %s: %s", cfg.model, meta["pretrained_status"])
    status, best_epoch = _train_loop(cfg, ctx.wrap(model), parts, len(labels), ctx, out, flag, progress, job.augment)
    if ctx.world_size > 1:
        print(f"rank {ctx.rank} weights {distributed.weights_digest(model)}", flush=True)
    if ctx.is_main:
        _finish(out, labels, parts, status, best_epoch, job.finish)


def _train_loop(cfg: TrainConfig, model, parts, k: int, ctx, out: RunWriter, flag: StopFlag, progress: bool,
                augment: bool = True):
    """Epochs with early stopping on validation macro-F1; the best epoch's weights are saved as it happens.

    augment: SpecAugment and mixup on the inputs (log-mel networks). Returns (status, best_epoch): "finished", or
    "stopped" after a SIGTERM.
    """
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from babycry_core.augment.specaugment import mixup, spec_augment

    Xtr, ytr, _ = parts["train"]
    Xva, yva, _ = parts["val"]
    soft = parts.get("train_targets")  # (n_train, k) target distributions (distillation); else one-hot labels
    counts = np.bincount(ytr, minlength=k).astype(float)
    class_w = balanced_class_weights(counts)
    w = (class_w if cfg.balance == "loss" else torch.ones(k)).to(ctx.device)
    # a pretrained body (yamnet_ft) may learn slower than its head; a DDP wrapper holds the net as .module
    groups = getattr(getattr(model, "module", model), "param_groups", None)
    opt = torch.optim.AdamW(groups(cfg.lr) if groups else model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    gen = torch.Generator().manual_seed(cfg.seed)  # same stream on every rank: same global order
    batch = max(2, cfg.batch_size // ctx.world_size)  # per rank; the global batch stays cfg.batch_size
    best, best_epoch, since_best = (-1.0, float("inf")), -1, 0
    bar = tqdm(range(cfg.epochs), desc=f"train {cfg.model}", disable=not (progress and ctx.is_main))
    for epoch in bar:
        t0 = time.time()
        model.train()
        order = ctx.shard(_epoch_order(ytr, counts, cfg.balance, gen, cfg.epoch_size))
        tr_loss, n_seen = 0.0, 0
        for i in range(0, len(order), batch):
            if flag.stop and ctx.world_size == 1:
                break  # single process: stop at once; under DDP the ranks agree after the epoch
            idx = order[i : i + batch]
            if len(idx) < 2:
                continue  # BatchNorm needs two examples (shards are equal, so all ranks skip together)
            xb = torch.from_numpy(Xtr[idx])  # (batch, 1, n_mels, frames)
            yb = (torch.from_numpy(soft[idx]).float() if soft is not None
                  else F.one_hot(torch.from_numpy(ytr[idx]), k).float())
            if augment and cfg.specaugment:
                xb = spec_augment(xb, gen)
            if augment and cfg.mixup > 0:
                xb, yb = mixup(xb, yb, cfg.mixup, gen)
            logp = F.log_softmax(model(xb.to(ctx.device)), dim=1)
            loss = -(yb.to(ctx.device) * logp * w).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            tr_loss += float(loss.detach()) * len(idx)
            n_seen += len(idx)
        if ctx.agree(flag.stop):
            return "stopped", _ensure_saved(best_epoch, model, out)
        ctx.sync_buffers(model)
        sched.step()
        train_m = _epoch_metrics(predict_logits(model, Xtr), ytr, k) if cfg.score_train else \
            {"loss": float("nan"), "accuracy": float("nan"), "macro_f1": float("nan")}
        val_m = _epoch_metrics(predict_logits(model, Xva), yva, k)
        event = {"event": "epoch", "epoch": epoch + 1, "epochs": cfg.epochs, "time": time.time() - t0,
                 "train_loss": tr_loss / max(n_seen, 1), "train_accuracy": train_m["accuracy"],
                 "train_macro_f1": train_m["macro_f1"], "val_loss": val_m["loss"],
                 "val_accuracy": val_m["accuracy"], "val_macro_f1": val_m["macro_f1"]}
        score = (val_m["macro_f1"], -val_m["loss"]) if len(yva) else (epoch, 0.0)
        if score > best:
            best, best_epoch, since_best = score, epoch + 1, 0
            out.weights(model)
        else:
            since_best += 1
        out.event({**event, "best_epoch": best_epoch})
        bar.set_postfix(loss=f"{event['train_loss']:.3f}", val_f1=f"{val_m['macro_f1']:.3f}")
        if since_best >= cfg.patience:
            log.info("early stop at epoch %d (best %d)", epoch + 1, best_epoch)
            break
    return "finished", _ensure_saved(best_epoch, model, out)


def _ensure_saved(best_epoch: int, model, out: RunWriter) -> int:
    if best_epoch < 0:  # stopped before the first epoch ended: keep the current weights
        out.weights(model)
    return best_epoch


def _finish(out: RunWriter, labels, parts, status, best_epoch, hook=None) -> None:
    """Reload the best weights, calibrate on validation, evaluate on test; status is written last."""
    from babycry_core.runs.checkpoint import load
    from babycry_core.runs.weights import load_torch_model

    net = load_torch_model(out.run_dir)
    out.calibrate_and_test(labels, parts, lambda part: predict_logits(net, parts[part][0]))
    if hook is not None:
        hook(out.run_dir)
    load(out.run_dir)  # proves the folder rebuilds a model on its own, before it is marked done
    out.end(status, best_epoch=best_epoch)


def balanced_class_weights(counts: np.ndarray):
    """Per-class loss weights n / (k * n_c) (sklearn's "balanced"); 0 for a class absent from training."""
    import torch

    k = len(counts)
    return torch.tensor(np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 0.0), dtype=torch.float32)


def _epoch_order(y: np.ndarray, counts: np.ndarray, balance: str, gen, size: int = 0) -> np.ndarray:
    """Example order for one epoch (`size` examples, 0: len(y)): class-balanced sampling with replacement,
    or a plain shuffle."""
    import torch

    n = size or len(y)
    if balance in ("sampler", "sqrt"):
        w = 1.0 / np.maximum(counts[y], 1) ** (0.5 if balance == "sqrt" else 1.0)
        return torch.multinomial(torch.tensor(w / w.sum()), n, replacement=True, generator=gen).numpy()
    return torch.randperm(len(y), generator=gen).numpy()[:n]

"""Training of the log-mel networks: class balance, SpecAugment, mixup, early stopping on validation macro-F1.

`fit(cfg, run_dir)` trains one model on one split (the fixed split or one grouped fold) and writes a
self-describing run folder. Progress goes to a tqdm bar and to history.jsonl (one JSON event per epoch).
SIGTERM (the Train page's Stop button) ends the run cleanly after the current batch, marked "stopped".
"""
from __future__ import annotations

import dataclasses
import logging
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import fileio, runs
from .features import FeatureConfig

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    model: str = "cnn"
    corpus: str = "donateacry"
    split: str = "fixed"  # "fixed" or "fold"
    fold: int | None = None  # with split="fold": which grouped fold is the test set
    protocol: str = "grouped"  # "grouped" (by baby) or "random" (leaky; leaderboard comparison only)
    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 1e-4  # L2
    dropout: float = 0.3
    seed: int = 0
    balance: str = "sampler"  # "sampler" (class-balanced), "sqrt" (sampling ∝ 1/sqrt(count)), "loss" or "none"
    specaugment: bool = True
    mixup: float = 0.2  # Beta(alpha, alpha); 0 switches mixup off
    patience: int = 8  # epochs without a better validation macro-F1 before stopping
    score_train: bool = True  # score the whole training part after each epoch (curves); False saves time
    epoch_size: int = 0  # examples drawn per epoch; 0: as many as the training part holds
    pretrained: bool = False
    threads: int = 0  # torch threads; 0 keeps torch's default
    embedding: str = "handcrafted"  # svm/xgboost input: "handcrafted", "yamnet", or a CNN run id/folder
    yamnet_handle: str | None = None  # YAMNet model: TF Hub URL, local SavedModel or cache folder
    features: dict = field(default_factory=lambda: FeatureConfig().to_dict())

    @property
    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class _StopFlag:
    """Set by SIGTERM; checked between batches."""

    def __init__(self):
        self.stop = False

    def __call__(self, *_):
        self.stop = True


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def load_split_features(cfg: TrainConfig, labels: list[str] | None = None, progress: bool = True):
    """(labels, {"train"|"val"|"test": (X, y, frame)}) for the configured split; X: (n, 1, n_mels, frames)."""
    from tqdm import tqdm

    from . import data
    from .features import clip_features

    fold = cfg.fold if cfg.split == "fold" else None
    frames = dict(zip(("train", "val", "test"), data.split_frames(cfg.corpus, cfg.split, fold, cfg.protocol)))
    # a flat model learns every class of the corpus except "cry without a reason" (a gate-only label)
    labels = labels or data.model_classes(cfg.corpus)
    index = {c: i for i, c in enumerate(labels)}
    fcfg = cfg.feature_config
    out = {}
    for part, df in frames.items():
        df = df[df["label"].isin(index)].reset_index(drop=True)
        it = tqdm(df["path"], desc=f"features ({part})", leave=False, disable=not progress)
        X = np.stack([clip_features(data.resolve_path(p), fcfg) for p in it])[:, None] if len(df) else \
            np.zeros((0, 1, fcfg.n_mels, fcfg.n_frames), np.float32)
        out[part] = (X.astype(np.float32), df["label"].map(index).to_numpy(dtype=np.int64), df)
    return labels, out


def predict_logits(model, X: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Logits (n, n_classes) for log-mel features X (n, 1, n_mels, frames), in eval mode, batch by batch."""
    import torch

    from .distributed import unwrap

    model = unwrap(model)  # evaluation needs no gradient sync
    model.eval()
    device = next(model.parameters()).device
    outs = []
    with torch.inference_mode():
        for i in range(0, len(X), batch_size):
            outs.append(model(torch.from_numpy(X[i : i + batch_size]).to(device)).cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)


def _epoch_metrics(logits: np.ndarray, y: np.ndarray, k: int) -> dict:
    from .evaluate import _fast

    import torch
    import torch.nn.functional as F

    if not len(y):
        return {"loss": float("nan"), "accuracy": float("nan"), "macro_f1": float("nan")}
    pred = logits.argmax(1)
    loss = float(F.cross_entropy(torch.tensor(logits), torch.tensor(y)))
    return {"loss": loss, "accuracy": float(_fast("accuracy", k)(y, pred)), "macro_f1": float(_fast("macro_f1", k)(y, pred))}


class _Writer:
    """Writes the run folder; a no-op on DDP ranks other than 0, so exactly one process writes."""

    def __init__(self, run_dir: Path, enabled: bool):
        self.run_dir, self.enabled = run_dir, enabled

    def status(self, status: str, **extra) -> None:
        if self.enabled:
            runs.set_status(self.run_dir, status, **extra)

    def event(self, event: dict) -> None:
        if self.enabled:
            runs.append_event(self.run_dir, event)

    def json(self, name: str, obj) -> None:
        if self.enabled:
            fileio.write_json(self.run_dir / name, obj)

    def weights(self, model) -> None:
        if self.enabled:
            from .checkpoint import save_weights
            from .distributed import unwrap

            save_weights(unwrap(model), self.run_dir)


def fit(cfg: TrainConfig, run_dir: Path | None = None, *, progress: bool = True, data_parts=None,
        extra_meta: dict | None = None, finish_hook=None) -> Path:
    """Train, early-stop, evaluate on the test part, write the run folder. Returns the run folder.

    Any model that builds a torch network trains here: the log-mel CNNs from their corpus split, and staged
    or derived models (two_stage, cry_detector) from the `data_parts` they prepare, with `extra_meta` for
    config.json and `finish_hook(run_dir)`, run after calibration and before the status says "finished".
    Under torchrun the same call runs on every rank (see distributed.py); rank 0 writes the folder.
    """
    import torch

    from . import distributed
    from .models import build_model, get_spec

    spec = get_spec(cfg.model)  # unknown names fail before any work
    if spec.family != "torch" and data_parts is None:  # other families prepare their data (or train) themselves
        if "fit" not in spec.params:
            raise ValueError(f"{cfg.model} is trained by fitting.fit (python -m babycry_core train --model {cfg.model})")
        return spec.params["fit"](cfg, run_dir, progress=progress)
    ctx = distributed.context()
    if ctx.is_main:
        run_dir = Path(run_dir) if run_dir else runs.new_run_dir(cfg.model)
        run_dir.mkdir(parents=True, exist_ok=True)
    run_dir = ctx.share_path(run_dir)
    out = _Writer(run_dir, ctx.is_main)
    flag = _StopFlag()
    old_handler = signal.signal(signal.SIGTERM, flag) if _main_thread() else None
    started = time.time()
    out.status("running", pid=os.getpid(), started=started)
    try:
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        labels, parts = data_parts or load_split_features(cfg, progress=progress and ctx.is_main)
        model = build_model(cfg.model, len(labels), dropout=cfg.dropout, pretrained=cfg.pretrained).to(ctx.device)
        meta = {**dataclasses.asdict(cfg), "family": "torch", "n_classes": len(labels), "world_size": ctx.world_size,
                "pretrained_status": getattr(model, "pretrained_status", ""),
                "n_params": int(sum(p.numel() for p in model.parameters())),
                **{f"n_{part}": int(len(parts[part][1])) for part in ("train", "val", "test")}, **(extra_meta or {})}
        out.json("config.json", meta)
        out.json("feature_config.json", cfg.feature_config.to_dict())
        out.json("labels.json", labels)
        out.event({"event": "start", "time": started, "model": cfg.model, "epochs": cfg.epochs,
                   "world_size": ctx.world_size, "pretrained_status": meta["pretrained_status"]})
        if cfg.pretrained:
            log.warning("model %s: %s", cfg.model, meta["pretrained_status"])
        status, best_epoch = _train_loop(cfg, ctx.wrap(model), parts, len(labels), ctx, out, flag, progress)
        if ctx.world_size > 1:
            print(f"rank {ctx.rank} weights {distributed.weights_digest(model)}", flush=True)
        if ctx.is_main:
            _finish(run_dir, labels, parts, status, best_epoch, started, finish_hook)
        return run_dir
    except BaseException as e:
        out.status("failed", ended=time.time(), message=f"{type(e).__name__}: {e}"[:500])
        out.event({"event": "end", "status": "failed", "message": str(e)[:300]})
        raise
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)


def _train_loop(cfg: TrainConfig, model, parts, k: int, ctx, out: _Writer, flag: _StopFlag, progress: bool):
    """Epochs with early stopping on validation macro-F1; the best epoch's weights are saved as it happens.

    Returns (status, best_epoch): "finished", or "stopped" after a SIGTERM.
    """
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from .augment import mixup, spec_augment

    Xtr, ytr, _ = parts["train"]
    Xva, yva, _ = parts["val"]
    counts = np.bincount(ytr, minlength=k).astype(float)
    class_w = balanced_class_weights(counts)
    w = (class_w if cfg.balance == "loss" else torch.ones(k)).to(ctx.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
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
            yb = F.one_hot(torch.from_numpy(ytr[idx]), k).float()
            if cfg.specaugment:
                xb = spec_augment(xb, gen)
            if cfg.mixup > 0:
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


def _ensure_saved(best_epoch: int, model, out: _Writer) -> int:
    if best_epoch < 0:  # stopped before the first epoch ended: keep the current weights
        out.weights(model)
    return best_epoch


def _finish(run_dir, labels, parts, status, best_epoch, started, hook=None) -> None:
    """Reload the best weights, calibrate on validation, evaluate on test; status is written last."""
    from . import calibration
    from .checkpoint import load, load_torch_model

    loaded = load_torch_model(run_dir)
    Xva, yva, _ = parts["val"]
    Xte, yte, _ = parts["test"]
    cal = calibration.fit(predict_logits(loaded, Xva), yva) if len(yva) else {"temperature": 1.0, "threshold": 0.0}
    fileio.write_json(run_dir / "calibration.json", cal)
    if len(yte):
        from .cv import test_metrics

        metrics = test_metrics(predict_logits(loaded, Xte), yte, labels, cal, parts["test"][2]["clip_id"].tolist())
        fileio.write_json(run_dir / "metrics.json", metrics)
    if hook is not None:
        hook(run_dir)
    load(run_dir)  # proves the folder rebuilds a model on its own, before it is marked done
    ended = time.time()
    runs.append_event(run_dir, {"event": "end", "status": status, "best_epoch": best_epoch, "seconds": ended - started})
    runs.set_status(run_dir, status, ended=ended, best_epoch=best_epoch,
                    message="stopped by request" if status == "stopped" else "")


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


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()

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
    balance: str = "sampler"  # "sampler" (class-balanced sampling), "loss" (weighted CE) or "none"
    specaugment: bool = True
    mixup: float = 0.2  # Beta(alpha, alpha); 0 switches mixup off
    patience: int = 8  # epochs without a better validation macro-F1 before stopping
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
    labels = labels or data.labels_of(data.load_manifest(cfg.corpus))
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
    import torch

    model.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(X), batch_size):
            outs.append(model(torch.from_numpy(X[i : i + batch_size])).numpy())
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


def fit(cfg: TrainConfig, run_dir: Path | None = None, *, progress: bool = True, data_parts=None) -> Path:
    """Train, early-stop, evaluate on the test part, write the run folder. Returns the run folder."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from .augment import mixup, spec_augment
    from .checkpoint import save_weights
    from .models import build_model, get_spec

    spec = get_spec(cfg.model)  # unknown names fail before any work
    if spec.family != "torch":  # embedding + classical heads, YAMNet: their own trainer, same run folder
        return spec.params["fit"](cfg, run_dir, progress=progress)
    run_dir = Path(run_dir) if run_dir else runs.new_run_dir(cfg.model)
    run_dir.mkdir(parents=True, exist_ok=True)
    flag = _StopFlag()
    old_handler = signal.signal(signal.SIGTERM, flag) if _main_thread() else None
    started = time.time()
    runs.set_status(run_dir, "running", pid=os.getpid(), started=started)
    try:
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        labels, parts = data_parts or load_split_features(cfg, progress=progress)
        k = len(labels)
        Xtr, ytr, _ = parts["train"]
        Xva, yva, _ = parts["val"]
        model = build_model(cfg.model, k, dropout=cfg.dropout, pretrained=cfg.pretrained)
        meta = {**dataclasses.asdict(cfg), "family": "torch", "n_classes": k, "world_size": 1,
                "pretrained_status": getattr(model, "pretrained_status", ""),
                "n_params": int(sum(p.numel() for p in model.parameters())),
                "n_train": int(len(ytr)), "n_val": int(len(yva)), "n_test": int(len(parts["test"][1]))}
        fileio.write_json(run_dir / "config.json", meta)
        fileio.write_json(run_dir / "feature_config.json", cfg.feature_config.to_dict())
        fileio.write_json(run_dir / "labels.json", labels)
        runs.append_event(run_dir, {"event": "start", "time": started, "model": cfg.model, "epochs": cfg.epochs,
                                    "pretrained_status": meta["pretrained_status"]})
        log.info("model %s: %s", cfg.model, meta["pretrained_status"])

        counts = np.bincount(ytr, minlength=k).astype(float)
        class_w = torch.tensor(np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 0.0), dtype=torch.float32)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
        gen = torch.Generator().manual_seed(cfg.seed)
        best, best_epoch, since_best, status = (-1.0, float("inf")), -1, 0, "finished"
        bar = tqdm(range(cfg.epochs), desc=f"train {cfg.model}", disable=not progress)
        for epoch in bar:
            t0 = time.time()
            model.train()
            order = _epoch_order(ytr, counts, cfg.balance, gen)
            tr_loss, n_seen = 0.0, 0
            for i in range(0, len(order), cfg.batch_size):
                if flag.stop:
                    break
                idx = order[i : i + cfg.batch_size]
                if len(idx) < 2:
                    continue  # BatchNorm needs two examples
                xb = torch.from_numpy(Xtr[idx])  # (batch, 1, n_mels, frames)
                yb = F.one_hot(torch.from_numpy(ytr[idx]), k).float()
                if cfg.specaugment:
                    xb = spec_augment(xb, gen)
                if cfg.mixup > 0:
                    xb, yb = mixup(xb, yb, cfg.mixup, gen)
                logp = F.log_softmax(model(xb), dim=1)
                w = class_w if cfg.balance == "loss" else torch.ones(k)
                loss = -(yb * logp * w).sum(1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                tr_loss += float(loss.detach()) * len(idx)
                n_seen += len(idx)
            if flag.stop:
                status = "stopped"
                break
            sched.step()
            train_m = _epoch_metrics(predict_logits(model, Xtr), ytr, k)
            val_m = _epoch_metrics(predict_logits(model, Xva), yva, k)
            event = {"event": "epoch", "epoch": epoch + 1, "epochs": cfg.epochs, "time": time.time() - t0,
                     "train_loss": tr_loss / max(n_seen, 1), "train_accuracy": train_m["accuracy"],
                     "train_macro_f1": train_m["macro_f1"], "val_loss": val_m["loss"],
                     "val_accuracy": val_m["accuracy"], "val_macro_f1": val_m["macro_f1"]}
            score = (val_m["macro_f1"], -val_m["loss"]) if len(yva) else (epoch, 0.0)
            if score > best:
                best, best_epoch, since_best = score, epoch + 1, 0
                save_weights(model, run_dir)
            else:
                since_best += 1
            event["best_epoch"] = best_epoch
            runs.append_event(run_dir, event)
            bar.set_postfix(loss=f"{event['train_loss']:.3f}", val_f1=f"{val_m['macro_f1']:.3f}")
            if since_best >= cfg.patience:
                log.info("early stop at epoch %d (best %d)", epoch + 1, best_epoch)
                break
        if best_epoch < 0:
            save_weights(model, run_dir)
        _finish(run_dir, labels, parts, status, best_epoch, started)
        return run_dir
    except BaseException as e:
        runs.set_status(run_dir, "failed", ended=time.time(), message=f"{type(e).__name__}: {e}"[:500])
        runs.append_event(run_dir, {"event": "end", "status": "failed", "message": str(e)[:300]})
        raise
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)


def _finish(run_dir, labels, parts, status, best_epoch, started) -> None:
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
    load(run_dir)  # proves the folder rebuilds a model on its own, before it is marked done
    ended = time.time()
    runs.append_event(run_dir, {"event": "end", "status": status, "best_epoch": best_epoch, "seconds": ended - started})
    runs.set_status(run_dir, status, ended=ended, best_epoch=best_epoch,
                    message="stopped by request" if status == "stopped" else "")


def _epoch_order(y: np.ndarray, counts: np.ndarray, balance: str, gen) -> np.ndarray:
    """Example order for one epoch: class-balanced sampling with replacement, or a plain shuffle."""
    import torch

    if balance == "sampler":
        w = 1.0 / np.maximum(counts[y], 1)
        return torch.multinomial(torch.tensor(w / w.sum()), len(y), replacement=True, generator=gen).numpy()
    return torch.randperm(len(y), generator=gen).numpy()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()

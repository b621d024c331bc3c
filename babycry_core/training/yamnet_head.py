"""Training the `yamnet` model (family "yamnet"): YAMNet (frozen, features/yamnet.py) embeds the saved split, and the
small head (models/yamnet_transfer.py) is trained by training/loop.py's one epoch loop (run_job): class-balanced
sampling or loss, AdamW (weight decay), early stopping on validation macro-F1, temperature and threshold on
validation. The head's own hooks: it is built with its input standardisation set from the training embeddings, and
takes no SpecAugment or mixup (its input is not a log-mel).

Run folder: as a CNN run (config.json with family "yamnet" and a "yamnet" section, feature_config.json,
labels.json, model.safetensors = the head, calibration.json, metrics.json, status.json, history.jsonl) plus
split.json. The YAMNet weights themselves are not copied: config.json records the handle, and
config.json["files"] the head's sha256.
"""
from __future__ import annotations

from pathlib import Path

from babycry_core.runs.run_folder import RunFolder
from babycry_core.data.manifest import split_clips
from babycry_core.runs.writer import RunWriter, stop_on_sigterm


def fit_yamnet(cfg, run_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Embed the saved split with YAMNet, train the head, calibrate, test, write the run folder. Returns it."""
    import torch

    from babycry_core.models.yamnet_transfer import FAMILY, HIDDEN, build_head
    from babycry_core.training.loop import TorchJob, run_job, seed_everything
    from babycry_core.features.yamnet import SAMPLE_RATE, clip_embeddings, describe, load_yamnet, resolve_handle

    out = RunWriter.create(cfg.model, run_dir).begin(cfg, FAMILY)
    with stop_on_sigterm() as flag, out.failing():
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        handle = resolve_handle(cfg.yamnet_handle)
        load_yamnet(handle)  # fail fast, with the one-sentence fix, before any work
        fcfg = cfg.feature_config
        labels, parts = split_clips(cfg)
        out.split(parts)
        E = {p: clip_embeddings(parts[p][0], fcfg, handle, progress=progress) for p in ("train", "val", "test")}
        d_in = int(E["train"].shape[1])
        meta = {"yamnet_handle": handle, "family": FAMILY, "yamnet": describe(handle, fcfg),
                "band_hz": [0.0, min(fcfg.sample_rate / 2, SAMPLE_RATE / 2)],
                "head": {"layers": "Linear-ReLU-Dropout-Linear", "d_in": d_in, "hidden": HIDDEN, "dropout": cfg.dropout},
                "pretrained_status": f"YAMNet (AudioSet) frozen, from {handle}"}

        def build(n_classes: int):
            return build_head(n_classes, dropout=cfg.dropout, d_in=d_in).standardise_on(torch.from_numpy(E["train"]))

        def finish(run_dir: Path) -> None:  # the head's sha256, checked before it is ever loaded
            out.config({**RunFolder.of(run_dir).config, "files": out.files([RunFolder.WEIGHTS])})

        seed_everything(cfg.seed)
        job = TorchJob(labels, {p: (E[p], parts[p][1], parts[p][2]) for p in ("train", "val", "test")}, meta,
                       build=build, augment=False, finish=finish)
        run_job(cfg, job, out, flag, progress)
    return out.run_dir

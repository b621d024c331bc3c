"""Training the two-stage model (models/two_stage.py): each stage by training.loop.fit itself, then the combination.

    gate    trained on the training part plus noise-mixed copies (augment/noise.py): every laugh / noise / silence
            training clip at 20, 10 and 0 dB SNR, and as many cry clips, so that added interference is no cue for
            either side.
    reason  trained on the cry clips that carry a reason only.

Each stage is a complete torch run folder (`gate/`, `reason/`) inside this run's folder, with its own early
stopping and temperature (training.loop.fit's `data_parts` takes the derived labels and features). The run's
calibration.json keeps temperature 1 and holds the abstention threshold, chosen on the combined validation vector.

Run folder (runs.writer.RunWriter): config.json (family "two_stage", the stages, sha256 of every stage file),
labels.json, feature_config.json, calibration.json, metrics.json (two_stage_checks.run_metrics: evaluate() +
calibration + cry_metrics.report: cry detection, reason only, flat, by tag, groups per class), history.jsonl (the
stages' epochs, relayed as they happen), status.json, MODEL_CARD.md (model_card.py), gate/ and reason/.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np

from babycry_core.runs import run_registry as runs
from babycry_core.runs.run_folder import RunFolder
from babycry_core.models.two_stage import CRY, FAMILY, LOG_FLOOR, NAME, STAGE_MODEL, STAGES, TwoStageModel
from babycry_core.data.corpora import class_roles
from babycry_core.runs.writer import RunWriter, stop_on_sigterm

STAGE_FILES = (RunFolder.CONFIG, RunFolder.LABELS, RunFolder.CALIBRATION, RunFolder.WEIGHTS)
AUGMENT = {"snrs_db": [20.0, 10.0, 0.0], "interferers": ["white_noise", "sine"], "dominant": ["noise"],
           "dominant_snrs_db": [-10.0], "fill_short": True}


# ---------------------------------------------------------------- data of each stage

def _subset(part, mask: np.ndarray, y_new: np.ndarray | None = None):
    X, y, frame = part
    return X[mask], (y[mask] if y_new is None else y_new[mask]), frame[mask].reset_index(drop=True)


def stage_data(cfg, roles: dict, *, augment: bool = True, progress: bool = False):
    """Features of the split, and the derived parts of each stage.

    Returns (base, gate, reason, aug_info): base = {part: (X, y over roles["all"], frame)} (every clip);
    gate / reason = (labels, {part: (X, y, frame)}) ready for train.fit(data_parts=...). Noise-mixed copies
    join the gate's training part only.
    """
    import pandas as pd

    from babycry_core.augment.noise import augment_training
    from babycry_core.training.loop import load_split_features

    _, base = load_split_features(cfg, labels=roles["all"], progress=progress)
    g_index = {c: i for i, c in enumerate(roles["gate"])}
    r_index = {c: i for i, c in enumerate(roles["reason"])}
    gate, reason = {}, {}
    for part, (X, y, frame) in base.items():
        lab = frame["label"].astype(str)
        g = np.array([g_index[CRY if c else lab_] for c, lab_ in zip(frame["is_cry"].astype(bool), lab)],
                     dtype=np.int64)
        gate[part] = (X, g, frame)
        keep = lab.isin(roles["reason"]).to_numpy()
        reason[part] = _subset((X, y, frame), keep, np.array([r_index.get(c, -1) for c in lab], dtype=np.int64))
    aug_info = {"applied": False}
    if augment:
        Xtr, ytr, ftr = gate["train"]
        cry_labels = sorted(set(ftr.loc[ftr["is_cry"].astype(bool), "label"].astype(str)))
        fcfg = cfg.feature_config
        dur = ftr.loc[ftr["label"].isin(roles["non_cry"]), "duration"].astype(float)
        short = dur[dur < 0.95 * fcfg.clip_seconds]  # non-cry clips shorter than the window: cut cries to match
        cut_to = float(short.median()) if len(short) else None
        Xa, fa = augment_training(ftr, fcfg, classes=roles["non_cry"], matched=cry_labels,
                                  snrs=tuple(AUGMENT["snrs_db"]), kinds=tuple(AUGMENT["interferers"]),
                                  dominant=AUGMENT["dominant"], dominant_snrs=tuple(AUGMENT["dominant_snrs_db"]),
                                  fill_short=AUGMENT["fill_short"], cut_matched_to=cut_to,
                                  seed=cfg.seed, part="train", progress=progress)
        ya = np.array([g_index[CRY if c else lab] for c, lab in zip(fa["is_cry"].astype(bool), fa["label"])],
                      dtype=np.int64)
        gate["train"] = (np.concatenate([Xtr, Xa]), np.concatenate([ytr, ya]),
                         pd.concat([ftr, fa], ignore_index=True))
        aug_info = {"applied": True, **AUGMENT, "cut_matched_to_s": cut_to, "classes": roles["non_cry"],
                    "matched": cry_labels, "copies": int(len(fa)),
                    "copies_per_label": fa["label"].value_counts().sort_index().to_dict(),
                    "copies_by_length": fa["length"].value_counts().sort_index().to_dict(), "parts": ["train"]}
    return base, (roles["gate"], gate), (roles["reason"], reason), aug_info


# ---------------------------------------------------------------- calibration of the combination

def combined_calibration(model: TwoStageModel, X_val: np.ndarray, y_val: np.ndarray) -> dict:
    """The run's calibration.json: temperature 1 (the stages are calibrated each on its own), the abstention
    threshold chosen on the combined validation vector, and the validation NLL without / with the stages'
    temperatures."""
    from babycry_core.eval import calibration

    out = {"temperature": 1.0, "threshold": 0.0, "fit_on": "validation, per stage",
           "stage_temperatures": {"gate": model.gate_temperature, "reason": model.reason_temperature}}
    if model.run_dir is not None:
        out["stage_temperatures_fitted"] = {s: RunFolder.of(model.run_dir).stage(s).read(RunFolder.CALIBRATION).get(
            "temperature") for s in STAGES}
    if len(y_val):
        raw = np.log(np.clip(model.proba(X_val, calibrated=False), LOG_FLOOR, None))
        cal = model.feature_logits(X_val)
        out.update(threshold=calibration.choose_threshold(calibration.softmax(cal), y_val),
                   val_nll_before=calibration.nll(raw, y_val), val_nll_after=calibration.nll(cal, y_val))
    return out


# ---------------------------------------------------------------- progress relay

class _Relay(threading.Thread):
    """Copies a stage's epoch events into the parent run's history.jsonl as they happen (numbered on from
    `offset`, tagged with the stage), so the Train page can follow both stages in one run."""

    def __init__(self, src: Path, out: RunWriter, stage: str, offset: int, total: int):
        super().__init__(daemon=True)
        self.src, self.out, self.stage, self.offset, self.total = src, out, stage, offset, total
        self.seen, self.last = 0, offset
        self.done = threading.Event()

    def pump(self) -> None:
        events = runs.read_events(self.src)
        for e in events[self.seen:]:
            if e.get("event") == "epoch":
                self.last = self.offset + int(e["epoch"])
                self.out.event({**e, "epoch": self.last, "epochs": self.total, "stage": self.stage,
                                "stage_epoch": e["epoch"], "stage_epochs": e.get("epochs")})
        self.seen = len(events)

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.pump()

    def finish(self) -> int:
        self.done.set()
        self.join()
        self.pump()
        return self.last


# ---------------------------------------------------------------- training

def fit_two_stage(cfg, run_dir: Path | None = None, *, progress: bool = True, augment: bool = True) -> Path:
    """Train gate and reason with training.loop.fit, combine, calibrate, evaluate; write the run folder. Returns it.

    SIGTERM during a stage ends that stage as training.loop.fit does ("stopped", best weights kept); the run then
    stops too (without a model if the gate was stopped).
    """
    from babycry_core.data import manifest as data
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.loop import fit
    from babycry_core.runs.train_config import train_command
    from babycry_core.training.two_stage_checks import model_rows, run_metrics

    out = RunWriter.create(cfg.model, run_dir).begin(cfg, FAMILY)
    run_dir = out.run_dir
    with stop_on_sigterm() as flag, out.failing():
        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        roles = class_roles(data.load_manifest(cfg.corpus))
        meta = {**dataclasses.asdict(cfg), "model": NAME, "family": FAMILY, "n_classes": len(roles["labels"]),
                "stage_model": STAGE_MODEL, "command": train_command(dataclasses.asdict(cfg)),
                "stages": {"gate": {"dir": "gate", "labels": roles["gate"],
                                    "cry_means": [c for c in roles["all"] if c not in roles["non_cry"]]},
                           "reason": {"dir": "reason", "labels": roles["reason"]}}}
        out.run_files(meta, cfg.feature_config, roles["labels"])
        out.event({"event": "start", "time": out.started, "model": NAME, "epochs": 2 * cfg.epochs,
                   "stages": list(STAGES)})
        base, gate, reason, aug_info = stage_data(cfg, roles, augment=augment, progress=progress)
        meta.update(augmentation=aug_info, **{f"n_{p}": int(len(base[p][1])) for p in ("train", "val", "test")})
        out.config(meta)

        offset, status = 0, "finished"
        for stage, parts in (("gate", gate), ("reason", reason)):
            if flag.stop:
                status = "stopped"
                break
            relay = _Relay(run_dir / stage, out, stage, offset, 2 * cfg.epochs)
            relay.start()
            try:
                fit(dataclasses.replace(cfg, model=STAGE_MODEL), run_dir / stage, progress=progress, data_parts=parts)
            finally:
                offset = relay.finish()
            st = RunFolder(run_dir / stage).status.get("status")
            out.event({"event": "stage", "stage": stage, "status": st, "epochs_run": offset})
            if st != "finished":
                status = "stopped"
                break
        if not all(RunFolder(run_dir / s).has(RunFolder.WEIGHTS) for s in STAGES):
            out.end("stopped", message="stopped by request before both stages were trained")
            return run_dir
        meta["files"] = out.files(f"{s}/{f}" for s in STAGES for f in STAGE_FILES)
        out.config(meta)

        model = load(run_dir).model  # the stages' folders checked against their sha256, combined
        val9 = model_rows(base["val"], roles)
        cal = combined_calibration(model, val9[0], val9[1])
        out.calibration(cal)
        out.metrics(run_metrics(model, base, roles, cal, cfg))
        out.model_card()
        # the folder alone must rebuild the same model before it is marked done
        X = base["test"][0][:8] if len(base["test"][1]) else base["val"][0][:8]
        if len(X) and not np.allclose(load(run_dir).model.feature_logits(X), model.feature_logits(X), atol=1e-5):
            raise RuntimeError(f"run {run_dir.name}: the saved model does not reproduce the trained model")
        out.end(status)
    return run_dir

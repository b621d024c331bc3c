"""Two-stage model (`two_stage`, family "two_stage"): is it a cry at all, then why.

    gate    small CNN (registry "cnn"): cry / laugh / noise / silence. "cry" is every is_cry label of the corpus,
            cry_unknown (cries without a reason) included. Trained on the training part plus noise-mixed copies
            (augment_noise.py): every laugh / noise / silence training clip at 20, 10 and 0 dB SNR, and as
            many cry clips, so that added interference is no cue for either side.
    reason  small CNN: among the cry classes that carry a reason (Donate-a-Cry: hungry, tired, ...), trained on
            those clips only.

Both are trained by `train.fit` itself (its `data_parts` argument takes the derived labels and features), each
into a complete torch run folder `gate/` and `reason/` inside this run's folder, with their own early stopping
and temperature. They combine into one probability vector over the model classes (every corpus label but
cry_unknown):

    P(reason r) = P(cry) · P(r | cry)          P(laugh), P(noise), P(silence) from the gate

using each stage's temperature-scaled probabilities: calibration is per stage (each stage's temperature, fit on
its own validation clips by train.fit; see `usable_temperature`). `window_logits` returns the log of that
vector, so `inference.Predictor` works on it unchanged. The run's calibration.json keeps temperature 1 — a
temperature over the 9-class vector would distort cry vs no-cry: flattening lifts six small reason
probabilities together, so their sum P(cry) grows (measured: gate-style false alarms 0 % -> 81 % at T = 2.1) —
and holds the abstention threshold, chosen on the combined validation vector.

Run folder: config.json (family "two_stage", the stages, sha256 of every stage file), labels.json,
feature_config.json, calibration.json, metrics.json (evaluate() + calibration + cry_metrics.report: cry
detection, reason only, flat, by tag, groups per class), history.jsonl (the stages' epochs, relayed as they
happen), status.json, MODEL_CARD.md, gate/ and reason/.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import signal
import threading
import time
from pathlib import Path

import numpy as np

from .. import fileio, runs
from ..features import FeatureConfig, log_mel
from .registry import register

FAMILY = "two_stage"
NAME = "two_stage"
STAGE_MODEL = "cnn"  # each stage is the small LogMelNet CNN, trained by train.fit
CRY = "cry"  # the gate's cry class
STAGES = ("gate", "reason")
STAGE_FILES = ("config.json", "labels.json", "calibration.json", "model.safetensors")
AUGMENT = {"snrs_db": [20.0, 10.0, 0.0], "interferers": ["white_noise", "sine"], "dominant": ["noise"],
           "dominant_snrs_db": [-10.0], "fill_short": True}
LOG_FLOOR = 1e-12


# ---------------------------------------------------------------- classes

def class_roles(manifest) -> dict:
    """Which corpus labels play which part.

    all: every label (cry_unknown included); labels: the model's output classes (all but cry_unknown);
    cry: model classes that are cries (= reason); reason: cry classes with a reason; non_cry: the rest;
    gate: the gate's classes (cry + non_cry).
    """
    from ..corpora import UNKNOWN_CRY

    is_cry = manifest.groupby("label")["is_cry"].all()
    every = sorted(is_cry.index.astype(str))
    labels = [c for c in every if c != UNKNOWN_CRY]
    reason = [c for c in labels if is_cry[c]]
    non_cry = [c for c in labels if not is_cry[c]]
    if CRY in labels:
        raise ValueError(f"the corpus has a class named {CRY!r}: it would clash with the gate's cry class")
    if not reason:
        raise ValueError("the corpus has no cry class with a reason: the reason stage has nothing to learn")
    if not non_cry:
        raise ValueError("the corpus has no non-cry class (laugh / noise / silence): use a one-stage model")
    return {"all": every, "labels": labels, "cry": reason, "reason": reason, "non_cry": non_cry,
            "gate": sorted([CRY] + non_cry)}


# ---------------------------------------------------------------- the combined model

class TwoStageModel:
    """Gate + reason networks → (n, n_classes) log-probabilities. What LoadedModel.model is for this family.

    `window_logits(wins, cfg)` is what inference.Predictor calls; `feature_logits(X, cfg)` takes log-mel
    features (n, 1, n_mels, frames) (evaluation, occlusion saliency); `stage_proba(X)` gives both stages'
    calibrated probabilities. Inference only: safe to share between threads.
    """

    def __init__(self, gate_net, reason_net, labels, gate_labels, reason_labels, feature_config: FeatureConfig,
                 gate_temperature: float = 1.0, reason_temperature: float = 1.0):
        self.gate_net, self.reason_net = gate_net, reason_net
        self.labels = list(labels)
        self.gate_labels, self.reason_labels = list(gate_labels), list(reason_labels)
        self.feature_config = feature_config
        self.gate_temperature, self.reason_temperature = float(gate_temperature), float(reason_temperature)
        self.cry_index = self.gate_labels.index(CRY)
        self.run_dir: Path | None = None
        self._gate_cols = [(self.labels.index(c), i) for i, c in enumerate(self.gate_labels) if c != CRY]
        self._reason_cols = [self.labels.index(c) for c in self.reason_labels]
        missing = set(self.labels) - {c for c in self.gate_labels if c != CRY} - set(self.reason_labels)
        if missing:
            raise ValueError(f"no stage predicts {sorted(missing)}")

    @property
    def cry_labels(self) -> list[str]:
        return list(self.reason_labels)

    @staticmethod
    def _proba(net, X: np.ndarray, temperature: float, batch_size: int = 64) -> np.ndarray:
        import torch

        outs = []
        with torch.inference_mode():
            for i in range(0, len(X), batch_size):
                z = net(torch.from_numpy(np.ascontiguousarray(X[i: i + batch_size], dtype=np.float32)))
                outs.append(torch.softmax(z.double() / temperature, dim=1).numpy())
        return np.concatenate(outs) if outs else np.zeros((0, 0))

    def stage_proba(self, X: np.ndarray, calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(P(gate class), P(reason | cry)) for log-mel features X, each row summing to 1; calibrated=False:
        without the stages' temperatures."""
        tg, tr = (self.gate_temperature, self.reason_temperature) if calibrated else (1.0, 1.0)
        return self._proba(self.gate_net, X, tg), self._proba(self.reason_net, X, tr)

    def combine(self, p_gate: np.ndarray, p_reason: np.ndarray) -> np.ndarray:
        """One probability vector over `labels`: P(r) = P(cry) P(r | cry); non-cry classes from the gate."""
        out = np.zeros((len(p_gate), len(self.labels)), np.float64)
        for col, i in self._gate_cols:
            out[:, col] = p_gate[:, i]
        out[:, self._reason_cols] = p_gate[:, [self.cry_index]] * p_reason
        return out

    def proba(self, X: np.ndarray, calibrated: bool = True) -> np.ndarray:
        if not len(X):
            return np.zeros((0, len(self.labels)))
        return self.combine(*self.stage_proba(X, calibrated))

    def feature_logits(self, X: np.ndarray, cfg: FeatureConfig | None = None) -> np.ndarray:
        return np.log(np.clip(self.proba(np.asarray(X, np.float32)), LOG_FLOOR, None)).astype(np.float32)

    def window_logits(self, wins: list[np.ndarray], cfg: FeatureConfig | None = None) -> np.ndarray:
        cfg = cfg or self.feature_config
        X = np.stack([log_mel(w, cfg) for w in wins])[:, None]
        return self.feature_logits(X, cfg)


# ---------------------------------------------------------------- run folder

T_DEGENERATE = 0.1  # calibration.fit_temperature searches [0.05, 20]; a fit this low means it ran into the bound


def usable_temperature(cal: dict) -> float:
    """A fitted temperature, or 1 when the fit ran into its lower bound.

    calibration.fit_temperature minimises validation NLL; when a model gets every validation clip right (easy for
    the gate: cry vs ESC-50 noise; and for any model on a tiny validation part) the NLL keeps falling as T
    shrinks and T ends near the bound (0.05): probabilities of 1e-20, i.e. separability, not calibration (a
    network trained with cross-entropy is never 10x under-confident). Used for each stage before combining,
    and for the run's own temperature.
    """
    t = float(cal.get("temperature", 1.0))
    return 1.0 if t < T_DEGENERATE else t


def combined_calibration(model: TwoStageModel, X_val: np.ndarray, y_val: np.ndarray) -> dict:
    """The run's calibration.json: temperature 1 (the stages are calibrated each on its own), the abstention
    threshold chosen on the combined validation vector, and the validation NLL without / with the stages'
    temperatures."""
    from .. import calibration

    out = {"temperature": 1.0, "threshold": 0.0, "fit_on": "validation, per stage",
           "stage_temperatures": {"gate": model.gate_temperature, "reason": model.reason_temperature}}
    if model.run_dir is not None:
        out["stage_temperatures_fitted"] = {s: fileio.read_json(model.run_dir / s / "calibration.json").get(
            "temperature") for s in STAGES}
    if len(y_val):
        raw = np.log(np.clip(model.proba(X_val, calibrated=False), LOG_FLOOR, None))
        cal = model.feature_logits(X_val)
        out.update(threshold=calibration.choose_threshold(calibration.softmax(cal), y_val),
                   val_nll_before=calibration.nll(raw, y_val), val_nll_after=calibration.nll(cal, y_val))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stage_files(run_dir: Path) -> dict:
    return {f"{s}/{f}": _sha256(run_dir / s / f) for s in STAGES for f in STAGE_FILES}


def check_run(run_dir: Path) -> str | None:
    """None when both stage folders are complete and match the sha256 recorded in config.json, else why not."""
    from ..checkpoint import weights_problem

    run_dir = Path(run_dir)
    config = fileio.read_json(run_dir / "config.json", default={})
    files = config.get("files") or {}
    if not files:
        return "config.json records no stage files"
    for stage in STAGES:
        problem = weights_problem(run_dir / stage) if (run_dir / stage).is_dir() else f"no {stage}/ folder"
        if problem:
            return f"{stage}: {problem}"
    for rel, sha in files.items():
        f = run_dir / rel
        if not f.is_file():
            return f"no {rel}"
        if _sha256(f) != sha:
            return f"{rel} does not match the sha256 recorded in config.json"
    return None


def load_run(run_dir: Path, config: dict, labels: list[str]) -> TwoStageModel:
    """Rebuild the combined model from its folder (checkpoint.load calls this through the registry)."""
    from ..checkpoint import load_torch_model

    run_dir = Path(run_dir)
    problem = check_run(run_dir)
    if problem:
        raise ValueError(f"checkpoint {run_dir.name} is damaged: {problem}")
    fcfg = FeatureConfig.from_dict(fileio.read_json(run_dir / "feature_config.json"))
    nets, stage_labels, temps = {}, {}, {}
    for stage in STAGES:
        nets[stage] = load_torch_model(run_dir / stage)
        stage_labels[stage] = fileio.read_json(run_dir / stage / "labels.json")
        temps[stage] = usable_temperature(fileio.read_json(run_dir / stage / "calibration.json"))
        if stage_labels[stage] != config["stages"][stage]["labels"]:
            raise ValueError(f"checkpoint {run_dir.name}: {stage}/labels.json disagrees with config.json")
    model = TwoStageModel(nets["gate"], nets["reason"], labels, stage_labels["gate"], stage_labels["reason"], fcfg,
                          temps["gate"], temps["reason"])
    model.run_dir = run_dir
    return model


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

    from ..augment_noise import augment_training
    from ..train import load_split_features

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


# ---------------------------------------------------------------- progress relay

class _Relay(threading.Thread):
    """Copies a stage's epoch events into the parent run's history.jsonl as they happen (numbered on from
    `offset`, tagged with the stage), so the Train page can follow both stages in one run."""

    def __init__(self, src: Path, dst: Path, stage: str, offset: int, total: int):
        super().__init__(daemon=True)
        self.src, self.dst, self.stage, self.offset, self.total = src, dst, stage, offset, total
        self.seen, self.last = 0, offset
        self.done = threading.Event()

    def pump(self) -> None:
        events = runs.read_events(self.src)
        for e in events[self.seen:]:
            if e.get("event") == "epoch":
                self.last = self.offset + int(e["epoch"])
                runs.append_event(self.dst, {**e, "epoch": self.last, "epochs": self.total, "stage": self.stage,
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

def _command(cfg) -> str:
    """The CLI call that reproduces this run (fields left at their defaults are not written)."""
    from ..train import TrainConfig

    d, args = TrainConfig(), ["python", "-m", "babycry_core", "train", "--model", cfg.model]
    flags = {"corpus": "--corpus", "epochs": "--epochs", "lr": "--lr", "batch_size": "--batch-size",
             "weight_decay": "--weight-decay", "dropout": "--dropout", "seed": "--seed", "balance": "--balance",
             "mixup": "--mixup", "patience": "--patience", "threads": "--threads"}
    for field, flag in flags.items():
        if getattr(cfg, field) != getattr(d, field):
            args += [flag, str(getattr(cfg, field))]
    if not cfg.specaugment:
        args.append("--no-augment")
    if cfg.split == "fold":
        args += ["--fold", str(cfg.fold)]
    if cfg.protocol != "grouped":
        args += ["--protocol", cfg.protocol]
    return shlex.join(args)


def fit_two_stage(cfg, run_dir: Path | None = None, *, progress: bool = True, augment: bool = True) -> Path:
    """Train gate and reason with train.fit, combine, calibrate, evaluate; write the run folder. Returns it.

    SIGTERM during a stage ends that stage as train.fit does ("stopped", best weights kept); the run then
    stops too (without a model if the gate was stopped).
    """
    from .. import data
    from ..train import fit

    run_dir = Path(run_dir) if run_dir else runs.new_run_dir(cfg.model)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    runs.set_status(run_dir, "running", pid=os.getpid(), started=started)
    stop = {"flag": False}

    def on_term(*_):
        stop["flag"] = True

    old = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    try:
        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        roles = class_roles(data.load_manifest(cfg.corpus))
        fcfg = cfg.feature_config
        meta = {**dataclasses.asdict(cfg), "model": NAME, "family": FAMILY, "n_classes": len(roles["labels"]),
                "stage_model": STAGE_MODEL, "command": _command(cfg),
                "stages": {"gate": {"dir": "gate", "labels": roles["gate"],
                                    "cry_means": [c for c in roles["all"] if c not in roles["non_cry"]]},
                           "reason": {"dir": "reason", "labels": roles["reason"]}}}
        fileio.write_json(run_dir / "config.json", meta)
        fileio.write_json(run_dir / "feature_config.json", fcfg.to_dict())
        fileio.write_json(run_dir / "labels.json", roles["labels"])
        runs.append_event(run_dir, {"event": "start", "time": started, "model": NAME, "epochs": 2 * cfg.epochs,
                                    "stages": list(STAGES)})
        base, gate, reason, aug_info = stage_data(cfg, roles, augment=augment, progress=progress)
        meta.update(augmentation=aug_info, **{f"n_{p}": int(len(base[p][1])) for p in ("train", "val", "test")})
        fileio.write_json(run_dir / "config.json", meta)

        offset, status = 0, "finished"
        for stage, parts in (("gate", gate), ("reason", reason)):
            if stop["flag"]:
                status = "stopped"
                break
            stage_cfg = dataclasses.replace(cfg, model=STAGE_MODEL)
            relay = _Relay(run_dir / stage, run_dir, stage, offset, 2 * cfg.epochs)
            relay.start()
            try:
                fit(stage_cfg, run_dir / stage, progress=progress, data_parts=parts)
            finally:
                offset = relay.finish()
            st = fileio.read_json(run_dir / stage / "status.json", default={}).get("status")
            runs.append_event(run_dir, {"event": "stage", "stage": stage, "status": st, "epochs_run": offset})
            if st != "finished":
                status = "stopped"
                break
        if not all((run_dir / s / "model.safetensors").exists() for s in STAGES):
            raise _Stopped()
        meta["files"] = _stage_files(run_dir)
        fileio.write_json(run_dir / "config.json", meta)

        model = load_run(run_dir, meta, roles["labels"])
        val9 = _model_rows(base["val"], roles)
        cal = combined_calibration(model, val9[0], val9[1])
        fileio.write_json(run_dir / "calibration.json", cal)
        metrics = run_metrics(model, base, roles, cal, cfg)
        fileio.write_json(run_dir / "metrics.json", metrics)
        write_model_card(run_dir)

        from ..checkpoint import load  # the folder alone must rebuild the same model before it is marked done

        X = base["test"][0][:8] if len(base["test"][1]) else base["val"][0][:8]
        if len(X) and not np.allclose(load(run_dir).model.feature_logits(X), model.feature_logits(X), atol=1e-5):
            raise RuntimeError(f"run {run_dir.name}: the saved model does not reproduce the trained model")
        ended = time.time()
        runs.append_event(run_dir, {"event": "end", "status": status, "seconds": ended - started})
        runs.set_status(run_dir, status, ended=ended, message="stopped by request" if status == "stopped" else "")
        return run_dir
    except _Stopped:
        ended = time.time()
        runs.append_event(run_dir, {"event": "end", "status": "stopped", "seconds": ended - started})
        runs.set_status(run_dir, "stopped", ended=ended, message="stopped by request before both stages were trained")
        return run_dir
    except BaseException as e:
        runs.set_status(run_dir, "failed", ended=time.time(), message=f"{type(e).__name__}: {e}"[:500])
        runs.append_event(run_dir, {"event": "end", "status": "failed", "message": str(e)[:300]})
        raise
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


class _Stopped(Exception):
    pass


def _model_rows(part, roles: dict):
    """The rows of a part whose label is a model class (cry_unknown left out), y re-indexed to roles["labels"]."""
    X, _, frame = part
    index = {c: i for i, c in enumerate(roles["labels"])}
    keep = frame["label"].astype(str).isin(index).to_numpy()
    return X[keep], frame.loc[keep, "label"].map(index).to_numpy(dtype=np.int64), frame[keep].reset_index(drop=True)


def run_metrics(model: TwoStageModel, base: dict, roles: dict, cal: dict, cfg=None) -> dict:
    """metrics.json: evaluate() + calibration over the model classes (cv.test_metrics: the flat figures at the
    top level, as every run has them) + cry_metrics.report's separate figures + each stage's own test figures."""
    from .. import calibration, cry_metrics
    from ..calibration import softmax
    from ..cv import test_metrics

    X, y, frame = _model_rows(base["test"], roles)
    logits = model.feature_logits(X)
    metrics = test_metrics(logits, y, roles["labels"], cal, frame["clip_id"].tolist()) if len(y) else {}
    if len(y):  # "before" = the stages combined without their temperatures (the run's own T is 1)
        raw = np.log(np.clip(model.proba(X, calibrated=False), LOG_FLOOR, None))
        before = calibration.report(raw, y, {"temperature": 1.0, "threshold": cal.get("threshold", 0.0)})
        metrics.update(ece_before=before["ece_before"], nll_before=before["nll_before"])
    Xall, _, fall = base["test"]
    proba = softmax(model.feature_logits(Xall), cal["temperature"]) if len(Xall) else \
        np.zeros((0, len(roles["labels"])))
    metrics.update(cry_metrics.report(proba, roles["labels"], fall, cry_classes=roles["cry"],
                                      reason_classes=roles["reason"],
                                      split_frames={p: base[p][2] for p in ("train", "val", "test")}))
    metrics["calibration"] = {k: metrics.get(k) for k in ("ece_before", "ece_after", "nll_before", "nll_after",
                                                          "coverage", "selective_accuracy")}
    metrics["calibration"].update(temperature=cal.get("temperature"), threshold=cal.get("threshold"),
                                  stage_temperatures=cal.get("stage_temperatures"),
                                  before_after="stages combined without / with their own temperatures")
    metrics["stages"] = {}
    run_dir = model.run_dir
    for stage in STAGES:
        m = fileio.read_json(run_dir / stage / "metrics.json", default={}) if run_dir else {}
        metrics["stages"][stage] = {k: m.get(k) for k in ("n", "classes", "macro_f1", "macro_f1_ci",
                                                          "balanced_accuracy", "balanced_accuracy_ci")}
    metrics["length_check"] = length_check(model, fall) if len(fall) else {}
    metrics["generated_signals"] = generated_signal_check(model)
    metrics["corpus"] = getattr(cfg, "corpus", None)
    return metrics


def length_check(model: TwoStageModel, frame, seconds: float = 5.0) -> dict:
    """Does clip length tell the gate the class? giulbia clips (every non-cry clip) are 5 s, zero-padded to the
    window; Donate-a-Cry cries fill it. Test cries longer than `seconds` are scored again cut to `seconds` (and
    zero-padded), non-cry test clips shorter than the window again looped to fill it. A model that keyed on the
    padding would lose cries when cut and raise false alarms when looped."""
    from .. import audio, data
    from ..cry_metrics import gate_decision
    from ..features import fix_length

    fcfg = model.feature_config
    n, cut = fcfg.clip_samples, int(seconds * fcfg.sample_rate)
    variants = {"cry_full": [], "cry_cut": [], "non_cry_padded": [], "non_cry_looped": []}
    for path, is_cry in zip(frame["path"], frame["is_cry"].astype(bool)):
        y = audio.load(data.resolve_path(path), fcfg.sample_rate)
        if is_cry and len(y) > 1.1 * cut:
            variants["cry_full"].append(fix_length(y, n))
            variants["cry_cut"].append(fix_length(y[:cut], n))
        elif not is_cry and len(y) < 0.95 * n:
            variants["non_cry_padded"].append(fix_length(y, n))
            variants["non_cry_looped"].append(np.resize(y, n))
    out = {"seconds": seconds}
    for name, wins in variants.items():
        if not wins:
            continue
        proba = model.proba(np.stack([log_mel(w, fcfg) for w in wins])[:, None])
        top_is_cry = np.isin(np.array(model.labels)[proba.argmax(1)], model.cry_labels)
        out[name] = {"clips": len(wins), "answered_cry": float(top_is_cry.mean()),
                     "gate_says_cry": float(gate_decision(proba, model.labels, model.cry_labels).mean()),
                     "mean_p_cry": float(proba[:, [model.labels.index(c) for c in model.cry_labels]].sum(1).mean())}
    return out


GENERATED = {"white noise": ("white_noise", {"level": 0.1}), "sine 440 Hz": ("sine", {"freq": 440.0}),
             "sine 1 kHz": ("sine", {"freq": 1000.0}), "quiet hiss (-50 dBFS)": ("white_noise", {"level": 0.003})}


def generated_signal_check(model: TwoStageModel, seconds: float = 7.0) -> dict:
    """The model's answer (top class, P(cry)) for generated non-cry signals, averaged over windows as inference
    does (digital silence never reaches a model: inference answers it from the level)."""
    from .. import synth
    from ..features import windows

    fcfg, out = model.feature_config, {}
    cry_cols = [model.labels.index(c) for c in model.cry_labels]
    for name, (kind, kw) in GENERATED.items():
        y = synth.SIGNALS[kind](seconds, fcfg.sample_rate, **kw)
        p = np.exp(model.window_logits([w for _, w in windows(y, fcfg)], fcfg)).mean(0)
        out[name] = {"label": model.labels[int(p.argmax())], "p_cry": float(p[cry_cols].sum())}
    return out


def evaluate_run(run_dir: Path) -> dict:
    """Re-evaluate a run on the test part of its split; rewrite metrics.json (cv.evaluate_run calls this)."""
    from .. import data
    from ..checkpoint import load
    from ..train import TrainConfig, load_split_features

    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    roles = class_roles(data.load_manifest(cfg.corpus))
    if roles["labels"] != loaded.labels:
        raise ValueError(f"run {Path(run_dir).name} was trained on classes {loaded.labels}, the corpus now has "
                         f"{roles['labels']}")
    _, base = load_split_features(cfg, labels=roles["all"], progress=False)
    metrics = run_metrics(loaded.model, base, roles, loaded.calibration, cfg)
    fileio.write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics


# ---------------------------------------------------------------- model card

def _ci(v, ci) -> str:
    if v is None or v != v:
        return "n/a"
    lo, hi = ci if ci else (float("nan"), float("nan"))
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if lo == lo else f"{v:.3f} [no interval]"


def write_model_card(run_dir: Path, command: str | None = None) -> Path:
    """MODEL_CARD.md from the run's own files: data, split, band limit, metrics with intervals, limitations."""
    run_dir = Path(run_dir)
    cfg = fileio.read_json(run_dir / "config.json")
    m = fileio.read_json(run_dir / "metrics.json", default={})
    fc = fileio.read_json(run_dir / "feature_config.json")
    cal = fileio.read_json(run_dir / "calibration.json", default={})
    aug = cfg.get("augmentation", {})
    cd, cdp, ro, re2e, fl = (m.get(k, {}) for k in ("cry_detection", "cry_detection_gate", "reason_only",
                                                    "reason_end_to_end", "flat"))
    gpc = m.get("groups_per_class", {})
    L = [f"# Model card: {run_dir.name}", "",
         f"Two-stage cry model (`two_stage`): a cry / laugh / noise / silence **gate** and a cry-**reason** model, "
         f"both the small CNN (`{cfg.get('stage_model')}`) on log-mel features, combined as "
         "P(reason) = P(cry) · P(reason | cry). Card written " + time.strftime("%Y-%m-%d %H:%M %Z") + ".", "",
         "## Command", "", "```", command or cfg.get("command", ""), "```", "",
         f"Corpus `{cfg.get('corpus')}`, fixed split, seed {cfg.get('seed')}, up to {cfg.get('epochs')} epochs per "
         f"stage (early stopping on validation macro-F1, patience {cfg.get('patience')}), {cfg.get('threads')} "
         "torch thread(s).", "",
         "## Data", "",
         "- **Donate-a-Cry** (cleaned, ODbL/DbCL): 8 kHz phone recordings of crying babies, one reason tag each "
         "(hungry, tired, discomfort, belly_pain, burping, cold_hot). Grouped by app-install uuid (~ one baby).",
         "- **giulbia/baby_cry_detection** (no licence stated; its noise and part of its cries are ESC-50 clips, "
         "CC BY-NC 3.0 — development use only): laugh, silence, noise, and cries without a reason "
         "(`cry_unknown`, used by the gate only). 16 kHz, 5 s windows; grouped by source recording "
         "(ESC-50 source id, or the home recording the window was cut from; silence is one recording).", "",
         "| class | train clips (groups) | val clips (groups) | test clips (groups) |", "|---|---|---|---|"]
    for c, r in gpc.items():
        L.append(f"| {c} | {r.get('train_clips')} ({r.get('train_groups')}) | {r.get('val_clips')} "
                 f"({r.get('val_groups')}) | {r.get('test_clips')} ({r.get('test_groups')}) |")
    L += ["", "## Split", "",
          "Train / validation / test by **group** (by baby for Donate-a-Cry, by source recording for giulbia): "
          "no baby and no recording has clips on two sides. Validation picks the epoch (early stopping) and fits "
          "the temperature and the abstention threshold; the test part is used once, for the figures below.", "",
          "## Band limit: 0-4 kHz", "",
          f"Every input is resampled to {fc.get('sample_rate')} Hz and the mel bank spans "
          f"{fc.get('fmin'):g}-{fc.get('fmax'):g} Hz. Donate-a-Cry is recorded at 8 kHz (nothing above 4 kHz), "
          "giulbia is wideband 16 kHz: with the full band a model separates the *sources* (which device recorded "
          "it) instead of cry from no cry — a plain SVM scored 0.998 macro-F1 wideband against 0.94 band-limited "
          "on the same task. Limiting both sources to the band they share removes that shortcut.", "",
          "## Training-time noise augmentation", "",
          (f"Training part only: every {', '.join(aug.get('classes', []))} training clip mixed with generated "
           f"{' / '.join(aug.get('interferers', []))} at {', '.join(f'{s:g}' for s in aug.get('snrs_db', []))} dB "
           f"SNR (noise also at {', '.join(f'{s:g}' for s in aug.get('dominant_snrs_db', []))} dB, interference "
           f"dominating), and as many cry clips likewise ({aug.get('copies')} copies in all: "
           f"{aug.get('copies_per_label')}). Copies keep their recording's group; validation and test are "
           "never mixed. Clip length is decorrelated from the class in the same copies: short non-cry clips are "
           f"looped to fill the window, the cry copies cut to {aug.get('cut_matched_to_s') or 0:g} s and zero-padded "
           f"({aug.get('copies_by_length')}).") if aug.get("applied") else "None.", "",
          "## Test figures (95 % bootstrap intervals over groups, i.e. source recordings / babies)", "",
          "**Cry vs no cry** (cry = any cry class incl. cries without a reason; decided as the app does: the top "
          "class is a cry class):", "",
          f"- cry F1 {_ci(cd.get('f1'), cd.get('f1_ci'))}; cry recall {_ci(cd.get('recall'), cd.get('recall_ci'))}; "
          f"precision {_ci(cd.get('precision'), cd.get('precision_ci'))}",
          f"- false-alarm rate on non-cry clips {_ci(cd.get('false_alarm_rate'), cd.get('false_alarm_rate_ci'))} "
          f"({cd.get('n_cry')} cry clips in {cd.get('groups_cry')} groups, {cd.get('n_non_cry')} non-cry clips in "
          f"{cd.get('groups_non_cry')} groups)",
          f"- decided as the gate would (P(cry) = sum over the reasons, against each non-cry class): F1 "
          f"{_ci(cdp.get('f1'), cdp.get('f1_ci'))}, recall {_ci(cdp.get('recall'), cdp.get('recall_ci'))}, "
          f"false-alarm rate {_ci(cdp.get('false_alarm_rate'), cdp.get('false_alarm_rate_ci'))}", ""]
    per = cd.get("per_class", {})
    if per:
        L += ["| class | clips (groups) | miss rate / false-alarm rate |", "|---|---|---|"]
        for c, r in per.items():
            v = r.get("miss_rate", r.get("false_alarm_rate"))
            kind = "miss" if "miss_rate" in r else "false alarm"
            L.append(f"| {c} | {r['clips']} ({r['groups']}) | {kind} {v:.3f} |")
        L.append("")
    L += [f"**Reason only** (cry clips with a reason; the reason decision alone, i.e. given a cry): macro-F1 "
          f"{_ci(ro.get('macro_f1'), ro.get('macro_f1_ci'))}, balanced accuracy "
          f"{_ci(ro.get('balanced_accuracy'), ro.get('balanced_accuracy_ci'))} on {ro.get('n')} clips / "
          f"{ro.get('groups')} babies; always-'{ro.get('majority_baseline', {}).get('label')}' baseline macro-F1 "
          f"{ro.get('majority_baseline', {}).get('macro_f1', float('nan')):.3f}.", "",
          f"**Reason end to end** (same clips, the app's full answer; a no-cry answer is a miss): macro-F1 "
          f"{_ci(re2e.get('macro_f1'), re2e.get('macro_f1_ci'))}.", "",
          f"**Flat** (all {len(fl.get('classes', []))} classes; test holds {', '.join(fl.get('classes_in_test', []))}):"
          f" macro-F1 {_ci(fl.get('macro_f1'), fl.get('macro_f1_ci'))}, balanced accuracy "
          f"{_ci(fl.get('balanced_accuracy'), fl.get('balanced_accuracy_ci'))}, accuracy "
          f"{_ci(fl.get('accuracy'), fl.get('accuracy_ci'))}.", "",
          "**By tag** (Donate-a-Cry clips; reason macro-F1 of the app's answer / of the reason decision alone):", "",
          "| tag | value | clips (babies) | macro-F1 (app) | macro-F1 (reason alone) |", "|---|---|---|---|---|"]
    for tag, vals in m.get("by_tag", {}).items():
        for v, r in vals.items():
            L.append(f"| {tag} | {r['name']} | {r['clips']} ({r['groups']}) | {_ci(r['macro_f1'], r['macro_f1_ci'])} "
                     f"| {_ci(r.get('reason_macro_f1'), r.get('reason_macro_f1_ci'))} |")
    stt = cal.get("stage_temperatures", {})
    L += ["", "**Calibration** (temperature scaling per stage, each fit on its own validation clips; the combined "
          "vector is not rescaled): "
          f"T(gate) = {stt.get('gate', float('nan')):.3f}, T(reason) = {stt.get('reason', float('nan')):.3f} (fitted: "
          f"{cal.get('stage_temperatures_fitted')}); abstention threshold {cal.get('threshold', 0):.3f}; test ECE "
          f"{m.get('ece_before', float('nan')):.3f} without the stage temperatures, "
          f"{m.get('ece_after', float('nan')):.3f} with them; "
          f"answered {m.get('coverage', float('nan')):.1%} of the test clips, accuracy on those "
          f"{m.get('selective_accuracy', float('nan')):.3f}.", ""]
    st = m.get("stages", {})
    if st:
        L += ["**Each stage on its own test clips** (clip bootstrap, from the stage folders): " + "; ".join(
            f"{s} macro-F1 {_ci(r.get('macro_f1'), r.get('macro_f1_ci'))} over {r.get('classes')}"
            for s, r in st.items() if r.get("macro_f1") is not None) + ".", ""]
    lc = m.get("length_check", {})
    if lc.get("cry_full") or lc.get("non_cry_padded"):
        def share(k, f="answered_cry"):
            return f"{lc[k][f]:.1%}" if k in lc else "n/a"
        L += [f"**Clip-length check** (is the 5 s giulbia padding a cue?): test cries longer than {lc['seconds']:g} s "
              f"answered as cries {share('cry_full')} in full vs {share('cry_cut')} cut to {lc['seconds']:g} s "
              f"({lc.get('cry_full', {}).get('clips', 0)} clips); short non-cry test clips answered as cries "
              f"{share('non_cry_padded')} zero-padded vs {share('non_cry_looped')} looped to fill the window "
              f"({lc.get('non_cry_padded', {}).get('clips', 0)} clips).", ""]
    gs = m.get("generated_signals", {})
    if gs:
        L += ["**Generated signals** (not in any split): " + "; ".join(
            f"{k} -> {r['label']} (P(cry) {r['p_cry']:.2f})" for k, r in gs.items())
            + "; digital silence is answered by the level check before the model.", ""]
    L += ["## Limitations", "",
          "- **Silence is one recording** (a quiet room, peak-normalised: hiss, not digital silence) and sits "
          "entirely in the training part: no test figure exists for it. Digital silence never reaches the model: "
          "inference answers it from the signal level (below -65 dBFS) and says so.",
          "- **Laugh is two recordings**: one trains the model, the other is the whole laugh test set, so the laugh "
          "figures describe one baby's laughter in one room.",
          "- Reason classes other than hungry rest on a handful of babies each (see the table above); their "
          "intervals are wide and the reason figures should be read as indicative only.",
          "- giulbia clips are 5 s long (zero-padded to the 7 s window) and non-cry clips come only from giulbia, "
          "while most cries come from Donate-a-Cry phones: clip length and recording chain may still carry "
          "information about the class beyond the band limit.",
          "- The answer is the top class over all classes; a cry whose probability is spread over several reasons "
          "can lose to a single non-cry class (compare the two cry-detection rows above).",
          "- Not a medical device; research and development data only (giulbia/ESC-50 licences)."]
    base_f1 = ro.get("majority_baseline", {}).get("macro_f1")
    if ro.get("macro_f1") is not None and base_f1 is not None and ro["macro_f1"] <= base_f1:
        L.append(f"- **The reason stage is not better than always answering "
                 f"'{ro['majority_baseline']['label']}'** (macro-F1 {ro['macro_f1']:.3f} vs {base_f1:.3f}): treat the "
                 "reason as unknown; only the cry / no-cry answer carries information.")
    if m.get("ece_after") is not None and m.get("ece_before") is not None and m["ece_after"] > m["ece_before"]:
        L.append(f"- The stage temperatures, fit on validation, made the test calibration worse (ECE "
                 f"{m['ece_before']:.3f} -> {m['ece_after']:.3f}); the validation part has no laugh and no silence, "
                 "so the gate's temperature is fit on cry vs noise only.")
    L.append("")
    return fileio.atomic_write(run_dir / "MODEL_CARD.md", lambda f: f.write("\n".join(L)), mode="w")


# ---------------------------------------------------------------- registry

@register(NAME, FAMILY, "Two-stage: cry/laugh/noise/silence gate CNN x cry-reason CNN, "
                        "P(reason) = P(cry) P(reason | cry)",
          fit=fit_two_stage, load=load_run, check=check_run, evaluate=evaluate_run)
def build_two_stage(n_classes: int, **_):
    raise TypeError("two_stage is trained with train.fit(TrainConfig(model='two_stage', corpus='combined')) and "
                    "rebuilt from its run folder with checkpoint.load; it has no single network to build")

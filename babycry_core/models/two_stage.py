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
happen), status.json, MODEL_CARD.md (model_card.py), gate/ and reason/. The post-training checks (metrics.json,
clip-length and generated-signal checks, re-evaluation) are in two_stage_checks.py.
"""
from __future__ import annotations

import dataclasses
import os
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


def _stage_files(run_dir: Path) -> dict:
    return {f"{s}/{f}": fileio.sha256_file(run_dir / s / f) for s in STAGES for f in STAGE_FILES}


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
        if fileio.sha256_file(f) != sha:
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
    from ..model_card import train_command

    return train_command(dataclasses.asdict(cfg))


def fit_two_stage(cfg, run_dir: Path | None = None, *, progress: bool = True, augment: bool = True) -> Path:
    """Train gate and reason with train.fit, combine, calibrate, evaluate; write the run folder. Returns it.

    SIGTERM during a stage ends that stage as train.fit does ("stopped", best weights kept); the run then
    stops too (without a model if the gate was stopped).
    """
    from .. import data
    from ..model_card import write_model_card
    from ..train import fit
    from .two_stage_checks import model_rows, run_metrics

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
        val9 = model_rows(base["val"], roles)
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


# ---------------------------------------------------------------- registry

def evaluate_run(run_dir: Path) -> dict:
    """Re-evaluate a run on its test part; rewrite metrics.json (see two_stage_checks.evaluate_run)."""
    from .two_stage_checks import evaluate_run as evaluate

    return evaluate(run_dir)


@register(NAME, FAMILY, "Two-stage: cry/laugh/noise/silence gate CNN x cry-reason CNN, "
                        "P(reason) = P(cry) P(reason | cry)",
          fit=fit_two_stage, load=load_run, check=check_run, evaluate=evaluate_run)
def build_two_stage(n_classes: int, **_):
    raise TypeError("two_stage is trained with train.fit(TrainConfig(model='two_stage', corpus='combined')) and "
                    "rebuilt from its run folder with checkpoint.load; it has no single network to build")

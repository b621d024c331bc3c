"""Post-training checks of the two-stage model (models/two_stage.py, training/two_stage_fit.py): metrics.json,
re-evaluation.

    run_metrics            metrics.json: evaluate() + calibration over the model classes, cry_metrics.report's
                           separate figures (cry detection, reason only, flat, by tag, groups per class), each
                           stage's own test figures, and the two checks below
    length_check           does clip length (giulbia's 5 s padding) tell the gate the class?
    generated_signal_check the answer for generated non-cry signals (GENERATED: noise, tones, quiet hiss)
    evaluate_metrics       a saved run's metrics on its test part, recomputed (evaluate_runs.evaluate_run's evaluator for
                           two_stage runs, which rewrites metrics.json)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from babycry_core.runs.run_folder import RunFolder
from babycry_core.features.logmel import log_mel
from babycry_core.models.two_stage import LOG_FLOOR, STAGES, TwoStageModel
from babycry_core.data.corpora import class_roles


def model_rows(part, roles: dict):
    """The rows of a part whose label is a model class (cry_unknown left out), y re-indexed to roles["labels"]."""
    X, _, frame = part
    index = {c: i for i, c in enumerate(roles["labels"])}
    keep = frame["label"].astype(str).isin(index).to_numpy()
    return X[keep], frame.loc[keep, "label"].map(index).to_numpy(dtype=np.int64), frame[keep].reset_index(drop=True)


def run_metrics(model: TwoStageModel, base: dict, roles: dict, cal: dict, cfg=None) -> dict:
    """metrics.json: evaluate() + calibration over the model classes (runs.writer.test_metrics: the flat figures at the
    top level, as every run has them) + cry_metrics.report's separate figures + each stage's own test figures."""
    from babycry_core.eval import calibration
    from babycry_core.eval import cry_metrics
    from babycry_core.eval.calibration import softmax
    from babycry_core.runs.writer import test_metrics

    X, y, frame = model_rows(base["test"], roles)
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
        m = RunFolder.of(run_dir).stage(stage).metrics if run_dir else {}
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
    from babycry_core.audio import decode as audio
    from babycry_core.data import manifest as data
    from babycry_core.eval.cry_metrics import gate_decision
    from babycry_core.features.logmel import fix_length

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
    from babycry_core.audio import synth
    from babycry_core.features.logmel import windows

    fcfg, out = model.feature_config, {}
    cry_cols = [model.labels.index(c) for c in model.cry_labels]
    for name, (kind, kw) in GENERATED.items():
        y = synth.SIGNALS[kind](seconds, fcfg.sample_rate, **kw)
        p = np.exp(model.window_logits([w for _, w in windows(y, fcfg)], fcfg)).mean(0)
        out[name] = {"label": model.labels[int(p.argmax())], "p_cry": float(p[cry_cols].sum())}
    return out


def evaluate_metrics(run_dir: Path) -> dict:
    """A saved run's metrics.json recomputed on the test part of its split (evaluate_runs.evaluate_run writes it)."""
    from babycry_core.data import manifest as data
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.loop import TrainConfig, load_split_features

    loaded = load(run_dir)
    cfg = TrainConfig.from_dict(loaded.config)
    roles = class_roles(data.load_manifest(cfg.corpus))
    if roles["labels"] != loaded.labels:
        raise ValueError(f"run {Path(run_dir).name} was trained on classes {loaded.labels}, the corpus now has "
                         f"{roles['labels']}")
    _, base = load_split_features(cfg, labels=roles["all"], progress=False)
    return run_metrics(loaded.model, base, roles, loaded.calibration, cfg)

"""`bench episodes`: crying episodes over synthetic nights made from held-out recordings only, and detect's speed.

For each grouped fold k of data/detect, only the fold's *test* recordings are used, and the detector trained on
the rest listens: results/cry_bench/fold{k}/<model>/, written by `bench cry` (`--models NAME`: one of its runs,
plain or fused; default cry_detector). A fold whose run has not finished falls back to the shipped detector,
which is NOT held out there (it trained on the fixed split, which shares recordings with every fold's test part);
the report says so per fold, and names the model.

Nights (8 kHz, augment/nights.py): a quiet-room floor (held-out room tone, -55 to -45 dBFS) under one background
per kind of the manifest: `room` alone, speech_men / speech_women / speech_children (-40 to -25 dBFS, pauses
between utterances), same_app (non-cry uploads from the cry app, played like speech), household_street
(UrbanSound8K and older noise, -40 to -20 dBFS), laughing (like speech), or `silence` (a phone's noise gate:
-85 dBFS); an older manifest without kinds gives room, speech, laugh, noise and silence by label. Cry nights add
held-out cries (one baby's clips joined) of 4-60 s at -35, -25 and -15 dBFS at known times, 25-60 s apart;
background-only nights count false alerts per hour. Every figure is also given for two other rules (`VARIANTS`:
off after 5 s; on after 2 s), to show what the defaults trade. Scores:
  event F1      sed_eval EventBasedMetrics, onset collar 1 s (offsets not judged; also with offsets, 50 %)
  PSDS          psds_eval, DCASE scenario 1 (dtc = gtc = 0.7) and 2 (0.1), one class, eFPR up to 100 / h, over a
                threshold sweep of the same rule
  false alerts  episodes per hour of background-only nights, per background
  delay         live mode: from a cry's true start to its alert (`Episode.alert_at`: the end of the window that
                completed the rule), over cries that got one
Speed: `python -m babycry_core detect` in a fresh process on long generated WAVs in /tmp (1 h; 8 h unless
BABYCRY_BENCH_HOURS says otherwise), wall time and peak memory (VmHWM, and the private part RssAnon, polled).
Both engines (torch; onnxruntime, `detect --engine onnx`): bench/detect_speed.py. Writes results/bench_episodes.json
and results/night.png. Nothing here is a timed test.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from babycry_core import fileio, paths
from babycry_core.bench.episodes_report import format_report, plot_night  # noqa: F401 (re-exported)
from babycry_core.bench.detect_speed import speed
from babycry_core.eval.events import event_f1
from babycry_core.augment.nights import SR, backgrounds, label_of, material, minutes, nights_of, ordered
from babycry_core.augment.nights import matches as _matches
from babycry_core.runs.run_folder import PINNED_DEFAULTS, RunFolder

MODEL = "cry_detector"  # the fold run evaluated unless --models names another
THRESHOLDS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))
VARIANTS = {"default": {}, "off_5s": {"off_seconds": 5.0}, "on_2s": {"on_seconds": 2.0}, "no_onset_backtrack":
            {"onset_fraction": 1.0}}
ONSET_FRACTIONS = (1.0, 0.5, 0.25, 0.1)  # EpisodeRule.onset_fraction candidates (1.0: the first sure window)
LIFTS = (0.0, 0.25, 0.5, 0.75)  # episodes.ALERT_LIFT candidates (0: the detector's clip threshold)
TARGETS = {"event_f1": 0.90, "false_alerts_per_hour": 1.0, "median_delay_s": 3.0, "x_real_time": 500.0,
           "peak_mb_8h": 600.0}


# ---------------------------------------------------------------- detectors per fold

def finished(run: Path | RunFolder) -> bool:
    """A finished run folder of `bench cry`: status.json says so, or a fused run's fusion.json and config.json."""
    folder = RunFolder.of(run)
    if folder.status.get("status") == "finished":
        return True
    return folder.file(RunFolder.FUSION).is_file() and folder.file(RunFolder.CONFIG).is_file()


def fold_detector(k: int, model: str = MODEL):
    """(CryDetector, run name, held_out, note) for fold k: its `model` run, else the shipped detector."""
    from babycry_core.runs.checkpoint import load
    from babycry_core.inference.cry_detector import CryDetector

    folder = RunFolder(paths.results_dir() / "cry_bench" / f"fold{k}" / model)
    if finished(folder):
        det = CryDetector(load(folder), folder)
        if folder.has(RunFolder.FUSION) and det.fusion is None:
            raise RuntimeError(f"fold {k}'s {model} did not load its YAMNet side: {det.fusion_error}")
        return det, f"cry_bench/fold{k}/{model}", True, "trained on this fold's training part"
    d = paths.ROOT / "checkpoints"
    name = fileio.read_json(d / PINNED_DEFAULTS)["detector"]
    return (CryDetector(load(d / name)), name, False,
            f"NOT held out: the fold's own {model} has not finished (bench cry); the shipped detector trained on "
            "the fixed split, which shares recordings with this fold's test part")


def fold_monitor(k: int, det, frames, progress: bool = True) -> None:
    """Give fold k's held-out detector the shipped recipe's upload verdict, fitted on the fold's training part, and
    its monitor rule, chosen on nights from the fold's validation part (detection/monitor_rule.py); both cached in
    results/cry_bench/fold<k>/monitor/."""
    from babycry_core.detection.monitor_rule import choose, make_nights
    from babycry_core.inference.clip_verdict import ClipVerdict
    from babycry_core.training.clip_verdict_fit import SR as VSR, fit_verdict, trainable
    from babycry_core.training.detector_fit import load_waves

    folder = RunFolder(paths.results_dir() / "cry_bench" / f"fold{k}" / "monitor")
    if not folder.file(RunFolder.VERDICT).is_file() or "monitor" not in folder.read(RunFolder.VERDICT):
        train, val = trainable(frames["train"]), trainable(frames["val"])
        v = fit_verdict(load_waves(train, VSR, progress), train, load_waves(val, VSR, progress), val, progress=progress)
        v.info["monitor"] = choose(det, v, make_nights(frames["val"], seed=k), progress)
        folder.path.mkdir(parents=True, exist_ok=True)
        v.save(folder)
    det.verdict = ClipVerdict.load(folder)


# ---------------------------------------------------------------- metrics

def _patch_psds() -> None:
    """psds_eval 0.5.3 (its last release) predates pandas 3 and numpy 2: DataFrame.fillna(method=...) is gone and
    int() of a (1, 1) array raises; with one class its eFPR is NaN. The same functions, fixed."""
    import pandas as pd
    from psds_eval import PSDSEval

    def step_curve(x, xp, yp):
        roc = pd.DataFrame({"x": xp, "y": yp}).groupby("x").agg("max").reset_index().sort_values(by="x")
        roc.y = roc.y.cummax()
        return pd.merge(pd.Series(x, name="x"), roc, how="outer", on="x").ffill().fillna(value=0).y.values

    def auc(x, y, max_x=None, decreasing_y=False):  # sums of rectangles up to max_x, as psds_eval's _auc
        _x, _y = np.array(x), np.array(y)
        max_x = _x.max() if max_x is None else max_x
        if max_x not in _x:
            _x = np.sort(np.concatenate([_x, [max_x]]))
            i = int(np.argwhere(_x == max_x)[0, 0])
            _y = np.concatenate([_y[:i], [_y[i - 1]], _y[i:]])
        keep = _x <= max_x
        return np.sum(np.diff(_x[keep]) * np.array(_y[keep])[:-1])

    orig = getattr(PSDSEval._effective_fp_rate, "_babycry_orig", PSDSEval._effective_fp_rate)

    def effective_fp_rate(self, alpha_ct=0.0):  # one class: no cross-triggers; nanmean of none is NaN, even x 0
        r = orig(self, alpha_ct)
        return r._replace(effective_fp_rate=r.fp_rate) if alpha_ct == 0 else r

    effective_fp_rate._babycry_orig = orig
    PSDSEval.step_curve = staticmethod(step_curve)
    PSDSEval._auc = staticmethod(auc)
    PSDSEval._effective_fp_rate = effective_fp_rate


def psds(nights, rule_of) -> dict:
    import pandas as pd
    from psds_eval import PSDSEval

    from babycry_core.detection.episodes import find_episodes

    _patch_psds()
    gt = pd.DataFrame([{"filename": n["name"], "onset": e["onset"], "offset": e["offset"], "event_label": "cry"}
                       for n in nights for e in n["events"]])
    meta = pd.DataFrame([{"filename": n["name"], "duration": n["seconds"]} for n in nights])
    out = {}
    for name, tc in (("scenario1", 0.7), ("scenario2", 0.1)):
        ev = PSDSEval(dtc_threshold=tc, gtc_threshold=tc, cttc_threshold=0.3, ground_truth=gt, metadata=meta)
        for thr in THRESHOLDS:
            det = pd.DataFrame([{"filename": n["name"], "onset": e.start, "offset": e.end, "event_label": "cry"}
                                for n in nights for e in find_episodes(n["starts"], n["p"], rule_of(n).with_threshold(thr),
                                                                          confirm=n.get("confirm"))],
                               columns=["filename", "onset", "offset", "event_label"])
            ev.add_operating_point(det, info={"threshold": float(thr)})
        out[name] = float(ev.psds(alpha_ct=0.0, alpha_st=0.0, max_efpr=100).value)
    return out


def _rate(rows, key) -> dict:
    keys = sorted({r[key] for r in rows})
    return {str(k): round(float(np.mean([r["found"] for r in rows if r[key] == k])), 3) for k in keys}


# ---------------------------------------------------------------- the sweep

def run(folds: int = 5, cry_minutes: float = 12.0, bg_minutes: dict | None = None, seed: int = 0,
        speed_hours=(1.0, 8.0), out: Path | None = None, progress: bool = True, model: str = MODEL,
        monitor: bool = True) -> dict:
    """bg_minutes: background-only minutes per background and fold (default: nights.minutes; any given override
    those). monitor: alerts confirmed by each fold's upload verdict at its monitor rule (fold_monitor); False: the
    windows alone, as before issue 30."""
    from babycry_core.data import manifest as data
    from babycry_core.detection.episodes import EpisodeRule, find_episodes
    from babycry_core.detection.monitor_rule import VerdictAt, confirms, window_series

    started = time.time()
    nights, fold_info, rules, base = [], [], {}, {}
    for k in range(folds):
        det, run_name, held_out, note = fold_detector(k, model)
        frames = dict(zip(("train", "val", "test"), data.split_frames("detect", "fold", k)))
        if held_out and monitor:
            fold_monitor(k, det, frames, progress)
        elif not monitor:
            det.verdict = None
        rule = EpisodeRule.for_detector(det)
        rules[k], base[k] = rule, det.threshold
        mat = material(frames["test"])
        rng = np.random.default_rng(seed + k)
        kinds = backgrounds(mat)
        bg = {**minutes(kinds), **(bg_minutes or {})}
        fold_info.append({"fold": k, "detector": run_name, "held_out": held_out, "note": note,
                          "threshold": round(det.threshold, 4), "confirm_threshold": rule.confirm_threshold,
                          "backgrounds": kinds,
                          "material_s": {m: round(sum(len(y) for _, y in v) / SR, 1) for m, v in mat.items()},
                          "cry_babies": len({g for g, _ in mat["cry"]})})
        if not mat.get("cry") or not mat.get("room"):
            fold_info[-1]["note"] += "; skipped: no held-out cries or room tone"
            continue
        for n in nights_of(mat, rng, cry_minutes, bg):
            t, y = time.time(), n.pop("y")
            n["starts"], n["p"] = window_series(det, y)
            n.update(name=f"fold{k}_{n['name']}", fold=k, score_s=time.time() - t)
            n["confirm"] = None if det.verdict is None or rule.confirm_threshold is None else \
                confirms(VerdictAt(det.verdict, y, SR, rule.confirm_seconds), rule.confirm_threshold)
            n["windows_alone"] = find_episodes(n["starts"], n["p"], rule)
            n["found"] = find_episodes(n["starts"], n["p"], rule, confirm=n["confirm"])
            nights.append(n)
            if progress:
                print(f"fold {k} {n['background']:>16} {n['kind']:>4}: {n['seconds'] / 60:.0f} min, "
                      f"{len(n['events'])} cries, {len(n['found'])} episodes ({n['score_s']:.1f} s)",
                      file=sys.stderr, flush=True)
    rep = report(nights, fold_info, rules, base, model)

    def plot(f, hours, events):
        plot_first_night(f, hours, events, model)

    rep["speed"] = speed(speed_hours, progress, on_night=plot) if speed_hours else {}
    rep["targets"] = TARGETS
    rep["met"] = _met(rep)
    rep["seconds"] = round(time.time() - started, 1)
    fileio.write_json(out or paths.results_dir() / "bench_episodes.json", rep)
    return rep


def report(nights, fold_info, rules, base=None, model: str = MODEL) -> dict:
    cry_n = [n for n in nights if n["kind"] == "cry"]
    only = [n for n in nights if n["kind"] == "only"]
    bgs = ordered({n["background"] for n in nights})
    rows = [dict(r, background=n["background"], fold=n["fold"]) for n in cry_n for r in _matches(n["events"], n["found"])]
    delays = [r["delay"] for r in rows if r["found"]]
    onset = [r["onset_error"] for r in rows if r["found"]]
    fa = {}
    for b in bgs:
        ns = [n for n in only if n["background"] == b]
        if ns:
            hours = sum(n["seconds"] for n in ns) / 3600
            count = sum(len(n["found"]) for n in ns)
            fa[b] = {"per_hour": round(count / hours, 3), "alerts": count, "hours": round(hours, 2)}
    held = [f["fold"] for f in fold_info if f["held_out"]]
    variants = {}
    for name, kw in VARIANTS.items():
        from dataclasses import replace

        from babycry_core.detection.episodes import find_episodes

        fv = {id(n): find_episodes(n["starts"], n["p"], replace(rules[n["fold"]], **kw), confirm=n.get("confirm"))
              for n in nights}
        vr = [r for n in cry_n for r in _matches(n["events"], fv[id(n)])]
        variants[name] = {"rule": kw, "event_f1_onset": event_f1([{**n, "found": fv[id(n)]} for n in cry_n])["f1"],
                          "median_delay_s": _q([r["delay"] for r in vr if r["found"]], 50),
                          "false_alerts_per_hour": _per_hour(only, fa, lambda n: fv[id(n)])}
    rep = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "model": model,
        "machine": {"cores": os.cpu_count(), "load_average": os.getloadavg()},
        "rule": {k: v for k, v in vars(rules[0]).items() if k != "threshold"} if rules else {},
        "folds": fold_info, "held_out_folds": held,
        "nights": {"cry_nights": len(cry_n), "cry_hours": round(sum(n["seconds"] for n in cry_n) / 3600, 2),
                   "cries": len(rows), "background_only_hours": round(sum(n["seconds"] for n in only) / 3600, 2)},
        "event_f1_onset": event_f1(cry_n), "event_f1_onset_offset": event_f1(cry_n, offsets=True),
        "event_f1_by_background": {b: event_f1([n for n in cry_n if n["background"] == b])
                                   for b in bgs if any(n["background"] == b for n in cry_n)},
        "psds": psds(nights, lambda n: rules[n["fold"]]),
        "false_alerts": fa,
        "false_alerts_per_hour_speech": _worst(fa, "speech"), "false_alerts_per_hour_noise": _worst(fa, "noise"),
        "false_alerts_per_hour_max": _worst(fa),
        "alert_delay_s": {"median": _q(delays, 50), "p90": _q(delays, 90), "n": len(delays)},
        "onset_error_s": {"median": _q(onset, 50), "p10": _q(onset, 10), "p90": _q(onset, 90)},
        "recall_by_length_s": _rate(rows, "length"), "recall_by_level_dbfs": _rate(rows, "level"),
        "recall_by_background": _rate(rows, "background"),
        "rule_variants": variants,
        "rule_left_out": rule_left_out(cry_n, rules, only, base) if cry_n else None,
        "found_any_overlap": round(float(np.mean([r["found"] for r in rows])), 3) if rows else None,
    }
    if any(n.get("confirm") for n in nights):  # what the verdict's confirmation changed
        wa = [r for n in cry_n for r in _matches(n["events"], n["windows_alone"])]
        rep["windows_alone"] = {
            "event_f1_onset": event_f1(cry_n, "windows_alone")["f1"],
            "median_delay_s": _q([r["delay"] for r in wa if r["found"]], 50),
            "false_alerts_per_hour": _per_hour(only, fa, lambda n: n["windows_alone"])}
    if held and len(held) < len(fold_info):
        hn = [n for n in cry_n if n["fold"] in held]
        rep["held_out_only"] = {"folds": held, "event_f1_onset": event_f1(hn),
                                "false_alerts_per_hour": {b: round(sum(len(n["found"]) for n in only if n["fold"] in held
                                                                       and n["background"] == b) /
                                                                   max(1e-9, sum(n["seconds"] for n in only if n["fold"] in held
                                                                                 and n["background"] == b) / 3600), 3)
                                                          for b in bgs if any(n["fold"] in held and n["background"] == b
                                                                                      for n in only)}}
    return rep


def _per_hour(only, fa, found_of) -> dict:
    """Episodes per hour of each background's nights without cries, as found_of(night) finds them (fa: the report's
    false alerts, for their hours)."""
    return {b: round(sum(len(found_of(n)) for n in only if n["background"] == b) / (fa[b]["hours"] or 1), 3)
            for b in fa}


def rule_left_out(cry_n, rules, only=(), base=None) -> dict:
    """EpisodeRule's onset_fraction and threshold lift (episodes.lifted) chosen together for each fold on the
    *other* folds' cry nights (best event F1), then scored on that fold: the honest estimate of the choice, with
    the false alerts per hour the chosen rules give on background-only nights. base: {fold: the detector's own
    threshold} (default: the rules'). `all_folds`: each choice's F1 over every fold (what to ship)."""
    from dataclasses import replace

    from babycry_core.detection.episodes import find_episodes, lifted

    base = base or {k: r.threshold for k, r in rules.items()}
    grid = [(f, lift) for f in ONSET_FRACTIONS for lift in LIFTS]  # ties: the first (no backtrack, no lift)

    def rule(n, c):
        return replace(rules[n["fold"]], onset_fraction=c[0], threshold=lifted(base[n["fold"]], c[1]))

    found = {c: [{**n, "found": find_episodes(n["starts"], n["p"], rule(n, c), confirm=n.get("confirm"))}
                 for n in cry_n] for c in grid}

    def f1(c, keep=lambda n: True):
        return event_f1([n for n in found[c] if keep(n)])["f1"]

    folds = sorted({n["fold"] for n in cry_n})
    choice = {k: max(grid, key=lambda c: f1(c, lambda n: n["fold"] != k)) if len(folds) > 1 else grid[0]
              for k in folds}
    scored = [m for c in grid for m in found[c] if choice[m["fold"]] == c]
    fa = {}
    for b in ordered({n["background"] for n in only}):
        ns = [n for n in only if n["background"] == b and n["fold"] in choice]
        count = sum(len(find_episodes(n["starts"], n["p"], rule(n, choice[n["fold"]]), confirm=n.get("confirm")))
                    for n in ns)
        fa[b] = round(count / max(1e-9, sum(n["seconds"] for n in ns) / 3600), 3)
    every = {c: round(f1(c), 4) for c in grid}
    best = max(grid, key=every.get)
    return {"choices": {str(k): {"onset_fraction": c[0], "lift": c[1]} for k, c in choice.items()},
            "event_f1_onset": event_f1(scored), "false_alerts_per_hour": fa,
            "all_folds": {"f1": {f"{f:g}/{lift:g}": v for (f, lift), v in every.items()},
                          "best": {"onset_fraction": best[0], "lift": best[1]}}}


def _worst(fa: dict, label: str | None = None):
    """The most false alerts per hour over the backgrounds of one label (speech: every speech kind), or over all."""
    xs = [v["per_hour"] for b, v in fa.items() if label is None or label_of(b) == label]
    return max(xs) if xs else None


def _q(xs, q):
    return round(float(np.percentile(xs, q)), 2) if len(xs) else None


def _met(rep) -> dict:
    """Each target, met or not; speed and memory by the better engine on the longest night (8 h)."""
    sp = rep.get("speed", {})
    nights = [v for k, v in sp.items() if k.startswith("8h") and "_threads" not in k] or \
             [v for k, v in sp.items() if k.startswith("1h") and "_threads" not in k]
    s8 = max(nights, key=lambda v: v["x_real_time"], default={})
    mem8 = min((v["peak_rss_mb"] for k, v in sp.items() if k.startswith("8h") and "_threads" not in k), default=None)
    fa = [v for v in (rep["false_alerts_per_hour_speech"], rep["false_alerts_per_hour_noise"]) if v is not None]
    return {"event_f1": rep["event_f1_onset"]["f1"] >= TARGETS["event_f1"],
            "false_alerts_per_hour": bool(fa) and max(fa) <= TARGETS["false_alerts_per_hour"],
            "median_delay_s": rep["alert_delay_s"]["median"] is not None
            and rep["alert_delay_s"]["median"] <= TARGETS["median_delay_s"],
            "x_real_time": bool(s8) and s8.get("x_real_time", 0) >= TARGETS["x_real_time"],
            "peak_mb_8h": mem8 is not None and mem8 <= TARGETS["peak_mb_8h"]}


# ---------------------------------------------------------------- speed, memory and the plotted night

def plot_first_night(f: Path, hours: float, events: list[dict], model: str = MODEL) -> None:
    """results/night.png: fold 0's own (held-out) `model` run on the shortest speed night."""
    from babycry_core.detection.episodes import EpisodeRule, find_episodes
    from babycry_core.detection.whole_recording import detect_file

    det, run_name, held_out, _ = fold_detector(0, model)
    rule = EpisodeRule.for_detector(det)
    rec = detect_file(f, det, rule, reasons=False)
    plot_night(rec.starts, rec.p, events, find_episodes(rec.starts, rec.p, rule), rule, paths.results_dir() / "night.png",
               f"A {hours:g}-hour synthetic night from fold 0's held-out recordings; detector {run_name}"
               + ("" if held_out else " (not held out)"))


# ---------------------------------------------------------------- CLI

def main(a) -> int:
    hours = tuple(float(h) for h in os.environ.get("BABYCRY_BENCH_HOURS", "1,8").split(",") if h.strip())
    models = getattr(a, "models", None) or [MODEL]
    if len(models) > 1:
        print(f"bench episodes: evaluates one model, {models[0]} (not {', '.join(models[1:])})", file=sys.stderr)
    rep = run(folds=a.folds, seed=a.seeds - 1, speed_hours=hours, out=Path(a.out) if a.out else None,
              model=models[0])
    print(format_report(rep))
    return 0

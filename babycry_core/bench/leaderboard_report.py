"""The leaderboard's figures and its markdown (leaderboard.py runs the sweep): pooled metrics over folds, the
honest attempts to beat the majority baseline (logit adjustment, ensembles, each chosen on validation), and
results/leaderboard.md.
"""
from __future__ import annotations

import numpy as np

METRICS = ("macro_f1", "balanced_accuracy", "accuracy")
TAU_GRID = np.round(np.arange(-1.0, 3.01, 0.25), 2)  # logit adjustment strengths tried on validation
N_BOOT = 1000  # bootstrap resamples per interval


# ---------------------------------------------------------------- pooling and what we tried

def concat(rs: list[dict], key: str) -> list:
    return sum((r[key] for r in rs), [])


def pooled_metrics(pred: list, true: list, classes: list[str]) -> dict:
    from babycry_core.eval.metrics import evaluate

    return {k: v for k, v in evaluate(pred, true, classes=classes, n_boot=N_BOOT).items() if k != "baseline"}


def summarize(results: list[dict], classes: list[str]) -> dict:
    """mean ± std over folds (and seeds), pooled metrics over the first seed's folds (every clip tested once)."""
    from babycry_core.training.cv import summarize as mean_std

    by_seed = {}
    for r in results:
        by_seed.setdefault(r["config"]["seed"], []).append(r)
    first = next(iter(by_seed.values()))
    out = {"status": "done", "folds": len(first), **mean_std([{k: r[k] for k in METRICS} for r in results]),
           "pooled": pooled_metrics(concat(first, "test_predictions"), concat(first, "test_labels"), classes),
           "train_seconds": sum(r["seconds"] for r in results), "fold_seconds": [round(r["seconds"], 1) for r in results],
           "epochs": results[0]["config"]["epochs"],
           "patience": results[0]["config"]["patience"], "epochs_run": [r["epochs_run"] for r in results],
           "n_params": results[0]["n_params"], "checkpoint_mb": results[0]["checkpoint_bytes"] / 2**20}
    if len(by_seed) > 1:
        out["pooled_macro_f1_by_seed"] = {s: pooled_metrics(concat(rs, "test_predictions"), concat(rs, "test_labels"),
                                                     classes)["macro_f1"] for s, rs in by_seed.items()}
    return out


def _proba(logits, temperature: float) -> np.ndarray:
    z = np.asarray(logits, np.float64) / max(temperature, 1e-3)
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _tau_predict(p_val, y_val, p_test, counts, grid=TAU_GRID) -> tuple[np.ndarray, float]:
    """Logit adjustment log p - tau log prior(train), tau chosen on the fold's validation part (ties: |tau| small)."""
    from babycry_core.eval.metrics import metric_fn

    k = p_val.shape[1]
    log_prior = np.log((np.asarray(counts, float) + 1) / (np.sum(counts) + k))
    f1 = metric_fn("macro_f1", k)
    scores = [(f1(y_val, (np.log(p_val + 1e-12) - t * log_prior).argmax(1)), -abs(t), t) for t in grid] \
        if len(y_val) > 0 and len(grid) > 1 else [(0.0, 0.0, grid[0])]
    tau = max(scores)[2]
    return (np.log(p_test + 1e-12) - tau * log_prior).argmax(1), float(tau)


def tried(results: dict[str, list[dict]], classes: list[str], baseline_f1: float) -> list[dict]:
    """Honest attempts to beat the baseline on the grouped folds; every choice made on each fold's validation part.
    Each entry names its reference (the model as trained, or the best single model) and that figure."""
    from sklearn.metrics import f1_score

    from babycry_core.eval.metrics import metric_fn

    def entry(name, how, pred, true, ref):
        m = pooled_metrics(pred, true, classes)
        return {"name": name, "how": how, "macro_f1": m["macro_f1"], "macro_f1_ci": m["macro_f1_ci"],
                "balanced_accuracy": m["balanced_accuracy"], "accuracy": m["accuracy"],
                "beats_baseline": bool(m["macro_f1_ci"][0] > baseline_f1), "reference": ref[0],
                "reference_macro_f1": ref[1]}

    out, by_fold, plain = [], {}, {}
    for spec, rs in results.items():
        rs = [r for r in rs if r["config"]["seed"] == rs[0]["config"]["seed"]]
        true, argmax = concat(rs, "test_labels"), concat(rs, "test_predictions")
        plain[spec] = float(f1_score(true, argmax, average="macro", zero_division=0))
        base = spec.partition(":")[0]
        if base != spec and base in plain:  # a TrainConfig variant: its own row, compared with its base here
            out.append(entry(spec, f"variant of {base}, same folds", argmax, true, (base, plain[base])))
        pred = []
        for r in rs:
            pv, pt = _proba(r["val_logits"], r["temperature"]), _proba(r["test_logits"], r["temperature"])
            pred += [classes[i] for i in _tau_predict(pv, np.asarray(r["val_y"]), pt, r["train_counts"])[0]]
            by_fold.setdefault(r["config"]["fold"], []).append((spec, r, pv, pt))
        out.append(entry(f"{spec} + logit adjustment", "log p - tau log prior(train), tau chosen on each fold's "
                         "validation macro-F1", pred, true, (spec, plain[spec])))
    if len({len(v) for v in by_fold.values()}) == 1 and len(next(iter(by_fold.values()), [])) > 1:
        f1, best = metric_fn("macro_f1", len(classes)), max(plain.items(), key=lambda kv: kv[1])
        for name, top in (("ensemble of all models", None), ("ensemble of the 3 best on validation", 3)):
            pred, pred_t, pred_1, true = [], [], [], []
            for fold, members in sorted(by_fold.items()):
                if any(m[1]["test_clip_ids"] != members[0][1]["test_clip_ids"] for m in members):
                    raise ValueError(f"fold {fold}: models were tested on different clips")
                if top:  # per fold: the members with the best validation macro-F1
                    members = sorted(members, key=lambda m: -f1(np.asarray(m[1]["val_y"]), m[2].argmax(1)))[:top]
                pv, pt = np.mean([m[2] for m in members], 0), np.mean([m[3] for m in members], 0)
                pred += [classes[i] for i in pt.argmax(1)]
                adj, _ = _tau_predict(pv, np.asarray(members[0][1]["val_y"]), pt, members[0][1]["train_counts"])
                pred_t += [classes[i] for i in adj]
                pred_1 += [classes[i] for i in _tau_predict(pv, [], pt, members[0][1]["train_counts"], [1.0])[0]]
                true += members[0][1]["test_labels"]
            out.append(entry(name, "mean of the temperature-calibrated probabilities", pred, true, best))
            out.append(entry(f"{name} + logit adjustment", "as above, tau chosen on each fold's validation part",
                             pred_t, true, best))
            out.append(entry(f"{name}, balanced decision", "as above with tau = 1 fixed in advance: argmax of "
                             "p / prior(train)", pred_1, true, best))
    return out


# ---------------------------------------------------------------- markdown

def _ci(m: dict, key: str) -> str:
    lo, hi = m[f"{key}_ci"]
    return f"{m[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def _num(n) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.0f} k" if n >= 1e3 else str(n)


def to_markdown(board: dict) -> str:
    r = board.get("run", {})
    lines = ["# Accuracy leaderboard", "",
             f"`{r.get('command', '')}`, {r.get('date', '?')}: {r.get('threads')} torch threads on {r.get('cpu_count')} "
             f"shared CPU cores. Wall time {sum(c['wall_seconds'] for c in r.get('invocations', [])) / 60:.0f} min over "
             f"{len(r.get('invocations', []))} invocation(s) (a resumed sweep reuses finished folds); the folds' own "
             f"training and scoring took {r.get('fold_seconds_total', 0) / 60:.0f} min. Per-model epoch budgets and "
             "the seconds of every fold are in leaderboard.json.", "",
             "Each model is trained with `training.fit.fit` on the same saved folds (early stopping and calibration on each "
             "fold's validation part) and tested on each fold's test part. **Grouped** folds keep a baby on one side. "
             "The **random-split (leaky)** column uses folds by file: a model can recognise the baby, so it is shown "
             "only to make that leak visible. *Pooled*: the test predictions of all folds together (each clip tested "
             "once), 95 % bootstrap interval. The majority baseline answers the most frequent class of each fold's "
             "training part. Params: torch weights; svm support-vector values + dual coefficients; xgboost tree nodes."]
    for corpus, sec in board.get("corpora", {}).items():
        if "models" not in sec:
            lines += ["", f"## {corpus}", "", sec.get("status", "")]
            continue
        b = sec["baseline"].get("grouped") or next(iter(sec["baseline"].values()))
        leak = sec["baseline"].get("random", {}).get("pooled", {}).get("macro_f1")
        lines += ["", f"## {corpus}: {sec['n_classes']} classes, {sec['n_clips']} clips, {sec['folds']} folds", "",
                  "| model | macro-F1 mean ± std | pooled macro-F1 [95 % CI] | pooled balanced accuracy [95 % CI] | "
                  "pooled accuracy | random-split macro-F1 (leaky) | epochs (ran) | training s | params | checkpoint MB |",
                  "|---|---|---|---|---|---|---|---|---|---|",
                  f"| majority baseline | {b['macro_f1']['mean']:.3f} ± {b['macro_f1']['std']:.3f} | "
                  f"{_ci(b['pooled'], 'macro_f1')} | {_ci(b['pooled'], 'balanced_accuracy')} | "
                  f"{b['pooled']['accuracy']:.3f} | {'–' if leak is None else f'{leak:.3f}'} | – | – | – | – |"]
        for spec, row in sec["models"].items():
            g, lk = row.get("grouped"), row.get("random")
            if not g:
                lines.append(f"| {spec} | {row['status']} | – | – | – | – | – | – | – | – |")
                continue
            ran = [e for e in g["epochs_run"] if e]
            ep = f"{g['epochs']} ({min(ran)}–{max(ran)})" if ran else "–"
            leaky = f"{lk['pooled']['macro_f1']:.3f} ({lk['macro_f1']['mean']:.3f} ± {lk['macro_f1']['std']:.3f})" \
                if lk else "–"
            lines.append(f"| {spec} | {g['macro_f1']['mean']:.3f} ± {g['macro_f1']['std']:.3f} | "
                         f"{_ci(g['pooled'], 'macro_f1')} | {_ci(g['pooled'], 'balanced_accuracy')} | "
                         f"{g['pooled']['accuracy']:.3f} | {leaky} | "
                         f"{ep} | {g['train_seconds']:.0f} | {_num(g['n_params'])} | {g['checkpoint_mb']:.2f} |")
        if sec.get("tried"):
            lines += ["", "### What we tried to beat the majority baseline", "",
                      "Grouped folds, pooled. Everything is fit on each fold's training part and chosen on its "
                      "validation part, never on test. *Beats the baseline* = the interval's lower end is above the "
                      f"baseline's pooled macro-F1 ({b['pooled']['macro_f1']:.3f}).", ""]
            top = max(sec["tried"], key=lambda t: t["macro_f1"])
            wins = [t["name"] for t in sec["tried"] if t["beats_baseline"]]
            lines += [f"Best: **{top['name']}**, macro-F1 {_ci(top, 'macro_f1')}. " + (
                f"Clear of the baseline: {', '.join(wins)}." if wins else "Nothing here is clear of the baseline: "
                "what helped (a few hundredths of macro-F1) stays inside the interval.") , ""]
            lines += [f"- **{t['name']}** ({t['how']}): macro-F1 {_ci(t, 'macro_f1')} "
                      f"({t['macro_f1'] - t['reference_macro_f1']:+.3f} vs {t['reference']} "
                      f"{t['reference_macro_f1']:.3f}), balanced accuracy {t['balanced_accuracy']:.3f}, accuracy "
                      f"{t['accuracy']:.3f}: {'beats the baseline' if t['beats_baseline'] else 'not clear of the baseline'}."
                      for t in sec["tried"]]
    return "\n".join(lines) + "\n"

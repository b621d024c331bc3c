"""`bench accuracy`: every requested registry model trained (fitting.fit, as cv.cross_validate) and tested on the
same saved folds, grouped by baby (honest) and by file (`random_folds`, leaky, shown beside it), next to the
majority baseline of each fold's training part. Writes results/leaderboard.json and .md. Per fold:
results/runs/leaderboard/<corpus>/<model>/<protocol>/seed-<s>/fold-<k>/{run/, result.json}; result.json (figures,
val/test logits) is written atomically last, so an interrupted sweep resumes without redoing finished folds.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from . import fileio, paths

PROTOCOLS = ("grouped", "random")
FAMILIES = ("torch", "classical", "yamnet")  # reason classifiers (a cry gate is not one)
METRICS = ("macro_f1", "balanced_accuracy", "accuracy")
# Epoch budgets for this 2-core CPU machine, from measured seconds per fold-epoch (~310 training clips; train and
# val scored every epoch; 2 threads; load ~2): cnn ~9, mobilenet_v3 ~3.5, resnet18 ~20, efficientnet_b0 ~15,
# resnet50 ~45 (+ ~10 s per fold to calibrate, test and score), 4-5x that at load ~6. The default sweep (5 CNNs +
# svm + xgboost, 5 folds x 2 protocols) took 45 min of wall time here on the shared machine (~25 min when quiet).
# The big networks get one epoch from scratch, which the table shows. Patience stops earlier when validation
# macro-F1 stalls; the JSON records the epochs actually run and the seconds of every fold.
BUDGETS = {"cnn": {"epochs": 8, "patience": 3}, "mobilenet_v3": {"epochs": 3, "patience": 2},
           "resnet18": {"epochs": 1, "patience": 1}, "efficientnet_b0": {"epochs": 1, "patience": 1},
           "resnet50": {"epochs": 1, "patience": 1}}
ORDER = ("yamnet", "svm", "xgboost", "cnn", "mobilenet_v3", "resnet18", "efficientnet_b0", "resnet50")  # cheap first
TAU_GRID = np.round(np.arange(-1.0, 3.01, 0.25), 2)  # logit adjustment strengths tried on validation
NOT_RUN_WEIGHTS = "not run: weights unavailable"
N_BOOT = 1000  # bootstrap resamples per interval


def default_models() -> list[str]:
    from .models import get_spec, model_names

    names = [n for n in model_names() if get_spec(n).family in FAMILIES]
    return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


def parse_model(spec: str) -> tuple[str, dict]:
    """'cnn' or 'cnn:balance=loss,mixup=0' → (registry name, TrainConfig overrides): a variant is its own row."""
    from .train import TrainConfig

    name, _, rest = spec.partition(":")
    d, over = TrainConfig(), {}
    for kv in filter(None, rest.split(",")):
        k, _, v = kv.partition("=")
        k = k.strip().replace("-", "_")
        if not hasattr(d, k) or k in ("model", "corpus", "split", "fold", "protocol", "seed", "features"):
            raise ValueError(f"{spec!r}: {k!r} is not a TrainConfig option a variant may set")
        t = type(getattr(d, k))
        over[k] = (v.lower() in ("1", "true", "yes")) if t is bool else v if getattr(d, k) is None else t(v)
    return name, over


def fold_config(base, spec: str, corpus: str, protocol: str, fold: int, seed: int, epochs: int | None = None,
                threads: int = 0):
    name, over = parse_model(spec)
    budget = dict(BUDGETS.get(name, {}))
    if epochs is not None:
        budget["epochs"] = epochs
    return dataclasses.replace(base, model=name, corpus=corpus, protocol=protocol, split="fold", fold=fold,
                               seed=seed, threads=threads or base.threads, **{**budget, **over})


def _plain(obj):
    return json.loads(json.dumps(obj, default=fileio._json_default))


def _same(saved: dict | None, cfg) -> bool:
    """A saved fold is reused only when it was trained with the same config (threads aside)."""
    if saved is None:
        return False
    now = _plain(dataclasses.asdict(cfg))
    then = _plain(dataclasses.asdict(type(cfg).from_dict(saved)))  # options added since then take their defaults
    return {**then, "threads": 0} == {**now, "threads": 0}


def _unavailable(e: BaseException) -> bool:
    """A model that cannot run here (YAMNet without its weights, ...): reported as "not run", never scored."""
    return any(c.__name__.endswith("Unavailable") for c in type(e).__mro__)


# ---------------------------------------------------------------- one fold

_PARTS_CACHE: dict = {}  # per process (the local process, or one Ray worker): a fold's log-mel arrays


def fold_job(job: dict) -> dict:
    """One models x folds job, runnable on any backend: train and score one fold, or say why it cannot run."""
    from .train import TrainConfig

    try:
        return run_fold(TrainConfig.from_dict(job["config"]), Path(job["fold_dir"]), _PARTS_CACHE)
    except Exception as e:
        if _unavailable(e):
            return {"not_run": NOT_RUN_WEIGHTS, "detail": str(e)[:300]}
        raise  # the backend retries once, then reports it as failed

def run_fold(cfg, fold_dir: Path, parts_cache: dict) -> dict:
    """fit() cfg on its fold, read back its figures and val/test logits; write fold_dir/result.json last."""
    from .checkpoint import load
    from .fitting import fit
    from .models import get_spec
    from .train import load_split_features, predict_logits

    family = get_spec(cfg.model).family
    run_dir = Path(fold_dir) / "run"
    shutil.rmtree(run_dir, ignore_errors=True)  # a half-finished attempt starts again from scratch
    parts = None
    if family == "torch":  # the log-mel arrays of a fold, loaded once for every CNN
        key = (cfg.corpus, cfg.protocol, cfg.fold, json.dumps(cfg.features, sort_keys=True))
        if key not in parts_cache:
            parts_cache[key] = load_split_features(cfg, progress=False)
        parts = parts_cache[key]
    t0 = time.time()
    fit(cfg, run_dir, progress=False, data_parts=parts)
    seconds = time.time() - t0
    status = fileio.read_json(run_dir / "status.json")
    if status.get("status") == "stopped":  # SIGTERM: stop the sweep (finished folds are kept), not just this model
        raise SystemExit("stopped by request; run the same command again to resume")
    if status.get("status") != "finished":
        raise RuntimeError(f"fit ended {status.get('status')}: {status.get('message', '')}")
    metrics, config = fileio.read_json(run_dir / "metrics.json"), fileio.read_json(run_dir / "config.json")
    loaded = load(run_dir)
    if family == "torch":
        labels, p = parts
        logits = {k: predict_logits(loaded.model, p[k][0]) for k in ("val", "test")}
    else:
        from .embeddings import split_clips

        labels, p = split_clips(cfg, labels=loaded.labels)
        logits = {k: loaded.model.clip_logits(p[k][0]) for k in ("val", "test")}
    ids = p["test"][2]["clip_id"].tolist()
    assert ids == metrics["test_clip_ids"], "test clips differ between fit and the leaderboard"
    events = [json.loads(x) for x in (run_dir / "history.jsonl").read_text().splitlines() if x.strip().endswith("}")]
    n_epochs = sum(e.get("event") == "epoch" for e in events) or None
    files = set(config.get("files") or {}) | ({"model.safetensors"} if (run_dir / "model.safetensors").exists() else set())
    result = {"status": "done", "config": _plain(dataclasses.asdict(cfg)), "family": family, "labels": list(labels),
              **{k: metrics[k] for k in METRICS}, "seconds": seconds, "epochs_run": n_epochs,
              "best_epoch": status.get("best_epoch"), "n_params": _n_params(config, loaded.model),
              "checkpoint_bytes": sum((run_dir / f).stat().st_size for f in files),
              "train_counts": np.bincount(p["train"][1], minlength=len(labels)).tolist(),
              "temperature": float(loaded.calibration.get("temperature", 1.0)),
              "val_y": p["val"][1].tolist(), "val_logits": np.round(logits["val"], 5).tolist(),
              "test_clip_ids": ids, "test_labels": metrics["test_labels"],
              "test_predictions": metrics["test_predictions"], "test_logits": np.round(logits["test"], 5).tolist()}
    fileio.write_json(Path(fold_dir) / "result.json", result)
    return result


def _n_params(config: dict, model) -> int | None:
    """Trainable numbers: torch weights; svm support-vector values + dual coefficients; xgboost tree nodes."""
    try:
        if config.get("n_params"):
            return int(config["n_params"])
        if hasattr(model, "booster"):
            return sum(len(t.strip().splitlines()) for t in model.booster.get_dump())
        if hasattr(model, "pipeline"):
            cals = model.pipeline.named_steps["clf"].calibrated_classifiers_
            return int(sum(c.estimator.support_vectors_.size + c.estimator.dual_coef_.size for c in cals))
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:  # noqa: BLE001 (an unknown model kind: the column says "?")
        return None


def fold_baseline(corpus: str, protocol: str, fold: int, classes: list[str]) -> dict:
    """Majority class of the fold's training part (train + val), scored on the fold's test part."""
    from . import data
    from .evaluate import majority_baseline

    train, val, test = data.split_frames(corpus, "fold", fold, protocol)
    train, val, test = (part[part["label"].isin(classes)] for part in (train, val, test))
    b = majority_baseline(test["label"].tolist(), classes, train_labels=train["label"].tolist() + val["label"].tolist())
    return {**b, "fold": fold, "n_test": len(test), "test_labels": test["label"].tolist()}


# ---------------------------------------------------------------- pooling and what we tried

def _cat(rs: list[dict], key: str) -> list:
    return sum((r[key] for r in rs), [])


def _pooled(pred: list, true: list, classes: list[str]) -> dict:
    from .evaluate import evaluate

    return {k: v for k, v in evaluate(pred, true, classes=classes, n_boot=N_BOOT).items() if k != "baseline"}


def summarize(results: list[dict], classes: list[str]) -> dict:
    """mean ± std over folds (and seeds), pooled metrics over the first seed's folds (every clip tested once)."""
    from .cv import summarize as mean_std

    by_seed = {}
    for r in results:
        by_seed.setdefault(r["config"]["seed"], []).append(r)
    first = next(iter(by_seed.values()))
    out = {"status": "done", "folds": len(first), **mean_std([{k: r[k] for k in METRICS} for r in results]),
           "pooled": _pooled(_cat(first, "test_predictions"), _cat(first, "test_labels"), classes),
           "train_seconds": sum(r["seconds"] for r in results), "fold_seconds": [round(r["seconds"], 1) for r in results],
           "epochs": results[0]["config"]["epochs"],
           "patience": results[0]["config"]["patience"], "epochs_run": [r["epochs_run"] for r in results],
           "n_params": results[0]["n_params"], "checkpoint_mb": results[0]["checkpoint_bytes"] / 2**20}
    if len(by_seed) > 1:
        out["pooled_macro_f1_by_seed"] = {s: _pooled(_cat(rs, "test_predictions"), _cat(rs, "test_labels"),
                                                     classes)["macro_f1"] for s, rs in by_seed.items()}
    return out


def _proba(logits, temperature: float) -> np.ndarray:
    z = np.asarray(logits, np.float64) / max(temperature, 1e-3)
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _tau_predict(p_val, y_val, p_test, counts, grid=TAU_GRID) -> tuple[np.ndarray, float]:
    """Logit adjustment log p - tau log prior(train), tau chosen on the fold's validation part (ties: |tau| small)."""
    from .evaluate import _fast

    k = p_val.shape[1]
    log_prior = np.log((np.asarray(counts, float) + 1) / (np.sum(counts) + k))
    f1 = _fast("macro_f1", k)
    scores = [(f1(y_val, (np.log(p_val + 1e-12) - t * log_prior).argmax(1)), -abs(t), t) for t in grid] \
        if len(y_val) > 0 and len(grid) > 1 else [(0.0, 0.0, grid[0])]
    tau = max(scores)[2]
    return (np.log(p_test + 1e-12) - tau * log_prior).argmax(1), float(tau)


def tried(results: dict[str, list[dict]], classes: list[str], baseline_f1: float) -> list[dict]:
    """Honest attempts to beat the baseline on the grouped folds; every choice made on each fold's validation part.
    Each entry names its reference (the model as trained, or the best single model) and that figure."""
    from sklearn.metrics import f1_score

    from .evaluate import _fast

    def entry(name, how, pred, true, ref):
        m = _pooled(pred, true, classes)
        return {"name": name, "how": how, "macro_f1": m["macro_f1"], "macro_f1_ci": m["macro_f1_ci"],
                "balanced_accuracy": m["balanced_accuracy"], "accuracy": m["accuracy"],
                "beats_baseline": bool(m["macro_f1_ci"][0] > baseline_f1), "reference": ref[0],
                "reference_macro_f1": ref[1]}

    out, by_fold, plain = [], {}, {}
    for spec, rs in results.items():
        rs = [r for r in rs if r["config"]["seed"] == rs[0]["config"]["seed"]]
        true, argmax = _cat(rs, "test_labels"), _cat(rs, "test_predictions")
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
        f1, best = _fast("macro_f1", len(classes)), max(plain.items(), key=lambda kv: kv[1])
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


# ---------------------------------------------------------------- the sweep

def _section(corpus, classes, k, saved, n_clips, models, protocols, results, not_run, row_budget) -> dict:
    sec = {"classes": classes, "n_classes": len(classes), "n_clips": n_clips, "folds": k, "saved_folds": saved,
           "baseline": {}, "models": {}}
    for protocol in protocols:
        fb = [fold_baseline(corpus, protocol, f, classes) for f in range(k)]
        pooled = _pooled(sum(([b["label"]] * b["n_test"] for b in fb), []), _cat(fb, "test_labels"), classes)
        f1 = [b["macro_f1"] for b in fb]
        sec["baseline"][protocol] = {"per_fold": [{x: b[x] for x in ("fold", "label", "n_test", *METRICS)} for b in fb],
                                     "macro_f1": {"mean": float(np.mean(f1)), "std": float(np.std(f1))},
                                     "pooled": pooled}
    for spec in models:
        row = {"budget": row_budget(spec), **not_run.get((corpus, spec), {})}
        row.update({p: summarize(results[(corpus, spec, p)], classes) for p in protocols if (corpus, spec, p) in results})
        row.setdefault("status", "done" if all(p in row for p in protocols) else "not run: incomplete")
        sec["models"][spec] = row
    done = {s: results[(corpus, s, "grouped")] for s in models if sec["models"][s]["status"] == "done"}
    if "grouped" in protocols and done:
        sec["tried"] = tried(done, classes, sec["baseline"]["grouped"]["pooled"]["macro_f1"])
    return sec


def run(corpora: list[str], models: list[str], protocols=PROTOCOLS, folds: int = 5, seeds: int = 1, base=None,
        epochs: int | None = None, threads: int = 2, resume: bool = True, out: Path | None = None,
        progress: bool = True, backend: str = "local", address: str | None = None) -> dict:
    """Train/test every model x protocol x seed x fold (resuming finished folds); write the JSON and markdown."""
    import torch
    from tqdm import tqdm

    from . import data
    from .backends import run_jobs
    from .train import TrainConfig

    started, base = time.time(), base or TrainConfig()
    out = Path(out) if out else paths.results_dir() / "leaderboard.json"
    board = fileio.read_json(out, default={"corpora": {}})  # other corpora's sections are kept
    root = paths.results_dir() / "runs" / "leaderboard"
    plans = {}
    for corpus in corpora:
        try:
            splits = data.load_splits(corpus)  # the classes the models learn: all but the gate-only cry_unknown
            classes = data.model_classes(corpus)
        except FileNotFoundError as e:
            board["corpora"][corpus] = {"status": f"not run: no data ({e}); build it with "
                                                  f"`python -m babycry_core data build --corpus {corpus}`"}
            continue
        plans[corpus] = (classes, min(folds, len(splits["folds"])), len(splits["folds"]), splits.get("n_clips"))
    jobs = [(c, m, p, s, f) for c in plans for m in models for p in protocols for s in range(seeds)
            for f in range(plans[c][1])]
    results, not_run, pending = {}, {}, []
    for corpus, spec, protocol, seed, fold in jobs:
        cfg = fold_config(base, spec, corpus, protocol, fold, seed, epochs, threads)
        name = spec.replace(":", "_").replace("=", "-").replace(",", "_")
        fold_dir = root / corpus / name / protocol / f"seed-{seed}" / f"fold-{fold}"
        done = fileio.read_json(fold_dir / "result.json", default={}) if resume else {}
        if _same(done.get("config"), cfg):
            results.setdefault((corpus, spec, protocol), []).append(done)
        else:
            pending.append({"key": [corpus, spec, protocol, seed, fold], "config": _plain(dataclasses.asdict(cfg)),
                            "fold_dir": str(fold_dir)})
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(pending), desc="leaderboard", unit="fold",
               disable=not progress, dynamic_ncols=True)
    state = {"failed": 0, "trained": 0}

    def collect(job, res):
        corpus, spec, protocol, _, fold = job["key"]
        bar.update(1)
        if "error" in res or "not_run" in res:  # failed twice, or cannot run here (weights unavailable)
            why = res.get("not_run") or f"not run: failed ({res['error'][:200]})"
            state["failed"] += "error" in res
            not_run[(corpus, spec)] = {"status": why, "detail": res.get("detail", res.get("error", ""))[:300]}
            bar.write(f"{corpus} {spec}: {why}")
            return
        results.setdefault((corpus, spec, protocol), []).append(res)
        state["trained"] += 1
        bar.write(f"{corpus} {spec} {protocol} fold {fold}: macro-F1 {res['macro_f1']:.3f} "
                  f"({res['seconds']:.0f} s, {res['epochs_run'] or '-'} epochs)")

    run_jobs(fold_job, pending, backend=backend, address=address, on_result=collect)
    bar.close()
    for rs in results.values():  # completion order differs between backends; folds are reported in order
        rs.sort(key=lambda r: (r["config"]["seed"], r["config"]["fold"]))
    failed, trained = state["failed"], state["trained"]

    def row_budget(spec):  # what each row was trained with (classical heads have no epochs)
        from .models import get_spec

        cfg = fold_config(base, spec, "-", "grouped", 0, 0, epochs, threads)
        keys = ("embedding",) if get_spec(cfg.model).family == "classical" else \
            ("epochs", "patience", "batch_size", "balance", "mixup", "specaugment", "threads")
        return {x: getattr(cfg, x) for x in keys}

    for corpus, plan in plans.items():
        board["corpora"][corpus] = _section(corpus, *plan, models, protocols, results, not_run, row_budget)
    prev = board.get("run", {})  # earlier invocations that built these folds (a resumed sweep adds up)
    calls = prev.get("invocations") or ([{k: prev[k] for k in ("date", "wall_seconds")}] if "wall_seconds" in prev else [])
    calls = (calls + [{"date": time.strftime("%Y-%m-%d %H:%M"), "wall_seconds": time.time() - started,
                       "folds_trained": trained, "folds_reused": len(jobs) - trained}])[-20:]
    board["run"] = {"command": "python -m babycry_core bench accuracy", "date": time.strftime("%Y-%m-%d %H:%M"),
                    "wall_seconds": time.time() - started, "invocations": calls,
                    "fold_seconds_total": sum(r["seconds"] for rs in results.values() for r in rs),
                    "threads": threads, "cpu_count": os.cpu_count(), "load_average_end": list(os.getloadavg()),
                    "torch": torch.__version__, "corpora": corpora, "models": models, "protocols": list(protocols),
                    "folds": folds, "seeds": seeds, "epochs_override": epochs, "failed_models": failed}
    fileio.write_json(out, board)
    fileio.atomic_write(out.with_suffix(".md"), lambda f: f.write(to_markdown(board)), mode="w")
    return board


def run_accuracy(args) -> int:
    """`python -m babycry_core bench accuracy`: 0 when every model ran or is honestly "not run", 1 if one failed."""
    from .models import UnknownModelError, get_spec

    models = args.models or default_models()
    try:
        for spec in models:
            get_spec(parse_model(spec)[0])
    except (ValueError, UnknownModelError) as e:
        print(f"error: {e}")
        return 2
    out = Path(args.out) if args.out else paths.results_dir() / "leaderboard.json"
    board = run(args.corpus if isinstance(args.corpus, list) else [args.corpus], models,
                tuple(getattr(args, "protocols", None) or PROTOCOLS), args.folds, args.seeds, epochs=args.epochs,
                threads=getattr(args, "threads", 2), resume=getattr(args, "resume", True), out=out,
                backend=getattr(args, "backend", "local"), address=getattr(args, "address", None))
    print(out.with_suffix(".md").read_text())
    return 1 if board["run"]["failed_models"] else 0


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
             "Each model is trained with `fitting.fit` on the same saved folds (early stopping and calibration on each "
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

"""`bench accuracy`: every requested registry model trained (training.fit.fit, as training.cv.cross_validate) and tested on the
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

from babycry_core import fileio, paths
from babycry_core.bench.leaderboard_report import METRICS, concat, pooled_metrics, summarize, to_markdown, tried
from babycry_core.runs.run_folder import RunFolder

PROTOCOLS = ("grouped", "random")
FAMILIES = ("torch", "classical", "yamnet")  # reason classifiers (a cry gate is not one)
# Epoch budgets for this 2-core CPU machine, from measured seconds per fold-epoch (~310 training clips; train and
# val scored every epoch; 2 threads; load ~2): cnn ~9, mobilenet_v3 ~3.5, resnet18 ~20, efficientnet_b0 ~15,
# resnet50 ~45 (+ ~10 s per fold to calibrate, test and score), 4-5x that at load ~6. The default sweep (5 CNNs +
# svm + xgboost, 5 folds x 2 protocols) took 45 min of wall time here on the shared machine (~25 min when quiet).
# The big networks get one epoch from scratch, which the table shows. Patience stops earlier when validation
# macro-F1 stalls; the JSON records the epochs actually run and the seconds of every fold.
BUDGETS = {"cnn": {"epochs": 8, "patience": 3}, "mobilenet_v3": {"epochs": 3, "patience": 2},
           "yamnet_ft": {"epochs": 3, "patience": 2},
           "resnet18": {"epochs": 1, "patience": 1}, "efficientnet_b0": {"epochs": 1, "patience": 1},
           "resnet50": {"epochs": 1, "patience": 1}}
ORDER = ("yamnet", "svm", "xgboost", "cnn", "mobilenet_v3", "yamnet_ft", "resnet18", "efficientnet_b0",
         "resnet50")  # cheap first
NOT_RUN_WEIGHTS = "not run: weights unavailable"


def default_models() -> list[str]:
    from babycry_core.models import get_spec, model_names

    names = [n for n in model_names() if get_spec(n).family in FAMILIES]
    return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


def parse_model(spec: str) -> tuple[str, dict]:
    """'cnn' or 'cnn:balance=loss,mixup=0' → (registry name, TrainConfig overrides): a variant is its own row."""
    from babycry_core.training.loop import TrainConfig

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
    from babycry_core.training.fit import with_model_defaults

    # the model's own features and weights (yamnet_ft) before anything compares configs (a resumed sweep reuses folds)
    return with_model_defaults(dataclasses.replace(base, model=name, corpus=corpus, protocol=protocol, split="fold",
                                                   fold=fold, seed=seed, threads=threads or base.threads,
                                                   **{**budget, **over}))


def _plain(obj):
    return json.loads(json.dumps(obj, default=fileio.json_default))


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
    from babycry_core.training.loop import TrainConfig

    try:
        return run_fold(TrainConfig.from_dict(job["config"]), Path(job["fold_dir"]), _PARTS_CACHE)
    except Exception as e:
        if _unavailable(e):
            return {"not_run": NOT_RUN_WEIGHTS, "detail": str(e)[:300]}
        raise  # the backend retries once, then reports it as failed

def run_fold(cfg, fold_dir: Path, parts_cache: dict) -> dict:
    """fit() cfg on its fold, read back its figures and val/test logits; write fold_dir/result.json last."""
    from babycry_core.runs.checkpoint import load
    from babycry_core.training.fit import fit
    from babycry_core.models import get_spec
    from babycry_core.runs.family import family
    from babycry_core.training.loop import load_split_features, predict_logits

    spec_family = get_spec(cfg.model).family  # cfg comes from fold_config, with the model's own defaults already
    on_parts = family(spec_family).takes_log_mel_parts
    run_dir = Path(fold_dir) / "run"
    shutil.rmtree(run_dir, ignore_errors=True)  # a half-finished attempt starts again from scratch
    parts = None
    if on_parts:  # the log-mel arrays of a fold, loaded once for every CNN
        key = (cfg.corpus, cfg.protocol, cfg.fold, json.dumps(cfg.features, sort_keys=True))
        if key not in parts_cache:
            parts_cache[key] = load_split_features(cfg, progress=False)
        parts = parts_cache[key]
    t0 = time.time()
    fit(cfg, run_dir, progress=False, data_parts=parts)
    seconds = time.time() - t0
    folder = RunFolder(run_dir)
    status = folder.read(RunFolder.STATUS)
    if status.get("status") == "stopped":  # SIGTERM: stop the sweep (finished folds are kept), not just this model
        raise SystemExit("stopped by request; run the same command again to resume")
    if status.get("status") != "finished":
        raise RuntimeError(f"fit ended {status.get('status')}: {status.get('message', '')}")
    metrics, config = folder.read(RunFolder.METRICS), folder.config
    loaded = load(folder)
    if on_parts:
        labels, p = parts
        logits = {k: predict_logits(loaded.model, p[k][0]) for k in ("val", "test")}
    else:
        from babycry_core.data.manifest import split_clips

        labels, p = split_clips(cfg, labels=loaded.labels)
        logits = {k: loaded.model.clip_logits(p[k][0]) for k in ("val", "test")}
    ids = p["test"][2]["clip_id"].tolist()
    assert ids == metrics["test_clip_ids"], "test clips differ between fit and the leaderboard"
    n_epochs = sum(e.get("event") == "epoch" for e in folder.events()) or None
    files = set(config.get("files") or {}) | ({RunFolder.WEIGHTS} if folder.has(RunFolder.WEIGHTS) else set())
    result = {"status": "done", "config": _plain(dataclasses.asdict(cfg)), "family": spec_family, "labels": list(labels),
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
    from babycry_core.data import manifest as data
    from babycry_core.eval.metrics import majority_baseline

    train, val, test = data.split_frames(corpus, "fold", fold, protocol)
    train, val, test = (part[part["label"].isin(classes)] for part in (train, val, test))
    b = majority_baseline(test["label"].tolist(), classes, train_labels=train["label"].tolist() + val["label"].tolist())
    return {**b, "fold": fold, "n_test": len(test), "test_labels": test["label"].tolist()}


# ---------------------------------------------------------------- the sweep

def _section(corpus, classes, k, saved, n_clips, models, protocols, results, not_run, row_budget) -> dict:
    sec = {"classes": classes, "n_classes": len(classes), "n_clips": n_clips, "folds": k, "saved_folds": saved,
           "baseline": {}, "models": {}}
    for protocol in protocols:
        fb = [fold_baseline(corpus, protocol, f, classes) for f in range(k)]
        pooled = pooled_metrics(sum(([b["label"]] * b["n_test"] for b in fb), []), concat(fb, "test_labels"), classes)
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


def _merge(old: dict | None, new: dict) -> dict:
    """A sweep of some models updates their rows: the other models' rows (and the attempts over them) are kept
    when they were scored on the same saved folds."""
    if not old or old.get("saved_folds") != new["saved_folds"]:
        return new
    models = {**{m: r for m, r in old["models"].items() if m not in new["models"]}, **new["models"]}
    tried_ = {t["name"]: t for t in old.get("tried", [])} | {t["name"]: t for t in new.get("tried", [])}
    return {**new, "models": models, **({"tried": list(tried_.values())} if tried_ else {})}


def run(corpora: list[str], models: list[str], protocols=PROTOCOLS, folds: int = 5, seeds: int = 1, base=None,
        epochs: int | None = None, threads: int = 2, resume: bool = True, out: Path | None = None,
        progress: bool = True, backend: str = "local", address: str | None = None) -> dict:
    """Train/test every model x protocol x seed x fold (resuming finished folds); write the JSON and markdown."""
    import torch
    from tqdm import tqdm

    from babycry_core.data import manifest as data
    from babycry_core.training.backends import run_jobs
    from babycry_core.training.loop import TrainConfig

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
        from babycry_core.models import get_spec
        from babycry_core.runs.family import family

        cfg = fold_config(base, spec, "-", "grouped", 0, 0, epochs, threads)
        return {x: getattr(cfg, x) for x in family(get_spec(cfg.model).family).budget}

    for corpus, plan in plans.items():
        sec = _section(corpus, *plan, models, protocols, results, not_run, row_budget)
        board["corpora"][corpus] = _merge(board["corpora"].get(corpus), sec)
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
    from babycry_core.models import UnknownModelError, get_spec

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

"""`python -m babycry_core ...`: argparse subcommands that call the application layer (babycry_core.app) and
nothing else.

Exit status: 0 success, 1 when any input failed, 2 for usage errors (argparse's own convention).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from babycry_core.cli import deploy
from babycry_core.cli.report import report as _report


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from babycry_core.app.train import TrainConfig

    d = TrainConfig()
    p.add_argument("--model", default=d.model, help="registry name (see `models`)")
    p.add_argument("--corpus", default=d.corpus, help="corpus name: donateacry or combined")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 penalty (AdamW)")
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--balance", choices=["sampler", "sqrt", "loss", "none"], default=d.balance,
                   help="class balance: balanced sampling, softer 1/sqrt(count) sampling, weighted loss, or none")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=d.specaugment,
                   help="SpecAugment time/frequency masks")
    p.add_argument("--mixup", type=float, default=d.mixup, help="mixup Beta alpha; 0 switches it off")
    p.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience (epochs)")
    p.add_argument("--pretrained", action="store_true", help="start from torchvision ImageNet weights")
    p.add_argument("--fold", type=int, default=None, help="train on grouped fold K instead of the fixed split")
    p.add_argument("--protocol", choices=["grouped", "random"], default="grouped",
                   help="grouped (by baby, honest) or random (leaky, for comparison only)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--embedding", default=d.embedding,
                   help="svm/xgboost input: handcrafted, yamnet, or a trained CNN run id/folder (its penultimate layer)")
    p.add_argument("--yamnet-handle", default=None,
                   help="YAMNet: TF Hub URL, local SavedModel folder or TF Hub cache (env BABYCRY_YAMNET_HANDLE)")


def _train_config(a):
    """The TrainConfig the `train` flags describe (the one place flags become a config)."""
    from babycry_core.app.train import TrainConfig

    return TrainConfig(model=a.model, corpus=a.corpus, epochs=a.epochs, lr=a.lr, batch_size=a.batch_size,
                       weight_decay=a.weight_decay, dropout=a.dropout, seed=a.seed, balance=a.balance,
                       specaugment=a.augment, mixup=a.mixup, patience=a.patience, pretrained=a.pretrained,
                       split="fold" if a.fold is not None else "fixed", fold=a.fold, protocol=a.protocol,
                       threads=a.threads, embedding=a.embedding, yamnet_handle=a.yamnet_handle)


def cmd_data(a) -> int:
    from babycry_core.app import catalog

    if a.action == "link":
        print(json.dumps(catalog.link_corpus(a.extras), indent=2, default=str))
        return 0
    if a.action == "cache":
        res = catalog.cache_features(a.corpus, a.backend, a.address)
        print(json.dumps(res, indent=2))
        return int(bool(res["job_errors"]))
    print(catalog.prepare_corpus(a.corpus, a.source, a.seed, a.folds))
    return 0


def cmd_train(a) -> int:
    from babycry_core.app import train as T
    from babycry_core.app.finish import metrics_text

    cfg = _train_config(a)
    try:
        if a.cv:
            print(json.dumps(T.cross_validate(cfg), indent=2))
            return 0
        run_dir = T.train(cfg, a.run_dir)
    except T.YamnetUnavailable as e:  # no YAMNet weights: one sentence with the fix, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(metrics_text(run_dir))
    return 0


def cmd_evaluate(a) -> int:
    from babycry_core.app import finish

    if a.cv:
        print(json.dumps(finish.cross_validate_run(a.run), indent=2))
        return 0
    print(finish.metrics_text(finish.evaluate(a.run)))
    return 0


def cmd_predict(a) -> int:
    from babycry_core.app.answer import classify

    try:  # engine auto: the runs' own exports when they match the runs' files (no torch to import), else torch
        results = classify(a.files, a.run, a.engine, trust_pickle=a.trust_pickle)
    except FileNotFoundError as e:  # no such run / no checkpoint at all
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as e:  # damaged checkpoint, YAMNet weights unavailable
        print(f"error: {e}", file=sys.stderr)
        return 1

    def show(r) -> None:
        probs = "  ".join(f"{c} {p:.2f}" for c, p in r.top(len(r.probabilities)))
        print(f"{r.file}: {r.label} {r.confidence:.2f}  [{r.status}] {r.message}\n    {probs}")
        for w in r.timeline:
            top = max(w["probabilities"], key=w["probabilities"].get)
            print(f"    {w['start']:6.1f}-{w['end']:6.1f} s  {top} {w['probabilities'][top]:.2f}")

    return _report(results, a.json, show)


def cmd_runs(a) -> int:
    from babycry_core.app import catalog

    for r in catalog.runs():
        f1 = f"{r.macro_f1:.3f}" if r.macro_f1 is not None else "  -  "
        print(f"{r.run_id:<40} {r.status:<12} {r.model:<16} macro-F1 {f1}  {r.message}")
    return 0


def cmd_models(a) -> int:
    from babycry_core.app import catalog

    for m in catalog.registry():
        print(f"{m['name']:<16} {m['family']:<10} {m['description']}")
    return 0


def cmd_card(a) -> int:
    from babycry_core.app import finish

    try:
        run_dir = finish.find_run(a.run)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(finish.card(run_dir))
    return 0


def cmd_fuse(a) -> int:
    from babycry_core.app import finish

    print(finish.fuse(a.run, a.mode, progress=not a.quiet))
    return 0


def cmd_verdict(a) -> int:
    from babycry_core.app import finish

    out = finish.verdict(a.run, progress=not a.quiet)
    if not a.no_monitor:
        _print_monitor(out, a.quiet)
    print(out)
    return 0


def _print_monitor(run, quiet: bool) -> None:
    from babycry_core.app import finish

    m = finish.monitor(run, progress=not quiet)  # also rewrites the card: it shows the rule and its nights
    v = m["validation"][m["kept"]]
    print(f"monitor rule: confirm at P(cry) >= {m['confirm_threshold']} over {m['confirm_seconds']:g} s "
          f"(validation nights: event F1 {v['event_f1']}, median delay {v['median_delay_s']} s, worst false alerts "
          f"{v['worst_false_alerts_per_hour']}/h)", file=sys.stderr)


def cmd_monitor(a) -> int:
    _print_monitor(a.run, a.quiet)
    return 0


def cmd_reasons(a) -> int:
    from babycry_core.app import finish

    out, file = finish.reasons(a.run)
    for r, d in out["reasons"].items():
        thr = "never named" if d["threshold"] is None else f"named from P >= {d['threshold']:.2f} " \
              f"(held-out precision {d['precision']:.2f}, {d['named']} clips)"
        print(f"{r:<12} prior {d['prior']:.3f}  {thr}")
    h = out["held_out"]
    print(f"held out: top reason right {h['accuracy']:.3f} of {h['n']} clips; always {h['baseline']!r}: "
          f"{h['baseline_accuracy']:.3f}. Written to {file}.")
    return 0


def cmd_bench(a) -> int:
    from babycry_core.app.bench import bench

    return bench(a)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m babycry_core", description="babycry: honest baby-cry classification")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("data", help="link the corpus and build data/<corpus>/ (manifest, splits, folds)")
    s.add_argument("action", nargs="?", choices=["build", "link", "cache"], default="build",
                   help="build: manifest + splits; link: link/clone the corpus only; cache: precompute features")
    s.add_argument("--corpus", default="donateacry")
    s.add_argument("--extras", action="store_true",
                   help="link: also clone FSDD (adult speech) and giulbia (laugh / noise / silence) where "
                        "../shared/data lacks them: the cry detector's training needs both")
    s.add_argument("--source", default=None, help="folder-per-class corpus (default: data/corpus/<corpus>, linked from ../shared/data or cloned)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--folds", type=int, default=5)
    s.add_argument("--backend", choices=["local", "ray"], default="local", help="where `cache` jobs run")
    s.add_argument("--address", default=None, help="an existing Ray cluster (default: start a local one)")
    s.set_defaults(func=cmd_data)

    s = sub.add_parser("train", help="train a registry model; writes checkpoints/<run_id>/")
    _add_train_args(s)
    s.add_argument("--cv", action="store_true", help="train and test on every grouped fold; report mean ± std")
    s.add_argument("--run-dir", default=None, help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="evaluate a run on its test split; writes metrics.json")
    s.add_argument("run", help="run id or folder")
    s.add_argument("--cv", action="store_true", help="retrain the run's config on every grouped fold")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("predict", help="classify audio files")
    s.add_argument("files", nargs="+")
    s.add_argument("--run", default=None, help="run id or folder (default: the app's default checkpoint)")
    s.add_argument("--json", action="store_true", help="one JSON array, one object per file")
    s.add_argument("--trust-pickle", action="store_true",
                   help="also load an old run's pickle file (svm.joblib; it can run code), with a warning; "
                        "env BABYCRY_TRUST_PICKLE=1 does the same for the app")
    s.add_argument("--engine", choices=["auto", "torch", "onnx"], default="auto",
                   help="auto (default): onnxruntime where every run it needs has an export made from its current "
                        "files (the shipped defaults do), else torch; onnx: onnxruntime on the runs' exports "
                        "(`export`), without torch; torch: the run folders themselves")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("card", help="write (or overwrite) a run's MODEL_CARD.md; prints its path")
    s.add_argument("run", help="run id or folder")
    s.set_defaults(func=cmd_card)

    s = sub.add_parser("fuse", help="give a cry detector run YAMNet's ear (a head on frozen YAMNet, fused with the "
                                    "CNN on validation); writes a new run")
    s.add_argument("run", help="run id or folder of a cry_detector run")
    s.add_argument("--mode", choices=["fusion", "cascade", "head"], default="fusion",
                   help="fusion: both scores combined; cascade: the CNN screens, YAMNet confirms; head: YAMNet alone")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_fuse)

    s = sub.add_parser("verdict", help="give a cry detector run an upload verdict (crying / not sure / not a cry, "
                                       "over the whole recording, laughter learnt); writes a new run")
    s.add_argument("run", help="run id or folder of a cry detector run (plain or fused)")
    s.add_argument("--no-monitor", action="store_true", help="skip choosing the monitor's alert rule (`monitor`)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_verdict)

    s = sub.add_parser("monitor", help="choose when Listen and detect may alert: how sure the upload verdict must be, "
                                       "on validation nights; stored in the run's verdict.json")
    s.add_argument("run", help="run id or folder of a run with an upload verdict")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_monitor)

    s = sub.add_parser("reasons", help="choose when a reason model may name a reason (held-out thresholds)")
    s.add_argument("run", help="run id or folder of a reason model")
    s.set_defaults(func=cmd_reasons)

    s = sub.add_parser("runs", help="list run folders and their status")
    s.set_defaults(func=cmd_runs)
    s = sub.add_parser("models", help="list the model registry")
    s.set_defaults(func=cmd_models)

    deploy.add_commands(sub)

    s = sub.add_parser("bench", help="speed and accuracy benchmarks")
    from babycry_core.app.bench import bench_arguments

    bench_arguments(s)
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. An expected failure (missing corpus, manifest or run, a bad argument, a damaged file, an
    optional dependency that is not installed) becomes one line on stderr and exit status 1; with -v the
    traceback too. Usage errors exit 2 (argparse). Commands keep their own codes for what they handle."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, LookupError, RuntimeError, ImportError) as e:
        if args.verbose:
            raise
        text = " ".join(ln.strip() for ln in str(e).splitlines() if ln.strip())
        if isinstance(e, KeyError) or not text:
            text = f"{type(e).__name__}: {text or 'no details'}"
        print(getattr(e, "cli_prefix", "error: ") + text, file=sys.stderr)
        return 1

"""The commands that put a model to work: `detect` (a whole night at once), `listen` (live), `serve` (the HTTP
API) and `export` (ONNX for devices). `add_commands` gives the main parser their subcommands."""
from __future__ import annotations

import sys

from babycry_core.cli.report import report


def cmd_detect(a) -> int:
    from babycry_core.app.answer import clock, detect

    rule_kw = {k: v for k, v in (("on_seconds", a.on_seconds), ("window_seconds", a.within), ("off_seconds", a.off_seconds))
               if v is not None}
    try:
        results = detect(a.files, a.run, a.engine, threads=a.threads, max_minutes=a.max_minutes,
                         progress=sys.stderr.isatty(), rule_kw=rule_kw)
    except FileNotFoundError as e:  # no checkpoint, or (onnx) no export: the message says what to run
        print(f"error: {e}", file=sys.stderr)
        return 2

    def show(r) -> None:
        print(f"{r.file}: {len(r.episodes)} crying episode(s), {r.cry_seconds:.0f} s of crying in {clock(r.duration)}")
        for e in r.episodes:
            why = e.reason or {}
            reason = why.get("label") or ("unclear: check " + ", ".join(why.get("order", [])[:3]) if why else "-")
            print(f"    {clock(e.start)}-{clock(e.end)}  {e.duration:6.1f} s  peak {e.peak:.2f}  reason: {reason}")

    return report(results, a.json, show)


def cmd_listen(a) -> int:
    from babycry_core.cli.listen import listen

    return listen(device=a.device, run=a.run, minutes=a.minutes)


def cmd_serve(a) -> int:
    from babycry_core.serving.api import serve

    serve(a.host, a.port, engine=a.engine, run=a.run, workers=a.workers, queue=a.queue)
    return 0


def cmd_export(a) -> int:
    from babycry_core.app.finish import export

    for m in export(a.run, a.format, a.out):
        diff = max(v for k, v in m["parity"].items() if k.startswith("max_abs_diff"))
        print(f"{m['run_id']}: {', '.join(m['files'])} + model.json in {m['out']} ({m['exporter']}; "
              f"ONNX Runtime matches the original within {diff:.1e})")
    return 0


def add_commands(sub) -> None:
    """detect, listen, serve and export on the main parser's subparsers."""
    s = sub.add_parser("detect", help="crying episodes of recordings of any length (minutes to a night)")
    s.add_argument("files", nargs="+")
    s.add_argument("--json", action="store_true", help="one JSON array, one object per file")
    s.add_argument("--max-minutes", type=float, default=12 * 60, help="refuse longer recordings (default: 12 h)")
    s.add_argument("--run", default=None, help="detector (or reason) run id or folder (default: checkpoints/default.json)")
    s.add_argument("--on-seconds", type=float, default=None, help="alert after this much crying (default 3 s) ...")
    s.add_argument("--within", type=float, default=None, help="... within the last this many seconds (default 5 s)")
    s.add_argument("--off-seconds", type=float, default=None, help="an episode ends after this long without crying (default 10 s)")
    s.add_argument("--threads", type=int, default=1, help="compute threads (default 1: fastest here beside other work; 0: the engine's choice)")
    s.add_argument("--engine", choices=["torch", "onnx", "auto"], default="torch",
                   help="onnx: onnxruntime on the runs' exports (`export default`), without torch: a third of the memory; "
                        "auto: onnx where every run has a current export, as `predict`")
    s.set_defaults(func=cmd_detect)

    s = sub.add_parser("listen", help="live from the default input device (needs the sounddevice extra)")
    s.add_argument("--device", default=None, help="input device name or index (default: the system's default input)")
    s.add_argument("--run", default=None, help="detector (or reason) run id or folder (default: checkpoints/default.json)")
    s.add_argument("--minutes", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    s.set_defaults(func=cmd_listen)

    s = sub.add_parser("serve", help="the HTTP API (FastAPI + uvicorn; docs at /docs)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--run", default=None, help="run id or folder (default: the app's default two-step answer)")
    s.add_argument("--engine", choices=["auto", "torch", "onnx"], default="auto",
                   help="auto (default, as `predict`): onnxruntime where every run the answer needs has an export made "
                        "from its current files, else torch; onnx: the runs' exports, no torch; torch: the run folders")
    s.add_argument("--workers", type=int, default=2, help="classify requests at once")
    s.add_argument("--queue", type=int, default=8, help="requests waiting at most; beyond that 503 at once")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("export", help="a run's network as ONNX + model.json, for devices")
    s.add_argument("run", help="run id or folder, or `default` (the runs checkpoints/default.json names)")
    s.add_argument("--format", choices=["onnx"], default="onnx")
    s.add_argument("--out", default=None, help="folder (default: checkpoints/<run>/onnx/, or $BABYCRY_EXPORTS/<run>/)")
    s.set_defaults(func=cmd_export)

"""`bench serve`: the HTTP API under 1, 2, 4 and 8 concurrent clients; `bench export`: one prediction with
onnxruntime against torch.

bench serve starts `python -m babycry_core serve` on a free localhost port (each engine in turn: torch, and onnx
when the default runs are exported, exporting them first if not), then each client (a thread with its own httpx
client) posts the same 7 s phone clip `--repeats` times: requests/s, p50/p95/p99 latency and errors per level,
and the server's peak RSS. The clients share the machine's cores with the server, as a monitor on the same box
would. Writes results/bench_serve.json.

bench export runs one prediction per engine, each in a fresh process: the `predict` command's wall time and peak
RSS (the whole CLI: imports, model load, one file), and in a process of its own the median latency of one
prediction once loaded. Writes results/bench_export.json.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from babycry_core import fileio, paths

LEVELS = (1, 2, 4, 8)
TARGETS = {"requests_per_s": 50.0, "p95_ms_at_4": 250.0, "errors": 0}


def phone_clip() -> tuple[bytes, str]:
    """A real 7 s Donate-a-Cry phone recording when ../shared/data has one, else a generated 7 s cry sweep (WAV)."""
    root = paths.shared_data_dir() / "donateacry"
    if root.is_dir():
        from babycry_core.audio import decode as audio

        for f in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".wav", ".caf", ".3gp")):
            try:
                if 6.0 <= audio.probe(f).duration <= 8.0:
                    return f.read_bytes(), f"Donate-a-Cry {f.parent.name}/{f.name}"
            except (audio.AudioError, OSError):
                continue
    from babycry_core.audio import synth

    return synth.to_wav_bytes(synth.cry_sweep(7.0, 8000), 8000), "generated 7 s cry sweep, 8 kHz 16-bit WAV"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Server:
    """`python -m babycry_core serve` in a child process on a free port, up once /healthz answers."""

    def __init__(self, engine: str = "torch", run=None, workers: int = 2, queue: int = 8, timeout: float = 180):
        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "babycry_core", "serve", "--port", str(self.port), "--engine", engine,
               "--workers", str(workers), "--queue", str(queue)] + (["--run", str(run)] if run else [])
        self.log = tempfile.TemporaryFile()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=paths.ROOT)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}): {self.output()[-400:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"the server did not answer within {timeout:.0f} s")
            time.sleep(0.2)
        self.startup_s = time.perf_counter() - t0

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self.log.close()


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * len(xs) + 0.5)) - 1))]  # nearest rank


def load_level(url: str, clip: bytes, clients: int, per_client: int, name: str = "clip.wav",
               server_pid: int | None = None) -> dict:
    """`clients` threads at once, each posting the clip `per_client` times over its own connection. With
    server_pid: the server's CPU time per request too (what the requests cost, whatever else runs here)."""
    import httpx

    barrier = threading.Barrier(clients)
    lat, statuses, errors = [], {}, {}
    lock = threading.Lock()

    def client(_):
        with httpx.Client(timeout=60) as c:
            barrier.wait()
            for _ in range(per_client):
                t = time.perf_counter()
                try:
                    r = c.post(url + "/v1/classify", files={"file": (name, clip, "application/octet-stream")})
                    ms = (time.perf_counter() - t) * 1000
                    with lock:
                        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                        if r.status_code == 200:
                            lat.append(ms)
                except httpx.HTTPError as e:
                    with lock:
                        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    cpu0, load0 = (cpu_seconds(server_pid) if server_pid else None), os.getloadavg()[0]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1 = cpu_seconds(server_pid) if server_pid else None
    n = clients * per_client
    ok = statuses.get(200, 0)
    cpu_ms = (cpu1 - cpu0) * 1000 / n if cpu0 is not None and cpu1 is not None and n else None
    return {"server_cpu_ms_per_request": cpu_ms, "load_average": [load0, os.getloadavg()[0]],"clients": clients, "requests": n, "ok": ok, "errors": n - ok, "status_counts": {str(k): v for k, v in
            sorted(statuses.items())}, "exceptions": errors, "seconds": wall, "requests_per_s": ok / wall if wall else 0,
            "p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95), "p99_ms": _pct(lat, 99),
            "mean_ms": statistics.fmean(lat) if lat else None, "max_ms": max(lat) if lat else None}


def ensure_exports() -> str | None:
    """Export the default runs when some has no export yet (a child process: the bench itself stays light).
    Returns why the onnx engine cannot be measured, or None."""
    from babycry_core.inference.onnx_engine import load_onnx_predictor

    try:
        load_onnx_predictor()
        return None
    except FileNotFoundError:
        pass
    r = subprocess.run([sys.executable, "-m", "babycry_core", "export", "default"], capture_output=True, text=True,
                       cwd=paths.ROOT, timeout=900)
    if r.returncode != 0:
        return "export failed: " + ((r.stderr or r.stdout).strip().splitlines() or ["?"])[-1]
    print(r.stdout.strip())
    return None


def run_serve(run=None, per_client: int = 20, engines=("torch", "onnx"), levels=LEVELS, workers: int = 2,
              queue: int = 8) -> dict:
    clip, what = phone_clip()
    out = {"clip": what, "clip_bytes": len(clip), "cores": os.cpu_count(), "workers": workers, "queue": queue,
           "per_client": per_client, "levels": list(levels), "targets": TARGETS, "engines": {},
           "measured": time.strftime("%Y-%m-%d %H:%M")}
    for engine in engines:
        if engine == "onnx":
            why = ensure_exports()
            if why:
                out["engines"][engine] = {"skipped": why}
                continue
        with Server(engine, run, workers, queue) as srv:
            import httpx

            run_id = httpx.get(srv.url + "/healthz", timeout=5).json()["run"]
            load_level(srv.url, clip, 2, 3)  # warm-up: first calls, caches, connections
            rows = []
            for c in levels:
                rows.append(load_level(srv.url, clip, c, per_client, server_pid=srv.proc.pid))
                print(format_row(engine, rows[-1]), flush=True)
            out["engines"][engine] = {"run": run_id, "startup_s": srv.startup_s, "rows": rows,
                                      "server_peak_rss_mb": peak_rss_mb(srv.proc.pid)}
    out["meets_targets"] = {e: meets(r["rows"]) for e, r in out["engines"].items() if "rows" in r}
    return out


def meets(rows: list[dict]) -> dict:
    at4 = next((r for r in rows if r["clients"] == 4), None)
    return {"requests_per_s": max(r["requests_per_s"] for r in rows) >= TARGETS["requests_per_s"],
            "p95_ms_at_4": bool(at4 and at4["p95_ms"] is not None and at4["p95_ms"] <= TARGETS["p95_ms_at_4"]),
            "errors": sum(r["errors"] for r in rows) == TARGETS["errors"]}


def _ms(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def format_row(engine: str, r: dict) -> str:
    cpu = r.get("server_cpu_ms_per_request")
    return (f"| {engine} | {r['clients']} | {r['requests_per_s']:.1f} | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | "
            f"{_ms(r['p99_ms'])} | {r['errors']} | {'-' if cpu is None else f'{cpu:.1f}'} | "
            f"{r.get('load_average', [0])[0]:.1f} |")


def format_serve(res: dict) -> str:
    lines = [f"clip: {res['clip']}; {res['workers']} workers + {res['queue']} waiting; {res['per_client']} requests "
             f"per client", "| engine | clients | requests/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/request | "
             "load average |", "|---|---|---|---|---|---|---|---|---|"]
    for e, r in res["engines"].items():
        lines += [format_row(e, row) for row in r.get("rows", [])] or [f"| {e} | skipped: {r.get('skipped')} |"]
    for e, r in res["engines"].items():
        if "rows" in r:
            cpu = [x["server_cpu_ms_per_request"] for x in r["rows"] if x.get("server_cpu_ms_per_request")]
            cap = f", {res['cores']} cores / {min(cpu):.1f} CPU ms per request = at most " \
                  f"{res['cores'] * 1000 / min(cpu):.0f} requests/s on a quiet machine" if cpu else ""
            lines.append(f"{e}: server peak RSS {r['server_peak_rss_mb']:.0f} MB, up in {r['startup_s']:.1f} s, "
                         f"targets met: {res['meets_targets'][e]}{cap}")
    return "\n".join(lines)


# ---------------------------------------------------------------- bench export: one prediction, onnx vs torch

def one_prediction(engine: str, clip_path: str, repeats: int) -> dict:
    """In a fresh process: load, one warm-up prediction, then `repeats` timed ones; torch imported or not."""
    import resource

    t0 = time.perf_counter()
    if engine == "onnx":
        from babycry_core.inference.onnx_engine import load_onnx_predictor

        pred = load_onnx_predictor()
    else:
        from babycry_core.inference.predictor import load_predictor

        pred = load_predictor()
    load_s = time.perf_counter() - t0
    data = Path(clip_path).read_bytes()
    t = time.perf_counter()
    first = pred.predict(data, name="clip")
    first_ms = (time.perf_counter() - t) * 1000
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        pred.predict(data, name="clip")
        ts.append((time.perf_counter() - t) * 1000)
    return {"engine": engine, "load_s": load_s, "first_ms": first_ms, "median_ms": statistics.median(ts),
            "min_ms": min(ts), "max_ms": max(ts), "answer": first.status, "label": first.label,
            "torch_imported": "torch" in sys.modules, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(args: list[str]) -> tuple[float, float, str, int]:
    """Run a child process; (wall s, its own peak RSS MB, stdout, exit status), via wait4."""
    t = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=paths.ROOT)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t, ru.ru_maxrss / 1024, out.decode(errors="replace"), p.returncode


def run_export(repeats: int = 20) -> dict:
    why = ensure_exports()
    if why:
        raise RuntimeError(f"bench export needs the default runs exported: {why}")
    clip, what = phone_clip()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.wav"
        path.write_bytes(clip)  # the bench's own copy, for the CLI
        rows = {}
        for engine in ("torch", "onnx"):
            wall, rss, out, rc = _child([sys.executable, "-m", "babycry_core", "predict", str(path), "--json",
                                         "--engine", engine])
            answer = json.loads(out)[0] if rc == 0 else {}
            code = f"import json; from babycry_core.bench.serve import one_prediction; " \
                   f"print(json.dumps(one_prediction({engine!r}, {str(path)!r}, {int(repeats)})))"
            _, _, out2, rc2 = _child([sys.executable, "-c", code])
            inproc = json.loads(out2.strip().splitlines()[-1]) if rc2 == 0 else {"error": "failed"}
            rows[engine] = {"cli_wall_s": wall, "cli_peak_rss_mb": rss, "cli_status": rc,
                            "cli_answer": {k: answer.get(k) for k in ("label", "status", "message")}, **inproc}
    same = rows["torch"]["cli_answer"] == rows["onnx"]["cli_answer"]
    return {"clip": what, "repeats": repeats, "cores": os.cpu_count(), "engines": rows, "same_answer": same,
            "measured": time.strftime("%Y-%m-%d %H:%M")}


def format_export(res: dict) -> str:
    lines = [f"clip: {res['clip']}; same answer from both engines: {res['same_answer']}",
             "| engine | predict CLI wall s | CLI peak RSS MB | load s | one prediction ms (median, min-max) | torch imported |",
             "|---|---|---|---|---|---|"]
    for e, r in res["engines"].items():
        lines.append(f"| {e} | {r['cli_wall_s']:.1f} | {r['cli_peak_rss_mb']:.0f} | {r.get('load_s', float('nan')):.1f} | "
                     f"{r.get('median_ms', float('nan')):.1f} ({r.get('min_ms', float('nan')):.1f}-"
                     f"{r.get('max_ms', float('nan')):.1f}) | {r.get('torch_imported')} |")
    return "\n".join(lines)


def main(a) -> int:
    if a.kind == "export":
        res = run_export(a.repeats)
        print(format_export(res))
        fileio.write_json(a.out or paths.results_dir() / "bench_export.json", res)
        return 0
    res = run_serve(a.run, per_client=a.repeats)
    print(format_serve(res))
    fileio.write_json(a.out or paths.results_dir() / "bench_serve.json", res)
    return 0

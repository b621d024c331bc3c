"""`bench episodes`' speed rows: `python -m babycry_core detect` in a fresh process on long generated WAVs, with each
engine (torch; onnxruntime on the default pair's exports, made here when missing), wall time and peak memory (VmHWM,
and the private part RssAnon, polled every 0.1 s). The WAVs are written block by block to the temp folder from
fold 0's held-out material and deleted after (never kept, never committed)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from babycry_core import paths
from babycry_core.detection.episodes import Episode
from babycry_core.augment.nights import SR, material, background, backgrounds, cry_night, matches as _matches


def write_long_night(path: Path, hours: float, mat: dict, seed: int = 0, block_minutes: float = 30.0) -> list[dict]:
    """A long 8 kHz 16-bit WAV of cry nights over changing backgrounds, written block by block; its cries."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    kinds = backgrounds(mat)
    events = []
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as f:
        for i in range(int(np.ceil(hours * 60 / block_minutes))):
            minutes = min(block_minutes, hours * 60 - i * block_minutes)
            y, ev = cry_night(kinds[i % len(kinds)], minutes, mat, rng)
            t0 = i * block_minutes * 60
            events += [{**e, "onset": e["onset"] + t0, "offset": e["offset"] + t0, "background": kinds[i % len(kinds)]}
                       for e in ev]
            f.write(y)
    return events


def _timed_detect(f: Path, threads: int, engine: str = "torch") -> dict:
    """`detect FILE --json` in a fresh process: wall time, peak RSS (VmHWM) and peak private memory (RssAnon)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "babycry_core", "detect", str(f), "--json", "--threads",
                                 str(threads), "--engine", engine], stdout=out, stderr=subprocess.PIPE, text=True,
                                cwd=paths.ROOT)
        hwm = anon = 0
        while proc.poll() is None:
            try:
                st = dict(ln.split(":", 1) for ln in open(f"/proc/{proc.pid}/status"))
                hwm = max(hwm, int(st["VmHWM"].split()[0]))
                anon = max(anon, int(st["RssAnon"].split()[0]))
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.1)
        wall = time.perf_counter() - t
        err = proc.stderr.read()
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"detect failed ({proc.returncode}): {err.strip()[-300:]}")
    import json

    [res] = json.loads(text)
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(hwm / 1024), "peak_private_mb": round(anon / 1024),
            "episodes": len(res["episodes"]), "duration_s": res["duration"], "threads": threads, "engine": engine,
            "result": res}


def _onnx_ready() -> str | None:
    """Export the default detector + reason pair for `detect --engine onnx` when they are not yet; why not, or None."""
    from babycry_core.inference.onnx_engine import load_onnx_predictor

    try:
        load_onnx_predictor()
    except FileNotFoundError:
        from babycry_core.runs import export

        try:
            export.main("default")
        except Exception as e:  # noqa: BLE001 (reported, the torch rows still run)
            return f"cannot export the default models: {str(e).splitlines()[0]}"
    except Exception as e:  # noqa: BLE001
        return str(e).splitlines()[0]
    return None


def speed(hours_list, progress: bool = True, engines=("torch", "onnx"), on_night=None) -> dict:
    """Rows "<h>h" (torch, 1 thread), "<h>h_threads2" (the shortest night) and "<h>h_onnx" (onnxruntime, 1 thread),
    each after a "startup" row (a 10 s file) for its engine. on_night(file, hours, events) sees the shortest night
    before it is deleted."""
    import tempfile

    from babycry_core.data import manifest as data

    if "onnx" in engines and (why := _onnx_ready()):
        print(f"bench episodes: onnx engine skipped: {why}", file=sys.stderr)
        engines = tuple(e for e in engines if e != "onnx")
    mat = material(data.split_frames("detect", "fold", 0)[2])
    tmp = Path(tempfile.gettempdir())
    short = tmp / "babycry_bench_10s.wav"
    import soundfile as sf

    sf.write(short, background("room", 10, mat, np.random.default_rng(1)), SR, subtype="PCM_16")
    out = {}
    for engine in engines:
        out["startup" + _suffix(engine)] = {k: v for k, v in _timed_detect(short, 1, engine).items() if k != "result"}
    for h in hours_list:
        f = tmp / f"babycry_bench_night_{h:g}h.wav"
        events = write_long_night(f, h, mat)
        runs = [(e, 1) for e in engines] + ([("torch", 2)] if h == min(hours_list) and "torch" in engines else [])
        for engine, threads in runs:
            r = _timed_detect(f, threads, engine)
            res = r.pop("result")
            start = out["startup" + _suffix(engine)]["wall_s"]
            r["x_real_time"] = round(r["duration_s"] / r["wall_s"], 1)
            r["x_real_time_after_startup"] = round(r["duration_s"] / max(1e-9, r["wall_s"] - start), 1)
            r["file_mb"] = round(f.stat().st_size / 2**20, 1)
            found = [Episode(e["start"], e["end"], e["peak"], alert_at=e["start"]) for e in res["episodes"]]
            r["cries"], r["cries_found"] = len(events), sum(m["found"] for m in _matches(events, found))
            out[f"{h:g}h" + ("" if threads == 1 else f"_threads{threads}") + _suffix(engine)] = r
            if progress:
                print(f"detect {h:g} h ({engine}, {threads} thread(s)): {r['wall_s']} s, {r['x_real_time']}x real "
                      f"time, peak RSS {r['peak_rss_mb']} MB (private {r['peak_private_mb']} MB)", file=sys.stderr,
                      flush=True)
        if h == min(hours_list) and on_night is not None:
            on_night(f, h, events)
        f.unlink(missing_ok=True)  # never keep (or commit) the audio
    short.unlink(missing_ok=True)
    return out


def _suffix(engine: str) -> str:
    return "" if engine == "torch" else f"_{engine}"

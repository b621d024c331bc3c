"""`bench load`: how many concurrent classify requests one process sustains before median latency doubles.

A Streamlit server runs each browser session in a thread of one process and shares the cached model, so
this drives one shared Predictor from N threads at once, each classifying a 7 s clip from WAV bytes.
"""
from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from babycry_core import fileio, paths


def _latencies(predictor, clip: bytes, concurrency: int, rounds: int) -> list[float]:
    barrier = threading.Barrier(concurrency)

    def one(_):
        barrier.wait()  # all requests arrive together
        out = []
        for _ in range(rounds):
            t = time.perf_counter()
            predictor.predict(clip)
            out.append((time.perf_counter() - t) * 1000)
        return out

    with ThreadPoolExecutor(concurrency) as ex:
        return [x for lat in ex.map(one, range(concurrency)) for x in lat]


def concurrency_sweep(run=None, levels=(1, 2, 4, 8, 16, 32), rounds: int = 5) -> dict:
    """Median latency per concurrency level, and the level at which it first exceeds twice the single-request median."""
    from babycry_core.audio import synth
    from babycry_core.inference.predictor import load_predictor

    predictor = load_predictor(run)
    clip = synth.to_wav_bytes(synth.cry_sweep(7.0, 8000), 8000)
    predictor.predict(clip)  # warm-up
    rows = []
    for n in levels:
        lat = _latencies(predictor, clip, n, rounds)
        rows.append({"concurrency": n, "median_ms": statistics.median(lat), "max_ms": max(lat),
                     "throughput_per_s": n * rounds / (sum(lat) / 1000 / n)})
    base = rows[0]["median_ms"]
    sustained = max((r["concurrency"] for r in rows if r["median_ms"] <= 2 * base), default=1)
    return {"run": predictor.run_id, "rows": rows, "sustained_before_doubling": sustained}


def format_sweep(res: dict) -> str:
    base = res["rows"][0]["median_ms"]
    lines = [f"run {res['run']}", "| concurrent requests | median ms | ratio to 1 | max ms | requests/s |", "|---|---|---|---|---|"]
    lines += [f"| {r['concurrency']} | {r['median_ms']:.1f} | {r['median_ms'] / base:.1f}x | {r['max_ms']:.1f} | "
              f"{r['throughput_per_s']:.0f} |" for r in res["rows"]]
    lines.append(f"sustained before the median latency doubles: {res['sustained_before_doubling']} concurrent requests")
    return "\n".join(lines)


def main(a) -> int:
    """`bench load [--run RUN] [--repeats N] [--out FILE]`."""
    res = concurrency_sweep(a.run, rounds=max(2, a.repeats // 4))
    print(format_sweep(res))
    fileio.write_json(a.out or paths.results_dir() / "bench_load.json", res)
    return 0

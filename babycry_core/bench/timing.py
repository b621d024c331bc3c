"""One timer for the speed benchmarks: medians and ranges in ms after a warm-up."""
from __future__ import annotations

import statistics
import time


def timeit_ms(fn, repeats: int) -> dict:
    """fn() timed `repeats` times after one warm-up: median, min and max in ms."""
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return {"median_ms": statistics.median(ts), "min_ms": min(ts), "max_ms": max(ts)}

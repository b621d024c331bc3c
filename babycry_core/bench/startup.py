"""`bench startup`: what one whole `python -m babycry_core` process costs, imports included.

`--help` (the floor: the interpreter, argparse and the CLI's own imports) and `predict CLIP` (the default two-step
answer on one recording) each run N times in fresh processes. Per command: wall-clock median and min-max, CPU
seconds, peak RSS (the child's own ru_maxrss, from os.wait4), and the ratio predict / --help of the medians.
Writes results/bench_startup.json. The machine is shared: compare medians taken in the same run.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from babycry_core import fileio, paths

DEFAULT_REPEATS = 5
PHONE_CLIPS = "uploads-sample/*.3gp"  # real phone uploads, under ../shared/data


def add_arguments(p) -> None:
    """`bench startup`'s own option (its kind and --repeats are bench/dispatch.py's)."""
    p.add_argument("--clip", default=None, help="startup: the recording `predict` classifies (default: a phone "
                   "clip from ../shared/data/uploads-sample, else a generated cry)")


def default_clip(tmp_dir: Path) -> Path:
    """A real phone clip where ../shared/data has one, else a generated 7 s cry-like WAV (written to tmp_dir)."""
    found = sorted(paths.shared_data_dir().glob(PHONE_CLIPS))
    if found:
        return found[0]
    from babycry_core.audio import synth

    f = Path(tmp_dir) / "cry_sweep.wav"
    f.write_bytes(synth.to_wav_bytes(synth.cry_sweep()))
    return f


def run_once(args: list[str]) -> dict:
    """One fresh `python -m babycry_core ARGS` from the repository root: wall and CPU seconds, peak RSS (MB)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(paths.ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "babycry_core", *args], cwd=paths.ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"`python -m babycry_core {' '.join(args)}` exited {code}: {' / '.join(tail)}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}  # Linux: KiB


def _summary(runs: list[dict]) -> dict:
    out = {}
    for key in ("wall_s", "cpu_s", "peak_rss_mb"):
        v = [r[key] for r in runs]
        out[key] = {"median": statistics.median(v), "min": min(v), "max": max(v)}
    return out


def startup(clip: str | Path | None = None, repeats: int = DEFAULT_REPEATS, run: str | None = None) -> dict:
    """`--help` and `predict CLIP` (default: default_clip), each `repeats` times, interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(clip) if clip else default_clip(Path(tmp))
        commands = {"help": ["--help"], "predict": ["predict", str(clip)] + (["--run", run] if run else [])}
        runs: dict[str, list[dict]] = {k: [] for k in commands}
        load = os.getloadavg()
        for _ in range(max(1, repeats)):
            for name, args in commands.items():  # interleaved: a burst of load on the machine hits both
                runs[name].append(run_once(args))
    res = {"clip": str(clip), "repeats": max(1, repeats), "python": sys.version.split()[0],
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_before": load,
                       "loadavg_after": os.getloadavg()},
           "commands": {name: {"argv": ["python", "-m", "babycry_core", *commands[name]], **_summary(r), "runs": r}
                        for name, r in runs.items()}}
    res["ratio_predict_help"] = (res["commands"]["predict"]["wall_s"]["median"]
                                 / res["commands"]["help"]["wall_s"]["median"])
    return res


def format_startup(res: dict) -> str:
    lines = [f"{res['repeats']} fresh processes each; clip {Path(res['clip']).name}; "
             f"load average {res['machine']['loadavg_before'][0]:.1f} -> {res['machine']['loadavg_after'][0]:.1f} "
             f"on {res['machine']['cpus']} CPUs",
             f"{'command':<10} {'wall median (min-max) s':>26} {'CPU median s':>13} {'peak RSS MB':>12}"]
    for name, c in res["commands"].items():
        w = c["wall_s"]
        lines.append(f"{name:<10} {w['median']:>10.2f} ({w['min']:.2f}-{w['max']:.2f}){'':>4} "
                     f"{c['cpu_s']['median']:>13.2f} {c['peak_rss_mb']['max']:>12.0f}")
    lines.append(f"predict / --help: {res['ratio_predict_help']:.1f}x")
    return "\n".join(lines)


def main(a) -> int:
    """`bench startup [--clip FILE] [--repeats N] [--run RUN] [--out FILE]`."""
    res = startup(getattr(a, "clip", None), a.repeats or DEFAULT_REPEATS, a.run)
    print(format_startup(res))
    out = Path(a.out) if a.out else paths.results_dir() / "bench_startup.json"
    fileio.write_json(out, res)
    print(f"written to {out}")
    return 0

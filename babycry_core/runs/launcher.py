"""Launching and stopping training processes: `python -m babycry_core train ...` in its own process group, which
writes its PID, log (train.log) and progress (history.jsonl, status.json) into the run folder; pages poll them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from babycry_core import paths
from babycry_core.runs.run_registry import new_run_dir, pid_alive, run_info, run_pid, set_status


def launch(args: list[str], root: Path | None = None, model: str = "run") -> Path:
    """Start `python -m babycry_core train ARGS --run-dir NEW` in its own process group; return at once."""
    run_dir = new_run_dir(model, root)
    set_status(run_dir, "launching", started=time.time(), model=model, args=list(args))
    log = open(run_dir / "train.log", "ab")
    cmd = [sys.executable, "-m", "babycry_core", "train", *args, "--run-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=paths.ROOT, start_new_session=True)
    log.close()
    (run_dir / "pid").write_text(str(proc.pid))
    return run_dir


def stop(run_dir: Path, timeout: float = 10.0) -> str:
    """Ask a running training process to stop (SIGTERM; it saves and marks itself "stopped")."""
    pid = run_pid(run_dir)
    if not pid_alive(pid):
        return run_info(Path(run_dir)).status
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline and pid_alive(pid):
        time.sleep(0.1)
    return run_info(Path(run_dir)).status


def tail_log(run_dir: Path, n: int = 20) -> str:
    try:
        return "\n".join((Path(run_dir) / "train.log").read_text(errors="replace").splitlines()[-n:])
    except FileNotFoundError:
        return ""

"""A run's own process: `start(run_dir, cmd)` runs a command in its own process group with its output in the run
folder's log (RunFolder.LOG) and its PID beside it (RunFolder.PID), and returns at once; `stop(run_dir)` asks it
to end (SIGTERM: a training run saves and marks itself "stopped"). What the command is belongs to the caller
(app.train.launch starts the training worker with the run's TrainConfig as JSON)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from babycry_core import paths
from babycry_core.runs.run_folder import RunFolder
from babycry_core.runs.run_registry import pid_alive, run_info, run_pid


def start(run_dir: Path, cmd: list[str]) -> int:
    """Start cmd (cwd: the project root) in its own process group, stdout and stderr appended to the run's log;
    record and return its PID."""
    folder = RunFolder(run_dir)
    with open(folder.file(RunFolder.LOG), "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=paths.ROOT, start_new_session=True)
    folder.file(RunFolder.PID).write_text(str(proc.pid))
    return proc.pid


def stop(run_dir: Path, timeout: float = 10.0) -> str:
    """Ask a running training process to stop (SIGTERM; it saves and marks itself "stopped"); its status then."""
    pid = run_pid(run_dir)
    if not pid_alive(pid):
        return run_info(Path(run_dir)).status
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline and pid_alive(pid):
        time.sleep(0.1)
    return run_info(Path(run_dir)).status


def tail_log(run_dir: Path, n: int = 20) -> str:
    """The last n lines of the run's log ("" when there is none)."""
    return RunFolder(run_dir).log_tail(n)

"""Run folders under checkpoints/: creation, status, progress events, listing and finding runs (launching and
stopping their training processes is runs/launcher.py).

A run folder is self-describing:
    config.json          training config (+ model name, pretrained status, world size)
    feature_config.json  the FeatureConfig the model was trained on
    labels.json          class names, in output order
    model.safetensors    weights of the best epoch (written atomically)
    calibration.json     temperature and abstention threshold
    history.jsonl        one JSON progress event per line (start, epoch, end)
    metrics.json         test metrics from evaluate()
    status.json          running / finished / failed / stopped (+ pid, times, message)
    train.log            the process's stdout/stderr
Training runs in its own process (never in the Streamlit script thread); the page polls these files.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from babycry_core import fileio, paths

REQUIRED = ("config.json", "feature_config.json", "labels.json")
FINAL_STATES = ("finished", "failed", "stopped", "interrupted")


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: str  # running / finished / failed / stopped / interrupted / corrupt
    model: str = "?"
    corpus: str = "?"
    created: float = 0.0
    message: str = ""
    metrics: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """Has weights and metadata that inference can rebuild a model from (a stopped run keeps its best epoch)."""
        return self.status in ("finished", "stopped") and bool(self.config) and not self.is_cv

    @property
    def is_cv(self) -> bool:
        """A k-fold cross-validation run: pooled metrics over its folds, no single model to classify with."""
        return self.config.get("family") == "cv"

    @property
    def macro_f1(self) -> float | None:
        return self.metrics.get("macro_f1")


def new_run_dir(model: str, root: Path | None = None) -> Path:
    """Create a fresh, unique run folder (exclusive mkdir: two runs never share one)."""
    root = root or paths.checkpoints_dir()
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        d = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{model}-{secrets.token_hex(2)}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
    raise RuntimeError("could not create a unique run folder")


def set_status(run_dir: Path, status: str, **extra) -> None:
    old = fileio.read_json(run_dir / "status.json", default={})
    old.update(status=status, updated=time.time(), **extra)
    fileio.write_json(run_dir / "status.json", old)


def append_event(run_dir: Path, event: dict) -> None:
    """Append one progress event (a JSON line). Readers ignore a torn last line."""
    with open(run_dir / "history.jsonl", "a") as f:
        f.write(json.dumps(event) + "\n")
        f.flush()


def read_events(run_dir: Path) -> list[dict]:
    events = []
    try:
        lines = (run_dir / "history.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return events
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the line being written when the process died
    return events


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def run_pid(run_dir: Path) -> int | None:
    """The training process's PID: the child records it in status.json, the launcher in `pid`."""
    st = fileio.read_json(Path(run_dir) / "status.json", default={})
    if st.get("pid"):
        return int(st["pid"])
    try:
        return int((Path(run_dir) / "pid").read_text())
    except (OSError, ValueError):
        return None


def run_info(run_dir: Path) -> RunInfo:
    """Read a run folder. Never raises: a damaged folder comes back with status "corrupt" and the reason."""
    run_dir = Path(run_dir)
    info = RunInfo(run_dir.name, run_dir, "corrupt", created=run_dir.stat().st_mtime if run_dir.exists() else 0)
    try:
        st = fileio.read_json(run_dir / "status.json", default={})
        info.status = st.get("status", "unknown")
        info.message = st.get("message", "")
        info.created = st.get("started", info.created)
        info.model = st.get("model", info.model)  # recorded at launch, before config.json exists
        if (run_dir / "config.json").exists():
            info.config = fileio.read_json(run_dir / "config.json")
            info.model = info.config.get("model", "?")
            info.corpus = info.config.get("corpus", "?")
        if info.status in ("launching", "running") and not pid_alive(run_pid(run_dir)):
            info.status, info.message = "interrupted", "the training process ended without finishing (killed?)"
        if info.status == "finished" or (info.status == "stopped" and (run_dir / "config.json").exists()):
            missing = [f for f in REQUIRED if not (run_dir / f).exists()]
            if missing:
                return _corrupt(info, f"missing {', '.join(missing)}")
            for f in REQUIRED:
                fileio.read_json(run_dir / f)
            if (run_dir / "metrics.json").exists():
                info.metrics = fileio.read_json(run_dir / "metrics.json")
            from babycry_core.runs.weights import weights_problem

            problem = weights_problem(run_dir)
            if problem:
                return _corrupt(info, problem)
    except (OSError, ValueError) as e:
        return _corrupt(info, f"unreadable metadata ({type(e).__name__}: {str(e)[:80]})")
    return info


def _corrupt(info: RunInfo, why: str) -> RunInfo:
    info.status, info.message = "corrupt", f"checkpoint folder {info.run_id} is damaged: {why}"
    return info


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """All run folders, newest first (corrupt ones included, with their reason)."""
    root = root or paths.checkpoints_dir()
    if not root.is_dir():
        return []
    runs = [run_info(d) for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_"))]
    return sorted(runs, key=lambda r: r.created, reverse=True)


def find_run(run: str | Path, root: Path | None = None) -> Path:
    """A run id, or a path to a run folder → the folder. Raises FileNotFoundError with the known ids."""
    p = Path(run)
    if p.is_dir() and (p / "config.json").exists():
        return p
    root = root or paths.checkpoints_dir()
    if (root / str(run)).is_dir():
        return root / str(run)
    known = [r.run_id for r in list_runs(root)]
    raise FileNotFoundError(f"no run {str(run)!r}; known runs: {', '.join(known) or 'none (train one first)'}")


def default_run(root: Path | None = None) -> Path | None:
    """The app's default checkpoint: checkpoints/default.json if it names a usable run, else the best finished run."""
    root = root or paths.checkpoints_dir()
    pinned = fileio.read_json(root / "default.json", default={}) if (root / "default.json").exists() else {}
    runs = [r for r in list_runs(root) if r.usable]
    for r in runs:
        if r.run_id == pinned.get("default"):
            return r.path
    runs.sort(key=lambda r: (r.macro_f1 or 0.0), reverse=True)
    return runs[0].path if runs else None


def default_pair(root: Path | None = None) -> tuple[Path | None, Path | None]:
    """(cry detector, reason model) that checkpoints/default.json names for the two-step answer; None for
    either that is missing or not usable."""
    root = root or paths.checkpoints_dir()
    pinned = fileio.read_json(root / "default.json", default={}) if (root / "default.json").exists() else {}
    out = []
    for key in ("detector", "reason"):
        d = root / str(pinned.get(key, ""))
        out.append(d if pinned.get(key) and d.is_dir() and run_info(d).usable else None)
    return out[0], out[1]


# files a run folder keeps about itself, which no answer reads: an export made before they changed is still current
BOOKKEEPING = {"MODEL_CARD.md", "history.jsonl", "status.json", "metrics.json", "split.json", "log.txt",
               "progress.json"}


def export_dir_for(run_dir: Path) -> Path:
    """Where a run's export goes by default: `$BABYCRY_EXPORTS/<run id>/` or the run's own `onnx/` folder."""
    root = os.environ.get("BABYCRY_EXPORTS")
    return Path(root).expanduser().resolve() / Path(run_dir).name if root else Path(run_dir) / "onnx"


def source_sha256(run_dir: Path) -> str:
    """One sha256 over the files of a run folder that its answers come from (weights, configs, calibration, the
    YAMNet side, the verdict): an export records it, and is current while it still matches."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(Path(run_dir).iterdir()):
        if f.is_file() and f.name not in BOOKKEEPING and f.suffix != ".pid":
            h.update(f"{f.name}\0{fileio.sha256_file(f)}\n".encode())
    return h.hexdigest()

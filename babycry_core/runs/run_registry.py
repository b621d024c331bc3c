"""Run folders under checkpoints/: creation, status, progress events, listing and finding runs (launching and
stopping their training processes is runs/launcher.py).

A run folder is self-describing; its files, and reading and writing them, are runs/run_folder.py's (RunFolder).
Every function here takes a run folder's path or a RunFolder; given a RunFolder, it reads through that object's
cache, so a caller that opens a run once reads each of its JSON files once. Training runs in its own process (never
in the Streamlit script thread); the page polls these files (a fresh RunFolder per poll).
"""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from babycry_core import fileio, paths
from babycry_core.runs.run_folder import PINNED_DEFAULTS, RunFolder

REQUIRED = RunFolder.REQUIRED
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
    folder: RunFolder | None = field(default=None, repr=False, compare=False)  # what was read (its cache)

    @property
    def usable(self) -> bool:
        """Has weights and metadata that inference can rebuild a model from (a stopped run keeps its best epoch)."""
        return self.status in ("finished", "stopped") and bool(self.config) and not self.is_cv

    @property
    def is_cv(self) -> bool:
        """A k-fold cross-validation run: pooled metrics over its folds, no single model to classify with."""
        from babycry_core.runs.family import family_of

        fam = family_of(self.config) if self.config else None
        return fam is not None and not fam.has_model

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


def set_status(run_dir: Path | RunFolder, status: str, **extra) -> None:
    RunFolder.of(run_dir).update(RunFolder.STATUS, status=status, updated=time.time(), **extra)


def append_event(run_dir: Path | RunFolder, event: dict) -> None:
    """Append one progress event (a JSON line). Readers ignore a torn last line."""
    RunFolder.of(run_dir).append_event(event)


def read_events(run_dir: Path | RunFolder) -> list[dict]:
    return RunFolder.of(run_dir).events()


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


def run_pid(run_dir: Path | RunFolder) -> int | None:
    """The training process's PID: the child records it in status.json, the launcher in `pid`."""
    folder = RunFolder.of(run_dir)
    st = folder.status
    if st.get("pid"):
        return int(st["pid"])
    try:
        return int(folder.file(RunFolder.PID).read_text())
    except (OSError, ValueError):
        return None


def run_info(run_dir: Path | RunFolder) -> RunInfo:
    """Read a run folder. Never raises: a damaged folder comes back with status "corrupt" and the reason."""
    folder = RunFolder.of(run_dir)
    run_dir = folder.path
    info = RunInfo(run_dir.name, run_dir, "corrupt", created=run_dir.stat().st_mtime if run_dir.exists() else 0,
                   folder=folder)
    try:
        st = folder.status
        info.status = st.get("status", "unknown")
        info.message = st.get("message", "")
        info.created = st.get("started", info.created)
        info.model = st.get("model", info.model)  # recorded at launch, before the config exists
        has_config = folder.has(RunFolder.CONFIG)
        if has_config:
            info.config = folder.config
            info.model = info.config.get("model", "?")
            info.corpus = info.config.get("corpus", "?")
        if info.status in ("launching", "running") and not pid_alive(run_pid(folder)):
            info.status, info.message = "interrupted", "the training process ended without finishing (killed?)"
        if info.status == "finished" or (info.status == "stopped" and has_config):
            missing = folder.missing(REQUIRED)
            if missing:
                return _corrupt(info, f"missing {', '.join(missing)}")
            for f in REQUIRED:
                folder.read(f)
            info.metrics = folder.metrics
            from babycry_core.runs.weights import weights_problem

            problem = weights_problem(folder)
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


def find_run(run: str | Path | RunFolder, root: Path | None = None) -> Path:
    """A run id, or a path to a run folder (or a RunFolder) → the folder. Raises FileNotFoundError with the known
    ids."""
    if isinstance(run, RunFolder):
        return run.path
    p = Path(run)
    if p.is_dir() and (p / RunFolder.CONFIG).exists():
        return p
    root = root or paths.checkpoints_dir()
    if (root / str(run)).is_dir():
        return root / str(run)
    known = [r.run_id for r in list_runs(root)]
    raise FileNotFoundError(f"no run {str(run)!r}; known runs: {', '.join(known) or 'none (train one first)'}")


def open_run(run: str | Path | RunFolder, root: Path | None = None) -> RunFolder:
    """find_run's folder as a RunFolder (a RunFolder given comes back as it is, its cache kept)."""
    return run if isinstance(run, RunFolder) else RunFolder(find_run(run, root))


def pinned(root: Path | None = None) -> dict:
    """checkpoints/default.json: the runs the app answers with by default ({} when there is none)."""
    return fileio.read_json((root or paths.checkpoints_dir()) / PINNED_DEFAULTS, default={})


def default_folder(root: Path | None = None) -> RunFolder | None:
    """default_run's folder, as the RunFolder its listing read (each of its files read once)."""
    root = root or paths.checkpoints_dir()
    pin = pinned(root)
    runs = [r for r in list_runs(root) if r.usable]
    for r in runs:
        if r.run_id == pin.get("default"):
            return r.folder
    runs.sort(key=lambda r: (r.macro_f1 or 0.0), reverse=True)
    return runs[0].folder if runs else None


def default_run(root: Path | None = None) -> Path | None:
    """The app's default checkpoint: checkpoints/default.json if it names a usable run, else the best finished run."""
    folder = default_folder(root)
    return folder.path if folder is not None else None


def default_folders(root: Path | None = None) -> tuple[RunFolder | None, RunFolder | None]:
    """default_pair's runs as RunFolders, each already read once (usable), so a loader reads them no more."""
    root = root or paths.checkpoints_dir()
    pin = pinned(root)
    out = []
    for key in ("detector", "reason"):
        d = root / str(pin.get(key, ""))
        folder = RunFolder(d) if pin.get(key) and d.is_dir() else None
        out.append(folder if folder is not None and run_info(folder).usable else None)
    return out[0], out[1]


def default_pair(root: Path | None = None) -> tuple[Path | None, Path | None]:
    """(cry detector, reason model) that checkpoints/default.json names for the two-step answer; None for
    either that is missing or not usable."""
    det, reason = default_folders(root)
    return (det.path if det else None), (reason.path if reason else None)


BOOKKEEPING = RunFolder.BOOKKEEPING  # files no answer reads: an export made before they changed is still current


def export_dir_for(run_dir: Path | RunFolder) -> Path:
    """Where a run's export goes by default: `$BABYCRY_EXPORTS/<run id>/` or the run's own `onnx/` folder."""
    root = os.environ.get("BABYCRY_EXPORTS")
    folder = RunFolder.of(run_dir)
    return Path(root).expanduser().resolve() / folder.name if root else folder.export_dir()


def source_sha256(run_dir: Path | RunFolder) -> str:
    """One sha256 over the files of a run folder that its answers come from (weights, configs, calibration, the
    YAMNet side, the verdict): an export records it, and is current while it still matches."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(Path(run_dir).iterdir()):
        if f.is_file() and f.name not in RunFolder.BOOKKEEPING and f.suffix != ".pid":
            h.update(f"{f.name}\0{fileio.sha256_file(f)}\n".encode())
    return h.hexdigest()

"""The model files of a run folder: torch weights (safetensors: no pickle, nothing that can execute code) and the
integrity check of every family's files.

`weights_problem(run_dir)` is cheap enough for listing runs (runs.run_info) and runs before anything is
deserialised; it picks the family's check from CHECKS (config.json["family"]):
    torch       model.safetensors is there and its header names tensors (the CNNs, the cry detector)
    classical   every model file recorded in config.json["files"] is there and matches its sha256
    yamnet      as classical (the head's model.safetensors)
    two_stage   both stage folders are complete torch runs, and every recorded stage file matches its sha256
    cv          a cross-validation summary: metrics only, no model
"""
from __future__ import annotations

from pathlib import Path

from babycry_core import fileio

WEIGHTS = "model.safetensors"
MAX_HASHED_BYTES = 32 << 20  # files up to this size are hashed when listing runs; bigger ones get a header check
TWO_STAGE_STAGES = ("gate", "reason")


def save_weights(model, run_dir: Path) -> None:
    """A torch module's state dict as run_dir/model.safetensors, atomically."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    fileio.write_bytes(Path(run_dir) / WEIGHTS, save(state))


def load_torch_model(run_dir: Path):
    """The network of a torch run (or of a YAMNet head), in eval mode, from config.json + model.safetensors."""
    from safetensors.torch import load_file

    from babycry_core.models import build_model

    run_dir = Path(run_dir)
    config = fileio.read_json(run_dir / "config.json")
    model = build_model(config["model"], config["n_classes"], dropout=config.get("dropout", 0.3), pretrained=False)
    model.load_state_dict(load_file(str(run_dir / WEIGHTS)))
    model.eval()
    return model


def file_hashes(run_dir: Path, rel_paths) -> dict:
    """{relative path: sha256} of files in a run folder (what config.json["files"] records)."""
    return {rel: fileio.sha256_file(Path(run_dir) / rel) for rel in rel_paths}


def verify_files(run_dir: Path, config: dict) -> None:
    """Full sha256 check of every recorded model file, before anything is deserialised. Raises ValueError."""
    for rel, sha in (config.get("files") or {}).items():
        f = Path(run_dir) / rel
        if not f.is_file() or fileio.sha256_file(f) != sha:
            raise ValueError(f"checkpoint {Path(run_dir).name} is damaged: {rel} is missing or does not match "
                             f"the sha256 recorded in config.json (refusing to load it)")


def _safetensors_problem(f: Path, rel: str) -> str | None:
    try:
        from safetensors import safe_open

        with safe_open(str(f), framework="numpy") as sf:  # header only; no torch import for listing runs
            if not list(sf.keys()):
                return f"{rel} holds no tensors"
    except Exception as e:  # safetensors raises its own error type for a truncated header
        return f"{rel} is unreadable ({type(e).__name__})"
    return None


def _torch_problem(run_dir: Path, config: dict) -> str | None:
    f = run_dir / WEIGHTS
    if not f.exists():
        return f"no {WEIGHTS}"
    return _safetensors_problem(f, WEIGHTS)


def _recorded_files_problem(run_dir: Path, config: dict) -> str | None:
    """Every model file recorded in config.json is present and intact (large ones: a header check)."""
    files = config.get("files")
    if not files:
        return "config.json records no model files"
    for rel, sha in files.items():
        f = run_dir / rel
        if not f.is_file():
            return f"no {rel}"
        size = f.stat().st_size
        if size == 0:
            return f"{rel} is empty"
        if size <= MAX_HASHED_BYTES:
            if fileio.sha256_file(f) != sha:
                return f"{rel} does not match the sha256 recorded in config.json"
        elif f.suffix == ".safetensors":
            problem = _safetensors_problem(f, rel)
            if problem:
                return problem
    return None


def _two_stage_problem(run_dir: Path, config: dict) -> str | None:
    """Both stage folders are complete and match the sha256 recorded in config.json."""
    files = config.get("files") or {}
    if not files:
        return "config.json records no stage files"
    for stage in TWO_STAGE_STAGES:
        problem = weights_problem(run_dir / stage) if (run_dir / stage).is_dir() else f"no {stage}/ folder"
        if problem:
            return f"{stage}: {problem}"
    for rel, sha in files.items():
        f = run_dir / rel
        if not f.is_file():
            return f"no {rel}"
        if fileio.sha256_file(f) != sha:
            return f"{rel} does not match the sha256 recorded in config.json"
    return None


CHECKS = {"torch": _torch_problem, "classical": _recorded_files_problem, "yamnet": _recorded_files_problem,
          "two_stage": _two_stage_problem, "cv": lambda run_dir, config: None}


def weights_problem(run_dir: Path) -> str | None:
    """None when the run's model files are complete and readable, else why not (cheap; see the module doc)."""
    run_dir = Path(run_dir)
    config = fileio.read_json(run_dir / "config.json", default={})
    family = config.get("family", "torch")
    check = CHECKS.get(family)
    if check is None:
        return f"unknown model family {family!r} in config.json"
    return check(run_dir, config)

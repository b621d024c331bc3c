"""The model files of a run folder: torch weights (safetensors: no pickle, nothing that can execute code) and the
integrity checks the families' `check` parts are made of.

`weights_problem(run)` is cheap enough for listing runs (runs.run_info) and runs before anything is deserialised;
it asks the run's family (runs.family, config.json["family"]) for its check:
    torch       model.safetensors is there and its header names tensors (the CNNs, the cry detector): torch_problem
    classical   every model file recorded in config.json["files"] is there and matches its sha256:
                recorded_files_problem
    yamnet      as classical (the head's model.safetensors)
    two_stage   both stage folders are complete torch runs, and every recorded stage file matches its sha256
    cv          a cross-validation summary: metrics only, no model
"""
from __future__ import annotations

import os
from pathlib import Path

from babycry_core import fileio
from babycry_core.runs.run_folder import RunFolder, recorded_family

WEIGHTS = RunFolder.WEIGHTS  # kept for importers (training.yamnet_head)
MAX_HASHED_BYTES = 32 << 20  # files up to this size are hashed when listing runs; bigger ones get a header check


def save_weights(model, run_dir: Path | RunFolder) -> None:
    """A torch module's state dict as the run's model.safetensors, atomically."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    RunFolder.of(run_dir).write_bytes(RunFolder.WEIGHTS, save(state))


def load_torch_model(run_dir: Path | RunFolder):
    """The network of a torch run (or of a YAMNet head), in eval mode, from its config and model.safetensors."""
    from safetensors.torch import load_file

    from babycry_core.models import build_model

    folder = RunFolder.of(run_dir)
    config = folder.config
    model = build_model(config["model"], config["n_classes"], dropout=config.get("dropout", 0.3), pretrained=False)
    model.load_state_dict(load_file(str(folder.file(RunFolder.WEIGHTS))))
    model.eval()
    return model


def file_hashes(run_dir: Path | RunFolder, rel_paths) -> dict:
    """{relative path: sha256} of files in a run folder (what config.json["files"] records)."""
    folder = RunFolder.of(run_dir)
    return {rel: fileio.sha256_file(folder.file(rel)) for rel in rel_paths}


def verify_files(run_dir: Path | RunFolder, config: dict) -> None:
    """Full sha256 check of every recorded model file, before anything is deserialised. Raises ValueError."""
    folder = RunFolder.of(run_dir)
    for rel, sha in (config.get("files") or {}).items():
        f = folder.file(rel)
        if not f.is_file() or fileio.sha256_file(f) != sha:
            raise ValueError(f"checkpoint {folder.name} is damaged: {rel} is missing or does not match "
                             f"the sha256 recorded in {RunFolder.CONFIG} (refusing to load it)")


def safetensors_problem(f: Path, rel: str) -> str | None:
    try:
        from safetensors import safe_open

        with safe_open(str(f), framework="numpy") as sf:  # header only; no torch import for listing runs
            if not list(sf.keys()):
                return f"{rel} holds no tensors"
    except Exception as e:  # safetensors raises its own error type for a truncated header
        return f"{rel} is unreadable ({type(e).__name__})"
    return None


def torch_problem(folder: RunFolder, config: dict) -> str | None:
    """A torch run: its model.safetensors is there and names tensors."""
    f = folder.file(RunFolder.WEIGHTS)
    if not f.exists():
        return f"no {RunFolder.WEIGHTS}"
    return safetensors_problem(f, RunFolder.WEIGHTS)


def recorded_files_problem(folder: RunFolder, config: dict) -> str | None:
    """Every model file recorded in config.json is present and intact (large ones: a header check)."""
    files = config.get("files")
    if not files:
        return f"{RunFolder.CONFIG} records no model files"
    for rel, sha in files.items():
        f = folder.file(rel)
        if not f.is_file():
            return f"no {rel}"
        size = f.stat().st_size
        if size == 0:
            return f"{rel} is empty"
        if size <= MAX_HASHED_BYTES:
            if fileio.sha256_file(f) != sha:
                return f"{rel} does not match the sha256 recorded in {RunFolder.CONFIG}"
        elif f.suffix == ".safetensors":
            problem = safetensors_problem(f, rel)
            if problem:
                return problem
    return None


def weights_problem(run_dir: Path | RunFolder | os.PathLike) -> str | None:
    """None when the run's model files are complete and readable, else why not (cheap; see the module doc).
    Given a RunFolder, its config is read through that object's cache."""
    from babycry_core.runs.family import family_of

    folder = RunFolder.of(run_dir)
    config = folder.read(RunFolder.CONFIG, default={})
    found = family_of(config)
    if found is None:
        return f"unknown model family {recorded_family(config)!r} in {RunFolder.CONFIG}"
    return found.check(folder, config)

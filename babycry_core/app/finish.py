"""What is done to a run after training: evaluate it, write its card, give a cry detector YAMNet's ear (fuse) or
an upload verdict and its monitor rule, choose when a reason model may name a reason, export it for devices."""
from __future__ import annotations

from pathlib import Path


def find_run(run) -> Path:
    """A run folder for a run id or folder (FileNotFoundError when there is none)."""
    from babycry_core.runs import run_registry as runs

    return runs.find_run(run)


def metrics_text(run_dir: Path) -> str:
    """"run: FOLDER" and the run's test metrics as a table (when it has them)."""
    from babycry_core.eval.metrics import format_table
    from babycry_core.runs.run_folder import RunFolder

    folder = RunFolder(run_dir)
    text = f"run: {run_dir}"
    if folder.has(RunFolder.METRICS):
        text += "\n" + format_table(folder.metrics)
    return text


def evaluate(run) -> Path:
    """Evaluate a run on its test split (writes its metrics); the run folder."""
    from babycry_core.training.evaluate_runs import evaluate_run

    run_dir = find_run(run)
    evaluate_run(run_dir)
    return run_dir


def cross_validate_run(run) -> dict:
    """Retrain a run's config on every grouped fold; the summary."""
    from babycry_core.app.train import TrainConfig, cross_validate
    from babycry_core.runs.run_folder import RunFolder

    return cross_validate(TrainConfig.from_dict(RunFolder(find_run(run)).config))


def card(run) -> Path:
    """Write (or overwrite) a run's model card; its path. A detector's card scores the run first when needed."""
    from babycry_core.runs.run_folder import RunFolder

    run_dir = find_run(run)
    folder = RunFolder(run_dir)
    if folder.read(RunFolder.CONFIG, default={}).get("role") == "detector":
        from babycry_core.runs.detector_card import write_detector_card
        from babycry_core.training.detector_fit import score_run

        if "cry" not in folder.metrics:
            score_run(run_dir)
        return write_detector_card(run_dir)
    from babycry_core.runs.model_card import write_model_card

    return write_model_card(run_dir)


def fuse(run, mode: str = "fusion", *, progress: bool = True) -> Path:
    """A new run: the cry detector with YAMNet's ear (fusion, cascade or head)."""
    from babycry_core.training.cry_fusion_fit import fuse_detector_run

    return fuse_detector_run(run, mode, progress=progress)


def verdict(run, *, progress: bool = True) -> Path:
    """A new run: the cry detector with an upload verdict (crying / not sure / not a cry)."""
    from babycry_core.training.clip_verdict_fit import verdict_run

    return verdict_run(run, progress=progress)


def monitor(run, *, progress: bool = True) -> dict:
    """Choose when Listen and detect may alert (stored in the run's verdict), rewrite its card; the choice."""
    from babycry_core.detection.monitor_rule import monitor_run
    from babycry_core.runs.detector_card import write_detector_card

    run_dir = find_run(run)
    m = monitor_run(run_dir, progress=progress)
    write_detector_card(run_dir)  # the card shows the rule and its validation nights
    return m


def reasons(run, *, progress: bool = True) -> tuple[dict, str]:
    """Choose when a reason model may name each reason (held-out thresholds); (the choice, the file it went to)."""
    from babycry_core.inference.predictor import load_model
    from babycry_core.inference.reason_naming import FILE, fit_naming

    run_dir = find_run(run)
    return fit_naming(run_dir, load_model(run_dir), progress=progress), FILE


def export(run, fmt: str = "onnx", out=None) -> list[dict]:
    """Export a run (or `default`: the runs checkpoints/default.json names) for devices; one manifest per run."""
    from babycry_core.runs.export import main as export_main

    return export_main(run, fmt, out)

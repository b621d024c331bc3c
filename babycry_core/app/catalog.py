"""What there is: the runs (their folders, status, progress, the defaults), the model registry, the corpora and
their data. Nothing here loads a model; listing the registry imports torch, so a process without it asks a child.

    runs(), usable_runs(), run_info(run), events(run), default_run(), default_pair(), find_run(run)
    runs_listing()                the runs with their headline figures and the defaults (GET /v1/models)
    model_names(), model_registry()   the registry's names; [{name, family, description}]
    corpora(), data_summary(corpus), link_corpus(extras), prepare_corpus(...), cache_features(...)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babycry_core import paths

# ---------------------------------------------------------------- runs

def results_dir() -> Path:
    """Where the benchmarks write their reports (results/)."""
    return paths.results_dir()


def runs(root: Path | None = None) -> list:
    """Every run folder (runs.RunInfo), newest first; read afresh each call (the folders are the truth)."""
    from babycry_core.runs import run_registry

    return run_registry.list_runs(root)


def usable_runs(root: Path | None = None) -> tuple[list, list]:
    """(finished runs inference can use, corrupt run folders), both newest first."""
    all_runs = runs(root)
    return [r for r in all_runs if r.usable], [r for r in all_runs if r.status == "corrupt"]


def run_info(run_dir):
    from babycry_core.runs import run_registry

    return run_registry.run_info(Path(run_dir))


def events(run_dir) -> list[dict]:
    """A run's progress events so far (history)."""
    from babycry_core.runs import run_registry

    return run_registry.read_events(Path(run_dir))


def find_run(run) -> Path:
    from babycry_core.runs import run_registry

    return run_registry.find_run(run)


def default_run(root: Path | None = None) -> Path | None:
    from babycry_core.runs import run_registry

    return run_registry.default_run(root)


def default_pair(root: Path | None = None) -> tuple[Path | None, Path | None]:
    """(cry detector, reason model) that checkpoints/default.json names (either may be None)."""
    from babycry_core.runs import run_registry

    return run_registry.default_pair(root)


def pinned_defaults(root: Path | None = None) -> dict:
    """checkpoints/default.json ({} when absent)."""
    from babycry_core.runs import run_registry

    return run_registry.pinned(root)


def headline(metrics: dict) -> dict:
    """The figures a run is judged by: macro-F1, balanced accuracy and the majority baseline; a detector's cry F1."""
    out = {k: metrics[k] for k in ("macro_f1", "balanced_accuracy", "accuracy", "n") if k in metrics}
    base = metrics.get("baseline") or {}
    if "macro_f1" in base:
        out["baseline_macro_f1"] = base["macro_f1"]
    cry = metrics.get("cry") or metrics.get("cry_detection")
    if isinstance(cry, dict):
        out.update({f"cry_{k}": cry[k] for k in ("f1", "recall", "false_alarm_rate") if k in cry})
    return out


def runs_listing() -> dict:
    """{"runs": [each run's id, model, corpus, status, role, usable, headline, default_as], "defaults": {...}}."""
    pinned = pinned_defaults()
    rows = []
    for r in runs():
        rows.append({"run_id": r.run_id, "model": r.model, "corpus": r.corpus, "status": r.status,
                     "role": r.config.get("role") or "", "usable": r.usable, "headline": headline(r.metrics),
                     "default_as": [k for k in ("detector", "reason", "default") if pinned.get(k) == r.run_id],
                     **({"message": r.message} if r.status == "corrupt" else {})})
    return {"runs": rows, "defaults": {k: pinned.get(k) for k in ("detector", "reason", "default")}}


# ---------------------------------------------------------------- the model registry

def model_names() -> list[str]:
    from babycry_core.models import model_names as names

    return names()


def registry() -> list[dict]:
    """[{name, family, description}] of every registry model (imports torch)."""
    from babycry_core.models import get_spec, model_names as names

    return [{"name": n, "family": get_spec(n).family, "description": get_spec(n).description} for n in names()]


def model_registry() -> list[dict]:
    """registry(), without importing torch into a process that has none (an ONNX server): a child lists it."""
    if "torch" in sys.modules:
        return registry()
    r = subprocess.run([sys.executable, "-m", "babycry_core.app.catalog"], capture_output=True, text=True,
                       timeout=120, cwd=paths.ROOT)
    if r.returncode != 0:
        raise RuntimeError("could not list the model registry: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    return json.loads(r.stdout)


# ---------------------------------------------------------------- corpora and their data

def corpora() -> list[str]:
    from babycry_core.data.corpora import CORPORA

    return list(CORPORA)


def clone_url() -> str:
    """Where the Donate-a-Cry corpus is cloned from when ../shared/data lacks it."""
    from babycry_core.data import linking

    return linking.CLONE_URL


def data_summary(corpus: str = "donateacry"):
    """The corpus's classes: clips, groups, share (a DataFrame), or None when it is not set up here."""
    from babycry_core.data import manifest as data

    try:
        return data.class_summary(data.load_manifest(corpus))
    except (FileNotFoundError, OSError, ValueError):
        return None


def link_corpus(extras: bool = False) -> dict:
    """Link (or clone) the corpus; extras: also FSDD and giulbia (the cry detector's training needs both)."""
    from babycry_core.data import linking

    done = linking.link_corpus()
    if extras:
        from babycry_core.data.extras import fetch_extras

        done.update(fetch_extras())
    return done


def cache_features(corpus: str, backend: str = "local", address: str | None = None) -> dict:
    """Precompute a corpus's features (local or Ray jobs); {"job_errors": ..., ...}."""
    from babycry_core.training.precompute import cache_corpus_features

    return cache_corpus_features(corpus, backend=backend, address=address)


def prepare_corpus(corpus: str, source: str | None = None, seed: int = 0, folds: int = 5) -> str:
    """Build data/<corpus>/ (manifest, splits, grouped folds; links the corpus first when no source is given);
    the summary as text."""
    from babycry_core.data import linking, manifest as data

    if source is None:
        linking.link_corpus()
    manifest, splits = data.prepare(corpus, source=Path(source) if source else None, seed=seed, n_folds=folds)
    lines = [data.class_summary(manifest).to_string()]
    if manifest["kind"].nunique() > 1:  # what the sounds really are (speech by whom, which noise), by source
        lines.append(data.kind_summary(manifest).to_string())
    fixed = splits["fixed"]
    lines.append(f"{len(manifest)} clips, {manifest['group'].nunique()} groups; fixed split: "
                 + ", ".join(f"{k} {len(v)}" for k, v in fixed.items()) + f"; {len(splits['folds'])} grouped folds")
    return "\n".join(lines)


if __name__ == "__main__":  # model_registry()'s child: the registry as JSON
    print(json.dumps(registry()))

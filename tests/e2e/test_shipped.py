"""The checkpoints committed in checkpoints/ (the app's defaults): each loads from its folder alone, is
under 20 MB, has a model card, and classifies a generated clip."""
import pytest

from babycry_core import fileio, paths
from babycry_core.runs import registry as runs
from babycry_core.audio import synth
from babycry_core.inference.predictor import Predictor
from babycry_core.runs.checkpoint import load

SHIPPED = paths.ROOT / "checkpoints"
RUNS = sorted(d for d in SHIPPED.iterdir() if d.is_dir() and (d / "config.json").exists()) if SHIPPED.is_dir() else []


def test_there_are_shipped_defaults():
    assert len(RUNS) >= 2
    families = {fileio.read_json(d / "config.json").get("corpus") for d in RUNS}
    assert {"donateacry", "combined"} <= families  # the best 5-class and the best 9-class model
    pinned = fileio.read_json(SHIPPED / "default.json")["default"]
    assert runs.default_run(SHIPPED).name == pinned


@pytest.mark.parametrize("run_dir", RUNS, ids=[d.name for d in RUNS])
def test_shipped_checkpoint_classifies_a_generated_clip(run_dir):
    info = runs.run_info(run_dir)
    assert info.status == "finished", info.message
    assert sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file()) < 20 * 2**20
    assert (run_dir / "MODEL_CARD.md").exists() and "macro-F1" in (run_dir / "MODEL_CARD.md").read_text()
    p = Predictor(load(run_dir)).predict(synth.to_wav_bytes(synth.cry_sweep(7.0)), name="cry.wav")
    assert p.label in p.probabilities and abs(sum(p.probabilities.values()) - 1) < 1e-4
    assert p.message

"""The checkpoints committed in checkpoints/ (the app's defaults): each loads from its folder alone, is
under 20 MB, has a model card, and classifies a generated clip."""
import pytest

from babycry_core import fileio, paths
from babycry_core.runs import run_registry as runs
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
    if "yamnet" in run_dir.name and not (paths.shared_data_dir() / "yamnet" / "yamnet.tflite").exists():
        pytest.skip("YAMNet's weights are not beside the project (../shared/data/yamnet)")
    info = runs.run_info(run_dir)
    assert info.status == "finished", info.message
    assert sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file()) < 20 * 2**20
    assert (run_dir / "MODEL_CARD.md").exists() and "macro-F1" in (run_dir / "MODEL_CARD.md").read_text()
    p = Predictor(load(run_dir)).predict(synth.to_wav_bytes(synth.cry_sweep(7.0)), name="cry.wav")
    assert p.label in p.probabilities and abs(sum(p.probabilities.values()) - 1) < 1e-4
    assert p.message


def test_shipped_yamnet_run_answers_from_the_file_offline(tmp_path):
    """`predict --run <the shipped yamnet run>` in a fresh process: YAMNet from its TFLite file, no network, no TF."""
    import json
    import os
    import subprocess
    import sys

    tflite = paths.shared_data_dir() / "yamnet" / "yamnet.tflite"
    if not tflite.exists():
        pytest.skip(f"{tflite} not present")
    [run] = [d for d in RUNS if fileio.read_json(d / "config.json").get("family") == "yamnet"]
    wav = tmp_path / "cry.wav"
    wav.write_bytes(synth.to_wav_bytes(synth.cry_sweep(7.0)))
    code = ("import sys, runpy; sys.argv = ['babycry_core', 'predict', '--run', sys.argv[1], '--json', sys.argv[2]]\n"
            "try:\n    runpy.run_module('babycry_core', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('TF' if 'tensorflow' in sys.modules else 'no TF', file=sys.stderr)")
    env = {**os.environ, "BABYCRY_YAMNET": str(tflite), "no_proxy": "", "http_proxy": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9"}  # a dead proxy: any download attempt would fail
    r = subprocess.run([sys.executable, "-c", code, str(run), str(wav)], cwd=paths.ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    [answer] = json.loads(r.stdout)
    assert answer["run"] == run.name and "error" not in answer and answer["label"], r.stderr[-2000:]
    assert r.stderr.strip().endswith("no TF")

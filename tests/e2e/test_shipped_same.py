"""The shipped checkpoints answer exactly as they did before the training code was reorganised (issue 12, "one
training path"): same probabilities within 1e-5 on generated signals (1e-6 until the log-mel moved from
scipy.fft to numpy.fft, issue 31: both are pocketfft, but their last bits differ on a pure sine).

tests/fixtures/shipped_predictions.json was recorded BEFORE the refactoring with
`python tests/e2e/test_shipped_same.py --record`: for every run committed in checkpoints/, the Predictor's clip
probabilities (`inference.load_model(run_dir).predict(...)`) and, where a recording has several windows, each
window's probabilities. A run shipped later is added with the same command (recorded runs are kept as they are;
`--record --all` records every run again).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

if __name__ == "__main__":  # run as a script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from babycry_core import paths
from babycry_core.audio import synth  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "fixtures" / "shipped_predictions.json"
SHIPPED = paths.ROOT / "checkpoints"
TOL = 1e-5


def shipped_runs() -> list[Path]:
    """The run folders committed in checkpoints/ (local, untracked runs are not shipped)."""
    try:
        out = subprocess.run(["git", "ls-files", "checkpoints"], cwd=paths.ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # no git: every complete folder
        return sorted(d for d in SHIPPED.iterdir() if (d / "config.json").exists())
    return sorted({SHIPPED / Path(f).parts[1] for f in out if len(Path(f).parts) > 2})


def signals() -> dict[str, bytes]:
    """The no-pickle test's generated signals, and a quiet 16 kHz one."""
    from tests.e2e.test_no_pickle import generated_signals

    return {**generated_signals(),
            "quiet_noise_16k": synth.to_wav_bytes(synth.white_noise(5.0, 16000, level=0.01, seed=3), 16000)}


def measure(run_dir: Path) -> dict:
    from babycry_core.inference.predictor import load_model

    predictor = load_model(run_dir)
    out = {"labels": list(predictor.labels), "signals": {}}
    for name, wav in signals().items():
        p = predictor.predict(wav, name=f"{name}.wav")
        out["signals"][name] = {"label": p.label, "status": p.status, "probabilities": p.probabilities,
                                "windows": [w["probabilities"] for w in p.timeline]}
    return out


def record(keep: dict | None = None) -> dict:
    """Every shipped run's measurements; runs already in `keep` are kept as recorded."""
    keep = keep or {}
    return {run.name: keep.get(run.name) or measure(run) for run in shipped_runs()}


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(FIXTURE.read_text())


def test_fixture_covers_every_shipped_run(recorded):
    missing = {r.name for r in shipped_runs()} - set(recorded)
    assert not missing, f"shipped runs without recorded probabilities: {sorted(missing)}; record them with " \
                        "`python tests/e2e/test_shipped_same.py --record`"


@pytest.mark.parametrize("run_dir", shipped_runs(), ids=lambda d: d.name)
def test_shipped_run_gives_the_recorded_probabilities(run_dir, recorded):
    if run_dir.name not in recorded:
        pytest.skip("not recorded yet (test_fixture_covers_every_shipped_run says so)")
    if "yamnet" in run_dir.name and not (paths.shared_data_dir() / "yamnet" / "yamnet.tflite").exists():
        pytest.skip("YAMNet's weights are not beside the project (../shared/data/yamnet)")
    want, got = recorded[run_dir.name], measure(run_dir)
    assert got["labels"] == want["labels"]
    for name, w in want["signals"].items():
        g = got["signals"][name]
        assert g["label"] == w["label"] and g["status"] == w["status"], name
        for c, p in w["probabilities"].items():
            assert abs(g["probabilities"][c] - p) <= TOL, (name, c, g["probabilities"][c], p)
        assert len(g["windows"]) == len(w["windows"]), name
        for gw, ww in zip(g["windows"], w["windows"]):
            for c, p in ww.items():
                assert abs(gw[c] - p) <= TOL, (name, "window", c, gw[c], p)


if __name__ == "__main__":
    if "--record" not in sys.argv:
        sys.exit("usage: python tests/e2e/test_shipped_same.py --record  (rewrites " + str(FIXTURE) + ")")
    import torch  # noqa: F401  (torch before anything that could import TensorFlow)

    kept = {} if "--all" in sys.argv or not FIXTURE.exists() else json.loads(FIXTURE.read_text())
    FIXTURE.write_text(json.dumps(record(kept), indent=1) + "\n")
    print(f"wrote {FIXTURE}")

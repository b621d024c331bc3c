"""Imports that cost only what is used: a plain `predict` (the default two-step answer: the cry detector's ONNX
export shipped in its run folder, fused with YAMNet's TFLite file, then the reason SVM's export) imports onnxruntime
for the networks, ai-edge-litert for YAMNet and nothing heavy it does not use: no torch, no skops.io (its
trusted-types module walks all of scikit-learn, and through its array-API shim imports torch: ~3 s), no
scikit-learn estimators (the SVM answers from its skops file in numpy: runs/embedding_models.PlainSvm), no
TensorFlow, XGBoost, Captum, Streamlit or Plotly. What is imported is checked, not how long it takes
(the time is `python -m babycry_core bench startup`'s)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from babycry_core import paths
from babycry_core.audio import synth

SHIPPED = paths.ROOT / "checkpoints"
# a module or any of its submodules must not be imported by a plain predict
MUST_NOT = ["skops", "sklearn.svm", "sklearn.calibration", "sklearn.pipeline", "sklearn.externals.array_api_compat.torch",
            "tensorflow", "tensorflow_hub", "xgboost", "captum", "shap", "streamlit", "plotly", "matplotlib",
            "torch", "onnx", "skl2onnx", "ray", "fastapi", "uvicorn", "torchvision",
            "babycry_core.ui", "babycry_core.serving", "babycry_core.training.fit", "babycry_core.runs.export"]
MUST = ["onnxruntime", "babycry_core.inference.two_step", "babycry_core.inference.onnx_engine",
        "babycry_core.inference.cry_detector", "babycry_core.inference.cry_fusion", "ai_edge_litert"]

# runs the CLI's main in a fresh interpreter, then prints what it imported (stdout: predict's JSON, then a marker)
PROBE = ("import json, sys\nfrom babycry_core.cli.main import main\nrc = main(sys.argv[1:])\n"
         "print('\\n@@MODULES@@' + json.dumps({'rc': rc, 'modules': sorted(sys.modules)}))\n")


def imported_by(args: list[str]) -> tuple[list, dict]:
    """(predict's JSON output, {"rc", "modules"}) of `main(args)` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT), "BABYCRY_CHECKPOINTS": str(SHIPPED)}  # the shipped default
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=paths.ROOT, capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    body, _, probe = out.stdout.rpartition("@@MODULES@@")
    return json.loads(body), json.loads(probe)


def loaded(modules, name: str) -> list[str]:
    return [m for m in modules if m == name or m.startswith(name + ".")]


@pytest.fixture(scope="module")
def plain_predict(tmp_path_factory):
    wav = tmp_path_factory.mktemp("clip") / "cry.wav"
    wav.write_bytes(synth.to_wav_bytes(synth.cry_sweep()))  # the detector hears crying: both steps run
    return imported_by(["predict", "--json", str(wav)])


def test_plain_predict_runs_both_steps(plain_predict):
    results, probe = plain_predict
    assert probe["rc"] == 0 and len(results) == 1
    r = results[0]
    assert r["cry"]["detected"] and r["reason"] is not None and r["reason"]["model"]  # the SVM answered
    assert abs(sum(r["reason"]["probabilities"].values()) - 1) < 1e-9


def test_plain_predict_imports_only_what_it_uses(plain_predict):
    modules = plain_predict[1]["modules"]
    found = {name: loaded(modules, name)[:3] for name in MUST_NOT if loaded(modules, name)}
    assert not found, f"a plain predict imported {found}"
    missing = [name for name in MUST if name not in modules]
    assert not missing, f"expected {missing} (does the default still answer from the shipped exports?)"


def test_plain_predict_imports_no_scikit_learn_nor_librosa(plain_predict):
    modules = plain_predict[1]["modules"]
    found = [m for name in ("sklearn", "pandas", "joblib", "scipy.stats", "librosa", "numba")
             for m in loaded(modules, name)[:2]]
    assert not found, found


def test_plain_svm_is_what_scikit_learn_answers():
    """The numpy head of the shipped SVM against the Pipeline scikit-learn builds from the same file."""
    from babycry_core.runs.embedding_models import PlainSvm
    from babycry_core.runs.sklearn_io import TRUSTED_TYPES, build_sklearn, read_sklearn, trusted_types

    assert set(TRUSTED_TYPES) == set(trusted_types())
    svm = SHIPPED / "20261124-214740-svm-00bc" / "svm.skops"
    tree = read_sklearn(svm)
    plain, pipe = PlainSvm.from_tree(tree), build_sklearn(tree)
    assert plain is not None and type(pipe).__name__ == "Pipeline"
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        X = (rng.standard_normal((200, pipe.n_features_in_)) * pipe[0].scale_ + pipe[0].mean_).astype(dtype)
        np.testing.assert_allclose(plain.predict_proba(X), pipe.predict_proba(X), rtol=0, atol=1e-12)


def _pipeline():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 4)), np.arange(60) % 3
    X[:, 0] += y
    svc = SVC(random_state=np.random.RandomState(0))  # a RandomStateNode: not read here, skops reads it
    return Pipeline([("scaler", StandardScaler()), ("clf", CalibratedClassifierCV(svc, cv=3))]).fit(X, y), X


def test_a_file_read_sklearn_does_not_read_goes_to_skops(tmp_path):
    from babycry_core.runs.sklearn_io import load_sklearn, read_sklearn, save_sklearn

    pipe, X = _pipeline()
    f = tmp_path / "m.skops"
    save_sklearn(pipe, f)
    assert read_sklearn(f) is None
    np.testing.assert_allclose(load_sklearn(f).predict_proba(X), pipe.predict_proba(X), rtol=0, atol=1e-9)


def test_an_untrusted_builtin_is_still_refused(tmp_path):
    """Names under builtins./numpy. pass the cheap check, but such a node is not read here: skops'
    get_untrusted_types sees it and the file is refused."""
    from babycry_core.runs.sklearn_io import load_sklearn, save_sklearn

    pipe, _ = _pipeline()
    pipe[0].hook = eval
    f = tmp_path / "bad.skops"
    save_sklearn(pipe, f)
    with pytest.raises(ValueError, match="does not trust.*builtins.eval"):
        load_sklearn(f)

"""No pickles (issue 12): scikit-learn models are stored with skops and loaded against an explicit list of trusted
types; an old `svm.joblib` run is read only when pickle is trusted explicitly (--trust-pickle /
BABYCRY_TRUST_PICKLE=1); the shipped SVM, converted from its joblib file, answers exactly as before.

tests/fixtures/svm_00bc_probabilities.json was recorded from the shipped `svm.joblib` BEFORE it was converted
(`python tests/e2e/test_no_pickle.py --record`, then under the old loader): per signal, the handcrafted embeddings
of its windows, the SVM head's probabilities on them, and the Predictor's calibrated clip probabilities.
"""
from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from babycry_core import fileio, paths
from babycry_core.audio import decode as audio
from babycry_core.runs import run_registry as runs
from babycry_core.audio import synth
from babycry_core.runs.checkpoint import load
from babycry_core.features.logmel import windows
from babycry_core.inference.predictor import Predictor

FIXTURE = Path(__file__).parents[1] / "fixtures" / "svm_00bc_probabilities.json"
SVM_RUN = paths.ROOT / "checkpoints" / "20261124-214740-svm-00bc"
REAL_CLIPS = ("donateacry/hungry/02c3b725-26e4-4a2c-9336-04ddc58836d9-1430726196216-1.7-m-04-hu.wav",
              "donateacry/tired/03ADDCFB-354E-416D-BF32-260CF47F7060-1433658024-1.1-f-04-ti.wav")
TOL = 1e-6


def generated_signals() -> dict[str, bytes]:
    return {"cry_sweep": synth.to_wav_bytes(synth.cry_sweep()),
            "cry_sweep_high": synth.to_wav_bytes(synth.cry_sweep(7.0, 8000, 900.0, 1200.0, seed=1)),
            "cry_sweep_12s": synth.to_wav_bytes(synth.cry_sweep(12.0, seed=2)),  # several windows
            "white_noise": synth.to_wav_bytes(synth.white_noise()),
            "sine_440": synth.to_wav_bytes(synth.sine()),
            "sine_1000_3s": synth.to_wav_bytes(synth.sine(3.0, freq=1000.0))}


def measure(loaded, source, name: str) -> dict:
    """Embeddings of the windows, the head's probabilities on them, and the Predictor's clip probabilities."""
    model = loaded.model
    y = audio.load(source, loaded.feature_config.sample_rate, name=name)
    E = model.embed_windows([w for _, w in windows(y, loaded.feature_config)])
    return {"embeddings": E.astype(np.float64).tolist(), "head_proba": model.proba(E).tolist(),
            "probabilities": Predictor(loaded).predict(source, name=name).probabilities}


def record(loaded) -> dict:
    out = {"run": loaded.run_dir.name, "labels": loaded.labels, "generated": {}, "real": {}}
    for name, wav in generated_signals().items():
        out["generated"][name] = measure(loaded, wav, f"{name}.wav")
    for rel in REAL_CLIPS:
        p = paths.shared_data_dir() / rel
        if p.exists():
            out["real"][rel] = measure(loaded, p, p.name)
    return out


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def shipped():
    return load(SVM_RUN)


# ---------------------------------------------------------------- the shipped SVM, converted

def test_no_pickle_or_torch_file_in_checkpoints():
    found = [str(f.relative_to(paths.ROOT)) for f in (paths.ROOT / "checkpoints").rglob("*")
             if f.is_file() and f.suffix.lower() in {".joblib", ".pkl", ".pickle", ".pt", ".pth"}]
    assert not found, f"pickle-based files in checkpoints/: {found}"


def test_shipped_svm_is_skops_with_its_sha256(shipped):
    from babycry_core.runs.sklearn_io import SKOPS_FILE

    cfg = fileio.read_json(SVM_RUN / "config.json")
    assert list(cfg["files"]) == [SKOPS_FILE]
    assert cfg["files"][SKOPS_FILE] == fileio.sha256_file(SVM_RUN / SKOPS_FILE)
    assert runs.run_info(SVM_RUN).status == "finished"
    assert type(shipped.model.pipeline).__name__ == "Pipeline"


def test_converted_svm_gives_the_recorded_probabilities(recorded, shipped):
    assert recorded["run"] == SVM_RUN.name and recorded["labels"] == shipped.labels
    assert len(recorded["generated"]) >= 5
    for name, wav in generated_signals().items():
        want = recorded["generated"][name]
        # the head alone, on the recorded embeddings: the conversion changed nothing
        head = shipped.model.proba(np.asarray(want["embeddings"], np.float32))
        np.testing.assert_allclose(head, want["head_proba"], rtol=0, atol=TOL, err_msg=name)
        # the whole path: decode, embeddings, head, calibration, window average
        got = measure(shipped, wav, f"{name}.wav")
        # the FFT moved from scipy to numpy (issue 31): a pure sine's log-mel near its floor moves by the last bits
        np.testing.assert_allclose(got["embeddings"], want["embeddings"], rtol=1e-5, atol=1e-3, err_msg=name)
        assert got["probabilities"].keys() == want["probabilities"].keys()
        for c, p in want["probabilities"].items():
            assert got["probabilities"][c] == pytest.approx(p, abs=TOL), (name, c)


def test_converted_svm_on_real_clips(recorded, shipped):
    present = [rel for rel in REAL_CLIPS if (paths.shared_data_dir() / rel).exists()]
    if not present:
        pytest.skip("../shared/data/donateacry is not present here")
    assert set(present) <= set(recorded["real"])
    for rel in present:
        want, path = recorded["real"][rel], paths.shared_data_dir() / rel
        head = shipped.model.proba(np.asarray(want["embeddings"], np.float32))
        np.testing.assert_allclose(head, want["head_proba"], rtol=0, atol=TOL, err_msg=rel)
        got = measure(shipped, path, path.name)["probabilities"]
        for c, p in want["probabilities"].items():
            assert got[c] == pytest.approx(p, abs=TOL), (rel, c)


# ---------------------------------------------------------------- trusted types

def _pipeline():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 4)), np.repeat([0, 1], 20)
    X[y == 1] += 1.5
    return Pipeline([("scaler", StandardScaler()),
                     ("clf", CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False, cv=3))]).fit(X, y), X


def test_trusted_types_round_trip_the_project_pipeline(tmp_path):
    import skops.io as sio

    from babycry_core.runs.sklearn_io import load_sklearn, save_sklearn, trusted_types

    pipe, X = _pipeline()
    f = tmp_path / "m.skops"
    save_sklearn(pipe, f)
    assert set(sio.get_untrusted_types(file=f)) <= set(trusted_types())
    back = load_sklearn(f)
    np.testing.assert_allclose(back.predict_proba(X), pipe.predict_proba(X), rtol=0, atol=1e-9)  # a rebuilt model


def _fail(x):
    return x


@pytest.mark.parametrize("kind", ["function", "estimator"])
def test_skops_file_with_an_untrusted_type_is_refused(tmp_path, kind):
    """A custom function skops itself distrusts, and a scikit-learn estimator skops trusts by default but
    babycry never saves: both are refused, with one line, before anything is built."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from babycry_core.runs.sklearn_io import load_sklearn, save_sklearn

    X, y = np.random.default_rng(0).standard_normal((10, 3)), np.repeat([0, 1], 5)
    step = FunctionTransformer(_fail) if kind == "function" else KNeighborsClassifier(n_neighbors=1)
    obj = Pipeline([("scaler", StandardScaler()), ("x", step)]).fit(X, y)
    f = tmp_path / "bad.skops"
    save_sklearn(obj, f)
    with pytest.raises(ValueError) as e:
        load_sklearn(f)
    msg = str(e.value)
    assert "\n" not in msg and "refusing" in msg and "bad.skops" in msg
    assert ("_fail" if kind == "function" else "KNeighborsClassifier") in msg


def test_a_skops_svm_run_with_an_untrusted_type_is_refused(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    from babycry_core.runs.sklearn_io import SKOPS_FILE, save_sklearn

    run = tmp_path / SVM_RUN.name
    shutil.copytree(SVM_RUN, run)
    save_sklearn(FunctionTransformer(_fail), run / SKOPS_FILE)
    cfg = fileio.read_json(run / "config.json")
    cfg["files"] = {SKOPS_FILE: fileio.sha256_file(run / SKOPS_FILE)}  # a matching sha256 is not enough
    fileio.write_json(run / "config.json", cfg)
    with pytest.raises(ValueError, match="does not trust"):
        load(run)


def test_not_a_skops_file_is_a_clear_error(tmp_path):
    from babycry_core.runs.sklearn_io import load_sklearn

    f = tmp_path / "junk.skops"
    f.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="junk.skops is not a readable skops file"):
        load_sklearn(f)


# ---------------------------------------------------------------- old joblib runs

@pytest.fixture
def joblib_run(tmp_path, shipped):
    """The shipped run as an old run folder: svm.joblib with its sha256 in config.json."""
    import joblib

    from babycry_core.runs.sklearn_io import LEGACY_PICKLE, SKOPS_FILE

    run = tmp_path / "checkpoints" / "20260101-000000-svm-old1"
    shutil.copytree(SVM_RUN, run)
    (run / SKOPS_FILE).unlink()
    joblib.dump(shipped.model.pipeline, run / LEGACY_PICKLE)
    cfg = fileio.read_json(run / "config.json")
    cfg.pop("converted", None)
    cfg["files"] = {LEGACY_PICKLE: fileio.sha256_file(run / LEGACY_PICKLE)}
    fileio.write_json(run / "config.json", cfg)
    return run


def test_joblib_run_without_trust_is_a_clear_error(joblib_run, monkeypatch):
    monkeypatch.delenv("BABYCRY_TRUST_PICKLE", raising=False)
    with pytest.raises(ValueError) as e:
        load(joblib_run)
    msg = str(e.value)
    assert "\n" not in msg and "svm.joblib" in msg and "pickle" in msg
    assert f"convert_run('{joblib_run}')" in msg and "--trust-pickle" in msg and "BABYCRY_TRUST_PICKLE=1" in msg
    assert runs.run_info(joblib_run).status == "finished"  # intact: listed, just not unpickled


def test_joblib_run_with_trust_loads_and_warns(joblib_run, shipped, monkeypatch):
    from babycry_core.runs.sklearn_io import PickleWarning

    monkeypatch.delenv("BABYCRY_TRUST_PICKLE", raising=False)
    wav = generated_signals()["cry_sweep"]
    want = Predictor(shipped).predict(wav, name="a.wav").probabilities
    with pytest.warns(PickleWarning, match="svm.joblib"):
        loaded = load(joblib_run, trust_pickle=True)
    got = Predictor(loaded).predict(wav, name="a.wav").probabilities
    assert got.keys() == want.keys()  # two code paths (skops and joblib): equal within float error, not bit for bit
    assert all(got[c] == pytest.approx(want[c], abs=TOL) for c in want)
    with pytest.raises(ValueError, match="pickle"):  # the trust was for that one call only
        load(joblib_run)
    monkeypatch.setenv("BABYCRY_TRUST_PICKLE", "1")  # what the app reads
    with pytest.warns(PickleWarning):
        load(joblib_run)


def test_joblib_run_is_still_sha256_checked_when_trusted(joblib_run):
    with open(joblib_run / "svm.joblib", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ValueError, match="sha256"):
        load(joblib_run, trust_pickle=True)


def test_cli_predict_trust_pickle(joblib_run, monkeypatch, capsys, tmp_path):
    from babycry_core.cli.main import main

    monkeypatch.delenv("BABYCRY_TRUST_PICKLE", raising=False)
    wav = tmp_path / "cry.wav"
    wav.write_bytes(generated_signals()["cry_sweep"])
    assert main(["predict", str(wav), "--run", str(joblib_run), "--json"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "--trust-pickle" in err and len(err.strip().splitlines()) == 1
    with pytest.warns(UserWarning, match="svm.joblib"):
        assert main(["predict", str(wav), "--run", str(joblib_run), "--json", "--trust-pickle"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["label"] in out[0]["probabilities"]


def test_convert_run(joblib_run, shipped):
    from babycry_core.runs.sklearn_io import LEGACY_PICKLE, SKOPS_FILE, convert_run

    old_sha = fileio.read_json(joblib_run / "config.json")["files"][LEGACY_PICKLE]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converting is the explicit act of trust: no warning
        assert convert_run(joblib_run) == joblib_run / SKOPS_FILE
    assert not (joblib_run / LEGACY_PICKLE).exists()
    cfg = fileio.read_json(joblib_run / "config.json")
    assert cfg["files"] == {SKOPS_FILE: fileio.sha256_file(joblib_run / SKOPS_FILE)}
    assert cfg["converted"]["from"] == LEGACY_PICKLE and cfg["converted"]["sha256"] == old_sha
    wav = generated_signals()["white_noise"]
    assert Predictor(load(joblib_run)).predict(wav, name="n.wav").probabilities == \
        Predictor(shipped).predict(wav, name="n.wav").probabilities
    with pytest.raises(ValueError, match="no svm.joblib"):  # nothing left to convert
        convert_run(joblib_run)


if __name__ == "__main__" and "--record" in sys.argv:  # how the fixture was made (from the joblib run)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(record(load(SVM_RUN)), indent=1) + "\n")
    print(FIXTURE)

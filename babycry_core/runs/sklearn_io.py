"""scikit-learn models without pickle: skops files, loaded only against an explicit list of trusted types.

    save_sklearn / load_sklearn   a fitted Pipeline as a skops file (a zip of JSON and .npy arrays), atomically;
                                  loading refuses any type outside trusted_types() before anything is built
    read_sklearn / build_sklearn  the same file read without scikit-learn or skops.io (SkopsObjects, for
                                  embedding_models.PlainSvm), then built into scikit-learn objects on demand
    load_pipeline                 the SVM Pipeline of a run: svm.skops, or an old run's svm.joblib (a pickle,
                                  read only inside trusting_pickle() / with BABYCRY_TRUST_PICKLE=1, with a warning)
    convert_run                   rewrite an old svm.joblib run as svm.skops (the explicit act of trust)
"""
from __future__ import annotations

import contextlib
import contextvars
import io
import json
import logging
import os
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babycry_core import fileio
from babycry_core.runs import run_registry as runs
from babycry_core.runs import weights
from babycry_core.runs.run_folder import RunFolder

log = logging.getLogger(__name__)

SKOPS_FILE = RunFolder.SVM
LEGACY_PICKLE = RunFolder.SVM_PICKLE  # runs written before skops
TRUST_PICKLE_ENV = "BABYCRY_TRUST_PICKLE"


# what trusted_types() gives, as names: checked without importing scikit-learn (a test keeps the two equal)
TRUSTED_TYPES = ("sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler", "sklearn.svm._classes.SVC",
                 "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
                 "sklearn.calibration._SigmoidCalibration")


def _trusted_classes() -> tuple[type, ...]:
    from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return Pipeline, StandardScaler, SVC, CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration


def trusted_types() -> list[str]:
    """Every type a saved scikit-learn model may hold beyond plain data: exactly what fit_classical builds for
    the SVM (StandardScaler + Platt-calibrated SVC in a Pipeline). Plain data (builtins, numpy arrays, scalars
    and dtypes) is left to skops' own defaults. A file holding any other type is refused before anything is built,
    even one skops would trust by default (skops trusts every scikit-learn estimator)."""
    return [f"{t.__module__}.{t.__name__}" for t in _trusted_classes()]


def save_sklearn(obj, path: Path) -> None:
    """A fitted scikit-learn object as a skops file (a zip of JSON and .npy arrays; no pickle), atomically."""
    import skops.io as sio

    fileio.write_bytes(Path(path), sio.dumps(obj, compression=zipfile.ZIP_DEFLATED))


def _read_schema(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return json.loads(z.read("schema.json"))


def _named_types(schema: dict) -> set[str]:
    """Every "module.Class" that a skops file's schema.json names (objects, types, containers)."""
    out, todo = set(), [schema]
    while todo:
        o = todo.pop()
        if isinstance(o, dict):
            if isinstance(o.get("__module__"), str) and isinstance(o.get("__class__"), str):
                out.add(f"{o['__module__']}.{o['__class__']}")
            todo.extend(o.values())
        elif isinstance(o, list):
            todo.extend(o)
    return out


class _NotPlain(Exception):
    """The schema holds a node read_sklearn does not read: skops reads (and checks) the file instead."""


@dataclass
class SkopsObject:
    """An object of a trusted class as a skops file describes it: class name and attributes, nothing built."""

    name: str
    attrs: dict | None


_KEY_TYPES = {"builtins.str": str, "builtins.int": int, "builtins.float": float, "builtins.bool": bool}
_NUMPY_SCALARS = {"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint64", "uint32",
                  "uint16", "uint8", "bool", "bool_"}


def _read_node(node, z: zipfile.ZipFile, trusted):
    """One schema node as skops' protocol-2 loaders read it, for plain data and trusted classes only: JSON values,
    dict/list/tuple, numpy arrays and scalars (np.load without pickle), builtin key types, and SkopsObjects of
    `trusted` names. Anything else raises _NotPlain."""
    loader, name = node.get("__loader__"), f"{node.get('__module__')}.{node.get('__class__')}"
    if loader == "JsonNode":
        return json.loads(node["content"])
    if loader == "DictNode" and name == "builtins.dict":
        key_types = _read_node(node["key_types"], z, trusted)
        return {t(k): _read_node(v, z, trusted) for t, (k, v) in zip(key_types, node["content"].items())}
    if loader == "ListNode" and name == "builtins.list":
        return [_read_node(v, z, trusted) for v in node["content"]]
    if loader == "TupleNode" and name == "builtins.tuple":
        return tuple(_read_node(v, z, trusted) for v in node["content"])
    if loader == "TypeNode" and name in _KEY_TYPES:
        return _KEY_TYPES[name]
    if loader == "NdArrayNode" and node.get("type") == "numpy" and node.get("__module__") == "numpy":
        a = np.load(io.BytesIO(z.read(node["file"])), allow_pickle=False)
        if node["__class__"] == "ndarray":
            return a
        if node["__class__"] in _NUMPY_SCALARS:
            return getattr(np, node["__class__"])(a)
    if loader == "ObjectNode" and name in trusted:
        content = node.get("content")
        return SkopsObject(name, None if content is None else _read_node(content, z, trusted))
    raise _NotPlain(f"{loader} {name}")


def read_sklearn(path: Path) -> SkopsObject | None:
    """A skops file's object as SkopsObjects and plain data, without importing scikit-learn or skops.io (whose
    import walks all of scikit-learn, ~3 s); None for a file holding any other node (another skops protocol, a
    cached or custom node). Refuses (one-line ValueError) a file that names a type outside trusted_types()."""
    path = Path(path)
    data = path.read_bytes()
    try:
        schema = _read_schema(data)
        named = _named_types(schema)
    except Exception as e:  # not a zip, no schema.json, bad JSON, ...
        raise _unreadable(path, e)
    refused = {t for t in named if not t.startswith(("builtins.", "numpy."))} - set(TRUSTED_TYPES)
    _refuse(path, refused - set(trusted_types()) if refused else refused)
    if schema.get("protocol") != 2:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return _read_node(schema, z, set(TRUSTED_TYPES))
    except _NotPlain:
        return None
    except Exception as e:  # a missing array file, a bad array, a malformed node
        raise _unreadable(path, e)


def build_sklearn(obj):
    """The scikit-learn objects a read_sklearn tree describes, built as skops builds them (__new__, then
    __setstate__ with the attributes)."""
    classes = {f"{t.__module__}.{t.__name__}": t for t in _trusted_classes()}

    def build(o):
        if isinstance(o, SkopsObject):
            cls = classes[o.name]
            out = cls.__new__(cls)
            if o.attrs is not None:
                attrs = build(o.attrs)
                out.__setstate__(attrs) if hasattr(out, "__setstate__") else out.__dict__.update(attrs)
            return out
        if type(o) in (list, tuple):
            return type(o)(build(v) for v in o)
        return {k: build(v) for k, v in o.items()} if type(o) is dict else o

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's InconsistentVersionWarning: the version is in config.json
        return build(obj)


def load_sklearn(path: Path):
    """Load a skops file, refusing (one-line ValueError) anything outside trusted_types() and plain data.

    read_sklearn checks and reads the file; a file it does not read goes to skops.io.loads with the explicit
    trusted list, after skops.io.get_untrusted_types has checked it (its answer is never passed back as `trusted`).
    """
    tree = read_sklearn(path)
    return build_sklearn(tree) if tree is not None else _load_with_skops(Path(path), trusted_types())


def _unreadable(path: Path, e: Exception) -> ValueError:
    return ValueError(f"{path.name} is not a readable skops file ({type(e).__name__}: {' '.join(str(e).split())})")


def _refuse(path: Path, refused) -> None:
    if refused:
        raise ValueError(f"{path.name} holds types babycry does not trust ({', '.join(sorted(refused))}); "
                         "refusing to load it")


def _load_with_skops(path: Path, trusted: list[str]):
    """skops' own loader, for a file read_sklearn does not read: checked by get_untrusted_types first."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    data = path.read_bytes()
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as e:  # unknown protocol, ...
        raise _unreadable(path, e)
    _refuse(path, untrusted - set(trusted))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's InconsistentVersionWarning: the version is in config.json
            return sio.loads(data, trusted=trusted)
    except UntrustedTypesFoundException as e:
        raise ValueError(f"{path.name} holds types babycry does not trust ({' '.join(str(e).split())}); "
                         "refusing to load it")


class PickleWarning(UserWarning):
    """A pickle file (an old run's svm.joblib) was loaded because pickle was trusted explicitly."""


_TRUST_PICKLE = contextvars.ContextVar("babycry_trust_pickle", default=False)


@contextlib.contextmanager
def trusting_pickle(trust: bool = True):
    """Within this block, old runs' pickle files may be loaded (what load(..., trust_pickle=True) uses)."""
    token = _TRUST_PICKLE.set(bool(trust) or _TRUST_PICKLE.get())
    try:
        yield
    finally:
        _TRUST_PICKLE.reset(token)


def pickle_trusted() -> bool:
    """True inside trusting_pickle() or with env BABYCRY_TRUST_PICKLE=1 (how the app is told)."""
    return _TRUST_PICKLE.get() or os.environ.get(TRUST_PICKLE_ENV, "").strip() == "1"


def _convert_hint(run_dir: Path) -> str:
    return (f"convert it once with `python -c \"from babycry_core.runs.sklearn_io import convert_run; "
            f"convert_run('{run_dir}')\"` (that reads the pickle: only for a file you trust)")


def _load_legacy_pickle(run_dir: Path):
    import joblib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's InconsistentVersionWarning: the version is in config.json
        return joblib.load(run_dir / LEGACY_PICKLE)


def load_pipeline(run_dir: Path, config: dict, build: bool = True):
    """The SVM Pipeline of a run whose files weights.verify_files() has checked: svm.skops, or an old svm.joblib.

    build=False: a svm.skops that read_sklearn reads comes back unbuilt, as its SkopsObject."""
    files = config.get("files") or {}
    if SKOPS_FILE in files:
        try:
            tree = read_sklearn(run_dir / SKOPS_FILE)
            if tree is None:
                return _load_with_skops(run_dir / SKOPS_FILE, trusted_types())
            return build_sklearn(tree) if build else tree
        except ValueError as e:
            raise ValueError(f"checkpoint {run_dir.name}: {e}")
    if LEGACY_PICKLE not in files:
        raise ValueError(f"checkpoint {run_dir.name} is damaged: {RunFolder.CONFIG} records no {SKOPS_FILE}")
    if not pickle_trusted():
        raise ValueError(f"checkpoint {run_dir.name} stores its SVM as a pickle ({LEGACY_PICKLE}), which can run "
                         f"code when loaded, so it is not loaded: {_convert_hint(run_dir)}, or load it as it is "
                         f"with --trust-pickle (CLI predict) or {TRUST_PICKLE_ENV}=1 (app)")
    warnings.warn(f"checkpoint {run_dir.name}: loading {LEGACY_PICKLE}, a pickle (it can run code), because pickle "
                  f"is trusted explicitly; {_convert_hint(run_dir)}", PickleWarning, stacklevel=2)
    return _load_legacy_pickle(run_dir)


def convert_run(run) -> Path:
    """Rewrite an old SVM run (svm.joblib, a pickle) as svm.skops: same model, same answers; returns the new file.

    Calling this is the explicit act of trust: the pickle is read once (after its recorded sha256 matches), saved
    with skops, reloaded through the trusted-types check and compared, then config.json records svm.skops and
    its sha256 and svm.joblib is removed. `run` is a run id or folder.
    """
    import skops

    folder = RunFolder(runs.find_run(run))
    run_dir, config = folder.path, dict(folder.config)
    files = dict(config.get("files") or {})
    if config.get("model") != "svm" or LEGACY_PICKLE not in files:
        raise ValueError(f"checkpoint {run_dir.name} has no {LEGACY_PICKLE} to convert "
                         f"(model {config.get('model')!r}, files {sorted(files)})")
    weights.verify_files(run_dir, config)
    pipe = _load_legacy_pickle(run_dir)
    save_sklearn(pipe, run_dir / SKOPS_FILE)
    try:
        back = load_sklearn(run_dir / SKOPS_FILE)
        n = int(config.get("n_features") or pipe.n_features_in_)
        probe = np.random.default_rng(0).standard_normal((64, n)).astype(np.float32) * 3
        if not np.array_equal(back.predict_proba(probe), pipe.predict_proba(probe)):
            raise RuntimeError(f"checkpoint {run_dir.name}: the skops copy does not reproduce {LEGACY_PICKLE}; "
                               "not converted")
    except BaseException:
        (run_dir / SKOPS_FILE).unlink(missing_ok=True)  # the run stays as it was
        raise
    old_sha = files.pop(LEGACY_PICKLE)
    config["files"] = {SKOPS_FILE: fileio.sha256_file(run_dir / SKOPS_FILE), **files}
    config["converted"] = {"from": LEGACY_PICKLE, "sha256": old_sha, "to": SKOPS_FILE,
                           "skops_version": skops.__version__, "time": time.time()}
    folder.write(RunFolder.CONFIG, config)
    (run_dir / LEGACY_PICKLE).unlink()
    log.info("checkpoint %s: %s converted to %s", run_dir.name, LEGACY_PICKLE, SKOPS_FILE)
    return run_dir / SKOPS_FILE

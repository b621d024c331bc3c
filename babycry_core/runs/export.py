"""`export RUN --format onnx`: a run's network as ONNX next to model.json, everything a device needs.

An export folder (default `checkpoints/<run>/onnx/`, or `$BABYCRY_EXPORTS/<run>/`, or `--out DIR`) holds:
    model.onnx         the network: input "log_mel" (batch, 1, n_mels, frames) float32, output "logits"
                       (batch, classes); the batch axis is dynamic. Classical runs: input "embedding" (batch, d),
                       output "probabilities". Two-stage runs: gate.onnx and reason.onnx, one per stage.
    model.json         format, run id, model, role, labels, the FeatureConfig (the one `features.log_mel` in
                       numpy computes the input), temperature and thresholds (the detector's cry_threshold and
                       top_fraction too), the embedding's definition for classical runs, each file's sha256, and
                       the parity check run at export time (ONNX Runtime against the original, max |diff|)
    reason_naming.json a reason model's held-out naming thresholds (copied from the run), when it has them
`onnx_engine.py` answers from such a folder alone with onnxruntime, without torch.

What exports is each family's to say (runs.family: its `unexportable` and `export` parts, which call the exporters
here): every torch network of the registry (cnn, resnet18, resnet50, mobilenet_v3, efficientnet_b0, cry_detector;
torch.onnx's dynamo exporter, the TorchScript one as fallback), two_stage (both stages), svm on the handcrafted
embedding (skl2onnx) and xgboost on it (onnxmltools). What does not, said in one line by `NotExportable`: the frozen
yamnet head (its embedder runs outside the network) and classical heads on a CNN or YAMNet embedding (yamnet_ft, a
torch network, exports).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from babycry_core import fileio
from babycry_core.runs import run_registry as runs
from babycry_core.runs.embedding_models import standardise
from babycry_core.runs.family import family_of
from babycry_core.runs.run_folder import RunFolder, recorded_family
from babycry_core.runs.run_registry import export_dir_for

log = logging.getLogger(__name__)

FORMAT = "babycry-onnx"
VERSION = 1
MANIFEST = RunFolder.EXPORT_MANIFEST
NAMING = RunFolder.NAMING
PARITY_TOL = 1e-4  # an export whose outputs differ more than this from the original's is refused
OPSET = 18
XGB_OPSET = 15  # the highest onnxmltools' XGBoost converter supports


class NotExportable(ValueError):
    """This run cannot be exported; str() is one line that says why."""


def default_runs() -> list[Path]:
    """The runs checkpoints/default.json names (detector, reason, default), each once."""
    det, reason = runs.default_pair()
    single = runs.default_run()
    out = []
    for d in (det, reason, single):
        if d is not None and Path(d).resolve() not in [p.resolve() for p in out]:
            out.append(Path(d))
    if not out:
        raise FileNotFoundError("no default run to export: checkpoints/default.json names none that is usable")
    return out


def export_run(run, fmt: str = "onnx", out: str | Path | None = None) -> dict:
    """Export one run (id, folder or RunFolder) to `out` (default export_dir_for(run)); returns the manifest written."""
    if fmt != "onnx":
        raise NotExportable(f"unknown export format {fmt!r}; supported: onnx")
    folder = run if isinstance(run, RunFolder) else RunFolder(runs.find_run(run))
    run_dir, config = folder.path, folder.config
    family, model, fam = recorded_family(config), config.get("model", "?"), family_of(config)
    why = fam.unexportable(run_dir.name, config) if fam is not None else \
        f"run {run_dir.name} is a {family!r} run: it holds no model to export"
    if why:
        raise NotExportable(why)
    from babycry_core.runs.checkpoint import load

    loaded = load(folder)
    out = Path(out) if out else export_dir_for(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "version": VERSION, "run_id": run_dir.name, "model": model, "family": family,
                "role": _role(config, loaded.labels), "labels": list(loaded.labels),
                "feature_config": loaded.feature_config.to_dict(), "calibration": dict(loaded.calibration),
                "temperature": loaded.temperature, "threshold": loaded.threshold,
                "source_sha256": runs.source_sha256(run_dir)}  # predict's default engine checks it
    if "cry_threshold" in loaded.calibration:
        manifest["cry_threshold"] = float(loaded.calibration["cry_threshold"])
        manifest["top_fraction"] = float(loaded.calibration.get("top_fraction", 1 / 3))
    manifest.update(fam.export(loaded, out))
    manifest["files"] = {rel: fileio.sha256_file(out / rel) for rel in manifest["files"]}
    for rel in _fusion_files(folder):  # a fused detector's YAMNet side and verdict travel as they are (numpy + TFLite)
        fileio.write_bytes(out / rel, folder.file(rel).read_bytes())
        manifest["files"][rel] = fileio.sha256_file(out / rel)
    if folder.has(NAMING):
        fileio.write_bytes(out / NAMING, folder.file(NAMING).read_bytes())
    fileio.write_json(out / MANIFEST, manifest)  # last: a folder without model.json is not an export
    return {**manifest, "out": str(out)}


def _fusion_files(folder: RunFolder) -> list[str]:
    return [f for files in (RunFolder.FUSION_FILES, RunFolder.VERDICT_FILES) if folder.has(files[0]) for f in files]


def _role(config: dict, labels: list[str]) -> str:
    from babycry_core.data.corpora import is_cry

    if config.get("role") == "detector":
        return "detector"
    return "reason" if labels and all(is_cry(c) for c in labels) else ""


def probe_features(cfg, n: int = 4) -> np.ndarray:
    """Log-mel windows (n, 1, n_mels, frames) of generated signals: what the parity check feeds both engines."""
    from babycry_core.audio import synth
    from babycry_core.features.logmel import fix_length, log_mel

    sr, secs = cfg.sample_rate, cfg.clip_seconds
    sigs = [synth.cry_sweep(secs, sr), synth.white_noise(secs, sr, seed=1), synth.sine(secs, sr, 1000.0),
            synth.cry_sweep(secs, sr, 800, 1200, level=0.05, seed=3)][:n]
    return np.stack([log_mel(fix_length(y, cfg.clip_samples), cfg) for y in sigs])[:, None].astype(np.float32)


# ---------------------------------------------------------------- torch networks

def export_torch_net(net, path: Path, example: np.ndarray) -> str:
    """torch.onnx.export with a dynamic batch axis: the dynamo exporter, else the TorchScript one. Returns which."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(example[:2]))
    net = net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prog = torch.onnx.export(net, (x,), dynamo=True, input_names=["log_mel"], output_names=["logits"],
                                     dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
                                     opset_version=OPSET, verbose=False, optimize=True)
            prog.save(str(path))
            return "dynamo"
        except Exception as e:  # an operator the dynamo exporter cannot take: the TorchScript exporter can
            log.warning("dynamo ONNX export failed (%s: %s); using the TorchScript exporter",
                        type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "")
            torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["log_mel"], output_names=["logits"],
                              dynamic_axes={"log_mel": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
            return "torchscript"


def torch_logits(net, X: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return net(torch.from_numpy(np.ascontiguousarray(X, np.float32))).numpy()


def ort_run(path: Path, X: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: np.ascontiguousarray(X, np.float32)})[0]


def _parity(name: str, a: np.ndarray, b: np.ndarray) -> float:
    diff = float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()) if np.size(a) else 0.0
    if not diff <= PARITY_TOL:
        raise RuntimeError(f"the ONNX export of {name} differs from the original by {diff:.2e} (> {PARITY_TOL:g}): "
                           "refusing to write it")
    return diff


def export_torch(loaded, out: Path) -> dict:
    """A torch run's network as model.onnx (the torch family's export)."""
    return _export_net(loaded.model, out / RunFolder.EXPORT_MODEL, probe_features(loaded.feature_config))


def _export_net(net, path: Path, X: np.ndarray) -> dict:
    exporter = export_torch_net(net, path, X)
    diff = _parity(path.name, ort_run(path, X), torch_logits(net, X))
    return {"exporter": exporter, "input": {"name": "log_mel", "shape": ["batch", 1, *X.shape[2:]]},
            "output": {"name": "logits"}, "files": {path.name: ""},
            "parity": {"inputs": "log-mel of generated signals", "n": len(X), "max_abs_diff_logits": diff}}


def export_two_stage(loaded, out: Path) -> dict:
    """A two-stage run's gate and reason networks, one .onnx file each (the two_stage family's export)."""
    model, X = loaded.model, probe_features(loaded.feature_config)
    stages, diffs = {}, {}
    for stage, net, labels, temp in (("gate", model.gate_net, model.gate_labels, model.gate_temperature),
                                     ("reason", model.reason_net, model.reason_labels, model.reason_temperature)):
        path = out / f"{stage}.onnx"
        exporter = export_torch_net(net, path, X)
        diffs[stage] = _parity(path.name, ort_run(path, X), torch_logits(net, X))
        stages[stage] = {"file": path.name, "labels": list(labels), "temperature": float(temp), "exporter": exporter}
    return {"exporter": stages["gate"]["exporter"], "stages": stages,
            "combination": "P(reason r) = P(cry) P(r | cry); laugh / noise / silence from the gate",
            "input": {"name": "log_mel", "shape": ["batch", 1, *X.shape[2:]]}, "output": {"name": "logits"},
            "files": {s["file"]: "" for s in stages.values()},
            "parity": {"inputs": "log-mel of generated signals", "n": len(X),
                       "max_abs_diff_logits": max(diffs.values()), "per_stage": diffs}}


# ---------------------------------------------------------------- classical heads on the handcrafted embedding

def probe_embeddings(cfg) -> np.ndarray:
    from babycry_core.runs import embeddings
    from babycry_core.audio import synth
    from babycry_core.features.logmel import fix_length

    sr, secs = cfg.sample_rate, cfg.clip_seconds
    sigs = [synth.cry_sweep(secs, sr), synth.white_noise(secs, sr, seed=1), synth.sine(secs, sr, 1000.0),
            synth.cry_sweep(secs, sr, 800, 1200, level=0.05, seed=3)]
    return embeddings.embed(embeddings.Source(embeddings.HANDCRAFTED), [fix_length(y, cfg.clip_samples) for y in sigs], cfg)


def export_classical(loaded, out: Path) -> dict:
    """An svm or xgboost head on the handcrafted embedding as model.onnx (the classical family's export)."""
    from babycry_core.runs import embeddings

    model, name, cfg = loaded.model, loaded.config.get("model", "?"), loaded.feature_config
    E = probe_embeddings(cfg)
    d = int(E.shape[1])
    path = out / RunFolder.EXPORT_MODEL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's FutureWarnings about SVC's probA_ while converting
        if name == "svm":
            from skl2onnx import to_onnx
            from skl2onnx.common.data_types import FloatTensorType

            pipe = model.pipeline
            onx = to_onnx(pipe, initial_types=[("embedding", FloatTensorType([None, d]))],
                          options={id(pipe.steps[-1][1] if hasattr(pipe, "steps") else pipe): {"zipmap": False}},
                          target_opset=17)
            converter, scaler = "skl2onnx", None
        else:
            try:
                from onnxmltools.convert import convert_xgboost
                from onnxmltools.convert.common.data_types import FloatTensorType
            except ImportError:
                raise NotExportable("xgboost does not export here: onnxmltools is not installed "
                                    "(pip install onnxmltools)") from None
            booster = model.booster.copy()
            booster.feature_names = None  # the converter reads splits as f<index>
            onx = convert_xgboost(booster, initial_types=[("embedding", FloatTensorType([None, d]))],
                                  target_opset=XGB_OPSET)
            converter = "onnxmltools"
            scaler = {"mean": model.mean.tolist(), "scale": model.scale.tolist()}
    fileio.write_bytes(path, onx.SerializeToString())
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    Z = standardise(E, scaler)
    got = s.run(["probabilities"], {"embedding": Z})[0]
    diff = _parity(path.name, got, model.head_proba(E))
    return {"exporter": converter, "files": {path.name: ""}, "classes": [int(c) for c in model.classes],
            "embedding": {"kind": embeddings.HANDCRAFTED, "version": embeddings.HANDCRAFTED_VERSION, "dim": d,
                          "feature_names": embeddings.handcrafted_names(cfg)},
            "scaler": scaler, "input": {"name": "embedding", "shape": ["batch", d]},
            "output": {"name": "probabilities"},
            "parity": {"inputs": "handcrafted embeddings of generated signals", "n": len(E),
                       "max_abs_diff_probabilities": diff}}


def main(run: str, fmt: str = "onnx", out: str | None = None) -> list[dict]:
    """`export RUN` or `export default` (every run checkpoints/default.json names, each into its own folder)."""
    if run == "default":
        targets = default_runs()
        return [export_run(d, fmt, Path(out) / d.name if out else None) for d in targets]
    return [export_run(run, fmt, out)]

"""YAMNet's weights from Google's TFLite file (../shared/data/yamnet/yamnet.tflite) into the torch YamnetNet.

The interpreter (ai_edge_litert, imported lazily) reads every constant tensor with get_tensor(), int8 ones included,
so no flatbuffer parsing is needed. Weights are found by name ("yamnet_frames/layerN/{conv,depthwise_conv,
pointwise_conv}/...", "dense/...", the front end's "tf_op_layer_MatMul{,_1,_2}"), checked against the expected
shapes, dequantised ((q - zero_point) * scale, per output channel) and transposed to torch layouts.
The interpreter itself (`TfliteYamnet`, no torch) is in yamnet_litert.py.
"""
from __future__ import annotations

import re

import numpy as np
import torch

from babycry_core.features.yamnet_net import YamnetNet

from babycry_core.features.yamnet_litert import _interpreter
_LAYER = re.compile(r"yamnet_frames/layer(\d+)/(conv|depthwise_conv|pointwise_conv)/")


def _dequantised(it, d: dict) -> np.ndarray:
    """The tensor as float32; int8 weights -> (q - zero_point) * scale along quantized_dimension."""
    w = it.get_tensor(d["index"])
    q = d["quantization_parameters"]
    if w.dtype == np.float32 or len(q["scales"]) == 0:
        return w.astype(np.float32)
    shape = [1] * w.ndim
    shape[q["quantized_dimension"]] = -1
    scale, zp = q["scales"].reshape(shape), q["zero_points"].reshape(shape)
    return ((w.astype(np.float64) - zp) * scale).astype(np.float32)


def _torch_key(name: str, ndim: int) -> str | None:
    """The YamnetNet state_dict key a TFLite constant tensor feeds, or None.

    The first "layerN/kind" in a (fused) name is the layer; 4-d tensors are weights, 1-d the folded-BN biases.
    """
    if name.endswith("_dequantize"):  # DEQUANTIZE outputs (activations), not the stored constants
        return None
    if name == "yamnet_frames/dense/MatMul":
        return "classifier.weight"
    if name.startswith("yamnet_frames/dense/BiasAdd"):
        return "classifier.bias"
    for op, key in (("MatMul", "dft_real"), ("MatMul_1", "dft_imag"), ("MatMul_2", "mel")):
        if name == f"yamnet_frames/tf_op_layer_{op}/{op}" and ndim == 2:
            return f"frontend.{key}"
    m = _LAYER.match(name)
    if m is None or ndim not in (1, 4):
        return None
    sub = {"conv": "conv", "depthwise_conv": "depthwise", "pointwise_conv": "pointwise"}[m[2]]
    return f"layers.{int(m[1]) - 1}.{sub}.{'weight' if ndim == 4 else 'bias'}"


def read_tflite_weights(path) -> dict[str, torch.Tensor]:
    """A full YamnetNet state_dict from the TFLite file, int8 weights dequantised, layouts converted.

    TFLite conv weights are OHWI -> torch OIHW; depthwise 1HWC -> torch (C, 1, H, W); FC (out, in) stays for
    nn.Linear; the front-end DFT/mel FC weights (out, in) -> (in, out) for `frames @ matrix`.
    Raises ValueError when a tensor is missing or has another shape than YamnetNet expects.
    """
    it = _interpreter(path)
    found: dict[str, torch.Tensor] = {}
    for d in it.get_tensor_details():
        key = _torch_key(d["name"], len(d["shape"]))
        if key is None or key in found:
            continue
        w = _dequantised(it, d)
        if key.startswith("frontend."):
            w = w.T  # (out, in) -> (in, out)
            scales = d["quantization_parameters"]["scales"].astype(np.float32)  # per column; none: float weights
            found[f"{key}_scale"] = torch.from_numpy(scales) if len(scales) else torch.zeros(w.shape[1])
        elif w.ndim == 4 and ".depthwise." in key:
            w = w.transpose(3, 0, 1, 2)  # (1, H, W, C) -> (C, 1, H, W)
        elif w.ndim == 4:
            w = w.transpose(0, 3, 1, 2)  # (O, H, W, I) -> (O, I, H, W)
        found[key] = torch.from_numpy(np.ascontiguousarray(w))
    expected = YamnetNet().state_dict()
    missing = [k for k in expected if k not in found and k != "frontend.window"]
    if missing:
        raise ValueError(f"{path}: no YAMNet tensor for {missing}")
    bad = {k: (tuple(found[k].shape), tuple(expected[k].shape)) for k in found
           if tuple(found[k].shape) != tuple(expected[k].shape)}
    if bad:
        raise ValueError(f"{path}: unexpected tensor shapes (file, expected): {bad}")
    found["frontend.window"] = expected["frontend.window"]  # the file's window is the same periodic Hann
    return found


def load_yamnet_from_tflite(path, act_quant: str | None = "xnnpack") -> YamnetNet:
    """YamnetNet with the file's weights, in eval mode.

    act_quant="xnnpack" (default) rounds the int8-weight layers' inputs as the default TFLite interpreter does,
    so the scores are the file's (within ~0.035). None keeps float activations, the original YAMNet's arithmetic:
    its front end then differs from the file's by up to ~6 in log-mel (the file's int8-rounded 512-sample frames
    leave a noise floor in quiet bands), and the scores by 0.1 (median window) to 0.9.
    """
    net = YamnetNet(act_quant=act_quant)
    net.load_state_dict(read_tflite_weights(path))
    return net.eval()

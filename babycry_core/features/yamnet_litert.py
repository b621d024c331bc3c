"""Google's YAMNet TFLite file under ai-edge-litert's interpreter: no torch, no TensorFlow. What the AudioSet view,
the frozen embeddings and the fused cry detector run (features/yamnet.py loads it); the torch port that reads the same
file's weights is yamnet_tflite.py + yamnet_net.py.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from babycry_core.features.yamnet_errors import EMBED_DIM, N_MELS, PATCH_FRAMES, PATCH_HOP_SAMPLES, PATCH_SAMPLES

EMBEDDING_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"
LAYER13_TENSOR = "yamnet_frames/layer13/pointwise_conv/relu/Relu"  # (1, 3, 2, 1024): the input of layer 14


def _interpreter(path, preserve_all: bool = False, xnnpack: bool = True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with warnings.catch_warnings():  # preserve_all: "for debugging only" (memory), which is what it is for here
        warnings.simplefilter("ignore", UserWarning)
        it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=preserve_all,
                         experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    return it


class TfliteYamnet:
    """The TFLite file itself, one 0.975 s window per call, all tensors kept (for the embedding): what the AudioSet
    view and the frozen embeddings run (about 0.8 ms a window on one core, deterministic); the torch port is for
    fine-tuning and ONNX.

    xnnpack=True is the interpreter's default (XNNPACK delegate); False the builtin reference kernels, which
    round activations differently (YamnetNet act_quant "xnnpack" vs "builtin").
    """

    def __init__(self, path, xnnpack: bool = True):
        import threading

        self.lock = threading.Lock()  # one interpreter: the app's sessions and the API's workers take turns
        self.path = Path(path)
        self.it = _interpreter(self.path, preserve_all=True, xnnpack=xnnpack)
        self._in = self.it.get_input_details()[0]["index"]
        out = {d["name"]: d["index"] for d in self.it.get_output_details()}
        self._scores, self._patch = out["Identity"], out["Identity_1"]
        self._emb = next(d["index"] for d in self.it.get_tensor_details() if d["name"] == EMBEDDING_TENSOR)

    def run(self, wave) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """15600 samples of 16 kHz audio -> scores (521,), embedding (1024,), log-mel patch (96, 64). Safe from
        several threads (the fused detector's windows in the app's sessions and the API's workers)."""
        with self.lock:
            return self._run(wave)

    def _run(self, wave) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """run() for a caller that holds self.lock: the interpreter's tensors are shared."""
        x = np.asarray(wave, dtype=np.float32).reshape(1, -1)
        if x.shape[1] != PATCH_SAMPLES:
            raise ValueError(f"TFLite YAMNet takes exactly {PATCH_SAMPLES} samples, got {x.shape[1]}")
        self.it.set_tensor(self._in, x)
        self.it.invoke()
        scores = self.it.get_tensor(self._scores)[0].copy()
        emb = self.it.get_tensor(self._emb).reshape(EMBED_DIM).copy()
        patch = self.it.get_tensor(self._patch).reshape(PATCH_FRAMES, N_MELS).copy()
        return scores, emb, patch

    def layer13(self, wave) -> np.ndarray:
        """(1024, 3, 2): layer 13's output for one patch (what fine-tuning the top layer starts from)."""
        if not hasattr(self, "_l13"):
            self._l13 = next(d["index"] for d in self.it.get_tensor_details() if d["name"].startswith(LAYER13_TENSOR))
        with self.lock:
            self._run(wave)
            return self.it.get_tensor(self._l13)[0].transpose(2, 0, 1).copy()

    def run_waveform(self, wave) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """16 kHz audio of any length, padded as YAMNet pads it -> scores (windows, 521), embeddings (windows, 1024),
        log-mel (windows * 96, 64): one 0.975 s window every 0.48 s."""
        w = np.asarray(wave, dtype=np.float32).reshape(-1)
        target = PATCH_SAMPLES + -(-max(0, len(w) - PATCH_SAMPLES) // PATCH_HOP_SAMPLES) * PATCH_HOP_SAMPLES
        w = np.pad(w, (0, target - len(w)))
        with self.lock:
            out = [self._run(w[s : s + PATCH_SAMPLES]) for s in range(0, target - PATCH_SAMPLES + 1, PATCH_HOP_SAMPLES)]
        scores, emb, patches = (np.stack(x) for x in zip(*out))
        return scores, emb, patches.reshape(-1, N_MELS)

"""YAMNet (Google, AudioSet, 521 classes) as a plain PyTorch module, so it runs and fine-tunes without TensorFlow.

Mirrors tensorflow/models research/audioset/yamnet (params.py, features.py, yamnet.py) as exported to the TFLite
file in ../shared/data/yamnet/ (weights read by yamnet_tflite.py). What that file holds, and so what is built here:
- the front end is matmuls: frame 400 (25 ms) / hop 160, periodic Hann, each frame zero-padded to 512 *centred*
  (56 + 400 + 56, yamnet's features.py `_tflite_stft_magnitude`), real and imaginary DFT matrices, magnitude,
  a 64-band HTK mel matrix (125-7500 Hz, as tf.signal.linear_to_mel_weight_matrix), log(mel + 0.001),
  96-frame patches every 48;
- batch norm is folded into each conv, so every conv has a bias and there is no BatchNorm module;
- the DFT, mel, pointwise-conv and dense weights are int8 there; loading them gives their dequantised values.
`act_quant` optionally reproduces how the TFLite kernels also round the *inputs* of those int8-weight layers to int8
on the fly ("xnnpack": per-row asymmetric, the default interpreter; "builtin": symmetric, the reference kernels),
for parity with the file; None (the module default) keeps float activations, as the original float YAMNet.
The loader (yamnet_tflite.load_yamnet_from_tflite) defaults to "xnnpack", to give the file's scores.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from babycry_core.features.mel_scale import hz_to_mel, mel_edges
from babycry_core.features.yamnet_errors import (  # noqa: F401  (the sizes, read from here by the torch side)
    EMBED_DIM, FFT, HOP, N_MELS, PATCH_FRAMES, PATCH_HOP_FRAMES, PATCH_HOP_SAMPLES, PATCH_SAMPLES, SAMPLE_RATE, WINDOW)

N_BINS = FFT // 2 + 1
MEL_MIN_HZ, MEL_MAX_HZ, LOG_OFFSET = 125.0, 7500.0, 0.001
N_CLASSES = 521
# yamnet.py _YAMNET_LAYER_DEFS: (kind, stride, output channels); all kernels 3x3
LAYER_DEFS = [("conv", 2, 32), ("sep", 1, 64), ("sep", 2, 128), ("sep", 1, 128), ("sep", 2, 256), ("sep", 1, 256),
              ("sep", 2, 512)] + [("sep", 1, 512)] * 5 + [("sep", 2, 1024), ("sep", 1, 1024)]
ACT_QUANT_MODES = (None, "xnnpack", "builtin")


def quantise_int8(x: torch.Tensor, mode: str, dims: tuple[int, ...] = (-1,)) -> tuple[torch.Tensor, torch.Tensor]:
    """x as TFLite's dynamic-range kernels quantise a layer's input: integers (q - zero point) and the scale,
    one per slice over `dims`, so that x ~ ints * scale. Float roundings follow each kernel's source.

    "xnnpack" (xnn_f32_qd8_asymmetric_quantization_params + f32-qs8-vcvt): [min(x,0), max(x,0)] onto -128..127
    with a zero point, round half to even. "builtin" (SymmetricQuantizeFloats): max|x| onto 127, half away from 0.
    """
    if mode == "xnnpack":
        lo = x.amin(dim=dims, keepdim=True).clamp(max=0)
        hi = x.amax(dim=dims, keepdim=True).clamp(min=0)
        # multiplier = 1 / scale; a tensor numerator, as `255.0 / t` is 255 * (1 / t) in torch, rounded twice
        m = torch.where(hi > lo, torch.full_like(hi, 255.0) / (hi - lo), torch.ones_like(hi))
        zp = torch.where((lo * m - 128.0) + (hi * m + 127.0) > 0, -128.0 - lo * m, 127.0 - hi * m)
        zp = torch.round(zp.clamp(-128, 127))
        return torch.clamp(torch.round(x * m) + zp, -128, 127) - zp, 1.0 / m
    if mode == "builtin":
        r = x.abs().amax(dim=dims, keepdim=True)
        r = torch.where(r > 0, r, torch.full_like(r, 127.0))
        y = x * (torch.full_like(r, 127.0) / r)
        return torch.clamp(torch.sign(y) * torch.floor(y.abs() + 0.5), -127, 127), r / 127.0
    raise ValueError(f"act_quant must be one of {ACT_QUANT_MODES}, not {mode!r}")


def fake_quant_int8(x: torch.Tensor, mode: str | None, dims: tuple[int, ...] = (-1,)) -> torch.Tensor:
    """x rounded to int8 and back as `quantise_int8` does (None: x unchanged); gradients pass straight through."""
    if mode is None:
        return x
    q, scale = quantise_int8(x, mode, dims)
    return x + (q * scale - x).detach()


def int8_linear(x: torch.Tensor, weight: torch.Tensor, w_scale: torch.Tensor, mode: str | None,
                bias: float = 0.0) -> torch.Tensor:
    """x (..., in) @ weight (in, out) + bias, as TFLite's FULLY_CONNECTED with int8 weights runs it.

    `weight` holds dequantised values, `w_scale` (out,) their per-column int8 scales (zeros: float weights).
    With a mode and int8 weights the sums are exact integers, then scaled in the kernel's float order, which
    makes the front end agree with the file to float rounding; gradients follow the float product.
    """
    y = fake_quant_int8(x, mode) @ weight + bias
    if mode is None or not bool((w_scale > 0).all()):
        return y
    q, s_in = quantise_int8(x, mode)
    acc = (q.double() @ torch.round(weight / w_scale).double()).float()  # exact int32 sums
    if mode == "xnnpack":  # qd8-f32-qc8w gemm: fma(acc * input_scale, filter_scale, bias)
        out = ((acc * s_in).double() * w_scale.double() + float(np.float32(bias))).float()
    else:  # reference hybrid kernel: bias + acc * input_scale * filter_scale
        out = (acc * s_in) * w_scale + bias
    return y + (out - y).detach()


def mel_matrix(n_mels: int = N_MELS, n_bins: int = N_BINS, sample_rate: int = SAMPLE_RATE,
               lo_hz: float = MEL_MIN_HZ, hi_hz: float = MEL_MAX_HZ) -> np.ndarray:
    """(n_bins, n_mels) HTK-mel triangles, DC bin zeroed: tf.signal.linear_to_mel_weight_matrix /
    vggish mel_features.spectrogram_to_mel_matrix."""
    bins_mel = hz_to_mel(np.linspace(0.0, sample_rate / 2, n_bins)[1:])[:, None]  # (n_bins-1, 1)
    edges = mel_edges(n_mels, lo_hz, hi_hz)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(0.0, np.minimum((bins_mel - lower) / (centre - lower), (upper - bins_mel) / (upper - centre)))
    return np.concatenate([np.zeros((1, n_mels)), w]).astype(np.float32)


def pad_waveform(wave: torch.Tensor) -> torch.Tensor:
    """Zero-pad (batch, samples) at the end to >= one patch and a whole number of patch hops (as yamnet's
    features.py `pad_waveform`)."""
    n = wave.shape[-1]
    extra = max(0, n - PATCH_SAMPLES)
    target = PATCH_SAMPLES + math.ceil(extra / PATCH_HOP_SAMPLES) * PATCH_HOP_SAMPLES
    return F.pad(wave, (0, target - n))


class YamnetFrontEnd(nn.Module):
    """16 kHz waveform (batch, samples) -> log-mel patches (batch, patches, 96, 64), as the TFLite graph does it.

    The DFT and mel matrices are buffers: exact by default, the file's dequantised int8 values (and their
    per-column scales, `*_scale`) once loaded.
    """

    def __init__(self, act_quant: str | None = None):
        super().__init__()
        self.act_quant = act_quant
        n = np.arange(FFT)
        ang = 2 * np.pi * np.outer(n, np.arange(N_BINS)) / FFT  # (512, 257)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic Hann
        self.register_buffer("window", torch.tensor(window, dtype=torch.float32))
        self.register_buffer("dft_real", torch.tensor(np.cos(ang), dtype=torch.float32))
        self.register_buffer("dft_imag", torch.tensor(np.sin(ang), dtype=torch.float32))  # sign: magnitude only
        self.register_buffer("mel", torch.from_numpy(mel_matrix()))  # (257, 64)
        for name, n_out in (("dft_real", N_BINS), ("dft_imag", N_BINS), ("mel", N_MELS)):  # zeros: float weights
            self.register_buffer(f"{name}_scale", torch.zeros(n_out))

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, 64) with frames = 1 + (samples - 400) // 160 (no padding)."""
        frames = wave.unfold(-1, WINDOW, HOP) * self.window  # (batch, frames, 400)
        half = (FFT - WINDOW) // 2
        frames = F.pad(frames, (half, FFT - WINDOW - half))  # (batch, frames, 512)
        re = int8_linear(frames, self.dft_real, self.dft_real_scale, self.act_quant)  # (batch, frames, 257)
        im = int8_linear(frames, self.dft_imag, self.dft_imag_scale, self.act_quant)
        mag = torch.sqrt(re * re + im * im)  # (batch, frames, 257)
        return torch.log(int8_linear(mag, self.mel, self.mel_scale, self.act_quant, LOG_OFFSET))  # (batch, frames, 64)

    def forward(self, wave: torch.Tensor, pad: bool = True) -> torch.Tensor:
        """(batch, samples) -> (batch, patches, 96, 64); pad=True pads the end like YAMNet (one patch per 0.48 s)."""
        if pad:
            wave = pad_waveform(wave)
        return self.log_mel(wave).unfold(1, PATCH_FRAMES, PATCH_HOP_FRAMES).transpose(-1, -2)


def _pad_same(x: torch.Tensor, k: int, stride: int) -> torch.Tensor:
    """TF 'SAME' padding for (batch, C, H, W): total = max((ceil(n/s)-1)*s + k - n, 0), the odd pixel after."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad order: W then H
        total = max((math.ceil(n / stride) - 1) * stride + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _Conv(nn.Module):
    """Layer 1: 3x3 conv (BN folded into the bias) + ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(cin, cout, 3, stride, bias=True)

    def forward(self, x: torch.Tensor, act_quant: str | None = None) -> torch.Tensor:
        return F.relu(self.conv(_pad_same(x, 3, self.stride)))


class _SeparableConv(nn.Module):
    """3x3 depthwise conv + ReLU, then 1x1 pointwise conv + ReLU (BN folded into both biases)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, groups=cin, bias=True)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=True)

    def forward(self, x: torch.Tensor, act_quant: str | None = None) -> torch.Tensor:
        x = F.relu(self.depthwise(_pad_same(x, 3, self.stride)))
        # int8 pointwise weights: XNNPACK quantises each pixel's channels, the builtin kernel each whole image
        return F.relu(self.pointwise(fake_quant_int8(x, act_quant, (1,) if act_quant == "xnnpack" else (1, 2, 3))))


def build_layers() -> nn.ModuleList:
    """YAMNet's 14 conv layers (LAYER_DEFS): (batch, 1, 96, 64) -> (batch, 1024, 3, 2)."""
    layers, cin = [], 1
    for kind, stride, cout in LAYER_DEFS:
        layers.append((_Conv if kind == "conv" else _SeparableConv)(cin, cout, stride))
        cin = cout
    return nn.ModuleList(layers)


def embed_patches(layers: nn.ModuleList, patches: torch.Tensor, act_quant: str | None = None) -> torch.Tensor:
    """(batch, 96, 64) log-mel patches -> (batch, 1024) embeddings (global average pool, >= 0)."""
    x = patches.unsqueeze(1)  # (batch, 1, 96, 64)
    for layer in layers:
        x = layer(x, act_quant)  # ... -> (batch, 1024, 3, 2)
    return x.mean(dim=(2, 3))  # (batch, 1024)


class YamnetNet(nn.Module):
    """YAMNet's MobileNet-v1 body: patches (batch, 96, 64) -> 521 AudioSet logits (`embed` gives the 1024-d).

    Contains the front end too (`frontend`), so one state_dict holds all the file's weights and
    `forward_waveform` goes from 16 kHz audio to scores like TF Hub's YAMNet.
    """

    def __init__(self, n_classes: int = N_CLASSES, act_quant: str | None = None):
        super().__init__()
        self.frontend = YamnetFrontEnd()
        self.layers = build_layers()
        self.classifier = nn.Linear(EMBED_DIM, n_classes)
        self.act_quant = act_quant

    @property
    def act_quant(self) -> str | None:
        return self._act_quant

    @act_quant.setter
    def act_quant(self, mode: str | None) -> None:
        if mode not in ACT_QUANT_MODES:
            raise ValueError(f"act_quant must be one of {ACT_QUANT_MODES}, not {mode!r}")
        self._act_quant = self.frontend.act_quant = mode

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, 96, 64) log-mel patches -> (batch, 1024) embeddings (global average pool, >= 0)."""
        return embed_patches(self.layers, patches, self._act_quant)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, 96, 64) -> (batch, 521) logits; sigmoid gives YAMNet's scores (independent, not a softmax)."""
        return self.classifier(fake_quant_int8(self.embed(patches), self._act_quant))

    def scores(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, 96, 64) -> (batch, 521) sigmoid scores."""
        return torch.sigmoid(self(patches))

    def forward_waveform(self, wave: torch.Tensor, pad: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """16 kHz (batch, samples) or (samples,) in [-1, 1] -> scores (batch, patches, 521), embeddings
        (batch, patches, 1024); one patch per 0.48 s (pad=True pads the end as YAMNet does)."""
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)  # (1, samples)
        patches = self.frontend(wave, pad=pad)  # (batch, patches, 96, 64)
        b, p = patches.shape[:2]
        emb = self.embed(patches.reshape(b * p, PATCH_FRAMES, N_MELS))  # (batch*patches, 1024)
        scores = torch.sigmoid(self.classifier(fake_quant_int8(emb, self._act_quant)))
        return scores.reshape(b, p, -1), emb.reshape(b, p, -1)

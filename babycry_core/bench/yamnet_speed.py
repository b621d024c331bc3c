"""`bench speed`'s YAMNet rows: one 7 s clip through YAMNet, per engine, on one thread, in a fresh process.

Anchor: the TFLite interpreter (ai-edge-litert with XNNPACK, Google's file as it is), timed in the same process.
Rows: that interpreter; the torch port as the AudioSet scorer and frozen embedder run it (the file's int8 input
rounding reproduced); the torch port in plain float; yamnet_ft's network (front end + body + head) in torch and
its ONNX export under onnxruntime. Per clip: median (min-max) ms; per hour of audio: seconds; real-time factor.
"""
from __future__ import annotations

import resource
import tempfile
from pathlib import Path

import numpy as np

from babycry_core.bench.timing import timeit_ms

CLIP_S = 7.0


def _time(fn, repeats: int) -> dict:
    """timeit_ms, plus seconds per hour of audio and the real-time factor of a CLIP_S clip."""
    t = timeit_ms(fn, repeats)
    return {**t, "per_hour_s": t["median_ms"] / 1000 * 3600 / CLIP_S, "realtime_x": CLIP_S * 1000 / t["median_ms"]}


def yamnet_rows(repeats: int = 10) -> list[dict]:
    """The rows above (raises YamnetUnavailable without the TFLite file). Call in a fresh process for its RSS."""
    import torch

    from babycry_core.audio import synth
    from babycry_core.features.logmel import log_mel
    from babycry_core.features.yamnet import YamnetUnavailable, is_tflite, resolve_handle, to_16k, torch_yamnet
    from babycry_core.features.yamnet_net import PATCH_HOP_SAMPLES, PATCH_SAMPLES, pad_waveform
    from babycry_core.features.yamnet_litert import TfliteYamnet
    from babycry_core.models import build_model
    from babycry_core.models.yamnet_transfer import YAMNET_FEATURES

    h = resolve_handle()
    if not is_tflite(h):
        raise YamnetUnavailable(f"bench speed's YAMNet rows need the TFLite file, not {h}")
    torch.set_num_threads(1)
    y8 = synth.cry_sweep(CLIP_S, 8000)
    w16 = pad_waveform(torch.from_numpy(to_16k(y8, 8000))[None])[0].numpy()  # (samples,) as YAMNet pads
    starts = range(0, len(w16) - PATCH_SAMPLES + 1, PATCH_HOP_SAMPLES)
    interp = TfliteYamnet(h)
    net = torch_yamnet(h)
    rows = [{"engine": "TFLite interpreter (ai-edge-litert, XNNPACK; the AudioSet view and frozen embeddings): anchor",
             **_time(lambda: [interp.run(w16[s : s + PATCH_SAMPLES]) for s in starts], repeats)}]

    def torch_scores():
        with torch.inference_mode():
            net.forward_waveform(torch.from_numpy(to_16k(y8, 8000)))

    rows.append({"engine": "torch port, the file's int8 rounding",
                 **_time(torch_scores, repeats)})
    net.act_quant = None
    rows.append({"engine": "torch port, float", **_time(torch_scores, repeats)})
    net.act_quant = "xnnpack"
    ft = build_model("yamnet_ft", 5, pretrained=True).eval()
    X = log_mel(y8, YAMNET_FEATURES)[None, None]  # (1, 1, 64, frames)

    def ft_torch():
        with torch.inference_mode():
            ft(torch.from_numpy(log_mel(y8, YAMNET_FEATURES)[None, None]))

    rows.append({"engine": "yamnet_ft, torch (front end + body + head)", **_time(ft_torch, repeats)})
    from babycry_core.runs.export import export_torch_net

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "yamnet_ft.onnx"
        export_torch_net(ft, path, X.astype(np.float32))
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        rows.append({"engine": "yamnet_ft, ONNX (onnxruntime; front end in torch)",
                     **_time(lambda: sess.run(None, {name: log_mel(y8, YAMNET_FEATURES)[None, None]}), repeats)})
        rows.append({"engine": "yamnet_ft, ONNX network only (log-mel given)",
                     **_time(lambda: sess.run(None, {name: X}), repeats)})
    rows.append({"engine": "YAMNet front end alone (torch, the file's DFT and mel)",
                 **_time(lambda: log_mel(y8, YAMNET_FEATURES), repeats)})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for r in rows:
        r["ratio_to_anchor"] = r["median_ms"] / rows[0]["median_ms"]
        r["peak_rss_mb_process"] = peak
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["| YAMNet engine (1 thread) | ms per 7 s clip, median (min-max) | s per hour of audio | x real time | "
             "x the anchor |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['median_ms']:.1f} ({r['min_ms']:.1f}-{r['max_ms']:.1f}) | "
                     f"{r['per_hour_s']:.1f} | {r['realtime_x']:.0f} | {r['ratio_to_anchor']:.1f}x |")
    lines.append(f"\npeak RSS of that process: {rows[0]['peak_rss_mb_process']:.0f} MB")
    return "\n".join(lines)

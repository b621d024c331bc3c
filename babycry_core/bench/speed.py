"""`bench speed`: per-clip latency, throughput, training epoch time and memory of the torch models, and YAMNet's.

Speed is measured here, never in timed tests. Figures are medians (min-max) over repeats on a 7 s clip.
"""
from __future__ import annotations

import resource
import time

from babycry_core import fileio, paths
from babycry_core.bench.timing import timeit_ms


def speed(models: list[str] | None = None, repeats: int = 20, train_epoch: bool = True) -> list[dict]:
    """Per torch model, each in a fresh process (so peak RSS is that model's own): decode, log-mel and forward
    latency for one 7 s clip at batch 1 with 1 thread and all threads, batch throughput, one training epoch."""
    import multiprocessing

    from babycry_core.models import get_spec, model_names
    from babycry_core.runs.family import family

    rows = []
    for name in models or model_names("torch"):
        if not family(get_spec(name).family).takes_log_mel_parts:
            print(f"{name}: skipped (speed covers the log-mel torch models)")
            continue
        with multiprocessing.get_context("spawn").Pool(1) as pool:  # fresh interpreter: its own ru_maxrss
            rows.append(pool.apply(_speed_one, (name, repeats, train_epoch)))
    return rows


def _yamnet_speed(repeats: int) -> None:
    """YAMNet per engine in a fresh process (bench/yamnet_speed.py); one line when its weights are not here."""
    import multiprocessing

    from babycry_core.bench.yamnet_speed import format_rows, yamnet_rows
    from babycry_core.features.yamnet import YamnetUnavailable

    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            rows = pool.apply(yamnet_rows, (max(3, repeats // 2),))
    except YamnetUnavailable as e:
        print(f"yamnet: skipped ({e})")
        return
    print(format_rows(rows))
    fileio.write_json(paths.results_dir() / "bench_speed_yamnet.json", rows)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _speed_one(name: str, repeats: int, train_epoch: bool) -> dict:
    import torch
    from threadpoolctl import threadpool_limits

    from babycry_core.audio import decode as audio
    from babycry_core.audio import synth
    from babycry_core.features.config import FeatureConfig
    from babycry_core.features.logmel import fix_length, log_mel
    from babycry_core.models import build_model, get_spec

    cfg = FeatureConfig.from_dict(get_spec(name).params.get("features") or {})  # yamnet_ft: YAMNet's front end
    wav = synth.to_wav_bytes(synth.cry_sweep(7.0, 8000), 8000)
    all_threads = torch.get_num_threads()
    rss_start = _rss_mb()  # interpreter + torch, before the model
    model = build_model(name, 5).eval()
    row = {"model": name, "params": int(sum(p.numel() for p in model.parameters())), "rss_before_model_mb": rss_start}
    for threads in sorted({1, all_threads}):
        torch.set_num_threads(threads)
        # numpy's BLAS on one thread, as in serving (inference._one_blas_thread): with both pools at 2 threads
        # on 2 cores they fight, and end-to-end latency is 2-3x worse than either part alone
        with threadpool_limits(limits=1, user_api="blas"):
            y = audio.load(wav, cfg.sample_rate)
            x = torch.from_numpy(log_mel(fix_length(y, cfg.clip_samples), cfg)[None, None])  # (1, 1, n_mels, frames)

            def forward():
                with torch.inference_mode():
                    model(x)

            def full():
                yy = audio.load(wav, cfg.sample_rate)
                xx = torch.from_numpy(log_mel(fix_length(yy, cfg.clip_samples), cfg)[None, None])
                with torch.inference_mode():
                    model(xx)

            row[f"t{threads}"] = {
                "decode": timeit_ms(lambda: audio.load(wav, cfg.sample_rate), repeats),
                "log_mel": timeit_ms(lambda: log_mel(fix_length(y, cfg.clip_samples), cfg), repeats),
                "forward": timeit_ms(forward, repeats),
                "end_to_end": timeit_ms(full, repeats),
            }
    torch.set_num_threads(all_threads)
    row["threads_all"] = all_threads
    xb = torch.randn(16, 1, cfg.n_mels, cfg.n_frames)

    def batch():
        with torch.inference_mode():
            model(xb)

    b = timeit_ms(batch, max(3, repeats // 4))
    row["batch16_clips_per_s"] = 16000 / b["median_ms"]
    if train_epoch:
        row["train_epoch_s"] = _train_epoch_seconds(name)
    row["peak_rss_mb"] = _rss_mb()
    return row


def _train_epoch_seconds(name: str, n_clips: int = 457, batch_size: int = 32) -> float:
    """Seconds for one epoch over n_clips cached log-mel clips (forward + backward + AdamW)."""
    import torch
    import torch.nn.functional as F

    from babycry_core.features.config import FeatureConfig
    from babycry_core.models import build_model, get_spec

    cfg = FeatureConfig.from_dict(get_spec(name).params.get("features") or {})
    model = build_model(name, 5).train()
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    X = torch.randn(n_clips, 1, cfg.n_mels, cfg.n_frames)
    y = torch.randint(0, 5, (n_clips,))
    t = time.perf_counter()
    for i in range(0, n_clips, batch_size):
        loss = F.cross_entropy(model(X[i : i + batch_size]), y[i : i + batch_size])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def format_speed(rows: list[dict]) -> str:
    def cell(d):
        return f"{d['median_ms']:.1f} ({d['min_ms']:.1f}-{d['max_ms']:.1f})"

    lines = ["| model | params | threads | decode ms | log-mel ms | forward ms | end-to-end ms | batch clips/s | train epoch s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # ms: median (min-max) per 7 s clip, batch 1
    for r in rows:
        for key in sorted(k for k in r if k.startswith("t") and k[1:].isdigit()):
            t = r[key]
            lines.append(f"| {r['model']} | {r['params'] / 1e6:.2f} M | {key[1:]} | {cell(t['decode'])} | {cell(t['log_mel'])} | "
                         f"{cell(t['forward'])} | {cell(t['end_to_end'])} | {r['batch16_clips_per_s']:.0f} | "
                         f"{r.get('train_epoch_s', float('nan')):.1f} | {r['peak_rss_mb']:.0f} |")
    base = next((r for r in rows if r["model"] == "cnn"), None)
    if base:
        lines.append("")
        lines.append("end-to-end latency ratio to cnn (1 thread): " + ", ".join(
            f"{r['model']} {r['t1']['end_to_end']['median_ms'] / base['t1']['end_to_end']['median_ms']:.1f}x" for r in rows))
    if any(r.get("threads_all", 1) > 1 for r in rows):
        def e2e(r, t):
            return r[f"t{t}"]["end_to_end"]["median_ms"]

        lines.append("end-to-end speed-up with all threads over 1 thread: " + ", ".join(
            f"{r['model']} {e2e(r, 1) / e2e(r, r['threads_all']):.1f}x" for r in rows if "threads_all" in r))
    return "\n".join(lines)


def main(a) -> int:
    """`bench speed`: the torch models (or `--models`), then YAMNet per engine unless --models leaves it out."""
    torch_models = None if not a.models else [m for m in a.models if m != "yamnet"]  # None: every torch model
    rows = speed(torch_models, a.repeats) if torch_models != [] else []
    if rows:
        print(format_speed(rows))
        fileio.write_json(a.out or paths.results_dir() / "bench_speed.json", rows)
    if not a.models or "yamnet" in a.models:
        _yamnet_speed(a.repeats)
    return 0

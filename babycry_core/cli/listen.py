"""`python -m babycry_core listen`: crying episodes live from the default input device, in the terminal.

The microphone goes through `sounddevice` (PortAudio), an optional extra: `pip install -r requirements-listen.txt`
(on Linux PortAudio itself too: `apt-get install libportaudio2`). Without it, or without an input device, the
command says so in one line and exits 1. Audio is resampled to the detector's rate (soxr, streaming) and fed
to an `episodes.EpisodeEngine` one window at a time (a 2 s window every 0.5 s), so an alert is raised by the
same rule as `detect` (3 s of crying within 5 s by default) and a spell gives one alert. Nothing is written to
disk; Ctrl-C (or --minutes) stops and prints the episodes with their reasons.
"""
from __future__ import annotations

import queue
import sys

import numpy as np

HINT = "pip install -r requirements-listen.txt"


class ListenUnavailable(RuntimeError):
    pass


def sounddevice_module():
    """The sounddevice module, or ListenUnavailable with the fix in one line."""
    try:
        import sounddevice as sd
    except ImportError:
        raise ListenUnavailable(f"listen needs the optional sounddevice package, which is not installed: {HINT}") from None
    except OSError as e:  # the package is there, PortAudio is not
        raise ListenUnavailable(f"listen needs the PortAudio library ({e}); on Debian/Ubuntu: apt-get install "
                                "libportaudio2") from None
    return sd


def input_device(sd, device=None) -> dict:
    """The input device's info (name, default_samplerate), or ListenUnavailable when there is none."""
    try:
        info = sd.query_devices(device, kind="input")
    except Exception as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise ListenUnavailable(f"no audio input device{f' {device!r}' if device is not None else ''} ({msg})") from None
    if not info or int(info.get("max_input_channels", 1)) < 1:
        raise ListenUnavailable("no audio input device (the default device has no input channels)")
    return dict(info)


def listen(device=None, run=None, minutes: float | None = None, out=None, sd=None) -> int:
    """Listen until Ctrl-C or `minutes`; print alerts as they come and the episodes at the end. Exit status."""
    out = out or sys.stdout
    try:
        sd = sd or sounddevice_module()
        info = input_device(sd, device)
    except ListenUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    from babycry_core.app.answer import answerer, clock, episode_engine, stream_resampler

    predictor = answerer(run, "torch")
    if not hasattr(predictor, "detector"):
        print(f"error: listen needs a cry detector; {predictor.run_id} is not one", file=sys.stderr)
        return 1
    sr = predictor.detector.cfg.sample_rate
    rate = int(info.get("default_samplerate") or sr)
    engine = episode_engine(predictor, batch_windows=1)
    rs = stream_resampler(sr)  # passes the blocks through when the device runs at the detector's rate
    blocks: queue.Queue = queue.Queue()
    tty = getattr(out, "isatty", lambda: False)()

    def callback(indata, frames, time_info, status):  # PortAudio's thread: hand the block over, nothing else
        blocks.put(np.asarray(indata, dtype=np.float32).copy())

    limit = None if minutes is None else minutes * 60
    print(f"listening on {info.get('name', 'the default input')} ({rate} Hz); Ctrl-C to stop. "
          "Nothing is recorded to disk.", file=out, flush=True)
    try:
        with sd.InputStream(device=device, channels=1, samplerate=rate, dtype="float32", callback=callback,
                            blocksize=max(1, rate // 10)):
            while limit is None or engine.seconds < limit:
                try:
                    x = blocks.get(timeout=2.0)
                except queue.Empty:
                    continue
                y = x.mean(axis=1) if x.ndim == 2 else x.reshape(-1)
                _show(engine.feed(rs.feed(y, rate)), engine, out, tty, clock)
    except KeyboardInterrupt:
        pass
    except Exception as e:  # the device went away, PortAudio refused the stream, ...
        print(f"error: the input stream failed ({' '.join(str(e).split()) or type(e).__name__})", file=sys.stderr)
        return 1
    _show(engine.finish(), engine, out, tty, clock)
    eps = engine.episodes
    print(f"{'' if not tty else chr(10)}{len(eps)} crying episode(s) in {clock(engine.seconds)} of listening", file=out)
    for e in eps:
        why = (e.reason or {}).get("label") or "unclear"
        print(f"    {clock(e.start)}-{clock(e.end)}  {e.duration:6.1f} s  peak {e.peak:.2f}  reason: {why}", file=out)
    return 0


def _show(alerts, engine, out, tty: bool, clock) -> None:
    for a in alerts:
        if a.kind == "on":
            print(f"{chr(13) if tty else ''}ALERT {clock(a.time)}: crying (since {clock(a.episode.start)}, "
                  f"peak {a.episode.peak:.2f})", file=out, flush=True)
        else:
            why = (a.episode.reason or {}).get("label") or "unclear"
            print(f"{chr(13) if tty else ''}ended {clock(a.time)}: {a.episode.duration:.0f} s of crying, "
                  f"reason: {why}", file=out, flush=True)
    if tty:
        _, p = engine.series()
        if len(p):
            print(f"\r{clock(engine.seconds)}  P(cry) {p[-1]:.2f} {'#' * int(round(p[-1] * 20)):<20}", end="",
                  file=out, flush=True)

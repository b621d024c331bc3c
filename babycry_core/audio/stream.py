"""Decode a recording of any length in chunks: mono float32 at a chosen rate, memory bounded whatever the length.

`decode.load()` reads the whole upload into memory (uploads are at most 25 MB / 10 min). A night by the cot is
hours long: 8 h at 8 kHz is nearly 1 GB as float32, so `stream()` never holds it whole. A path is read from
disk block by block; soundfile (wav, flac, ogg, mp3) first, then PyAV (m4a, aac, 3gp/AMR, caf, webm, ...).
Channels are averaged and soxr's streaming resampler (resample.py, as in `decode.load`) converts the rate, so
the chunks joined equal `decode.load()` of the same file within float rounding.

    for chunk in stream("night.m4a", 8000):        # chunks of `chunk_seconds` (the last one shorter)
        ...

`AudioStream` is the same with the header's facts (`info`) and what was decoded so far (`seconds`); a file
that breaks off mid-way ends the stream there with `truncated` set (what decoded is kept, as players do).
The length limit (`max_seconds`, the CLI's `--max-minutes`, 12 h by default) is checked from the header
before anything is decoded where the header has a duration, else while decoding. Errors are decode.py's
`AudioError` subclasses, each with a one-line message.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from babycry_core.audio import errors as E
from babycry_core.audio import pyav
from babycry_core.audio.decode import clean, sniff  # the same clean-up and signature check as decode.load
from babycry_core.audio.resample import StreamResampler

DEFAULT_MAX_MINUTES = 12 * 60.0
CHUNK_SECONDS = 30.0
_READ_FRAMES = 1 << 16  # input frames per soundfile read (per channel)


@dataclass(frozen=True)
class StreamInfo:
    duration: float | None  # seconds, from the header; None when the header does not say
    sample_rate: int  # the file's own rate
    channels: int
    decoder: str  # "soundfile" or "pyav"


class AudioStream:
    """An opened recording, decoded lazily in chunks of at most `chunk_seconds` at `sr` (see the module doc).

    Opening checks the header (and the length limit); iterating decodes. Iterate once. Not thread-safe."""

    def __init__(self, source, sr: int = 8000, *, chunk_seconds: float = CHUNK_SECONDS,
                 max_seconds: float = DEFAULT_MAX_MINUTES * 60, name: str | None = None):
        if int(sr) != sr or sr <= 0:
            raise ValueError(f"sr must be a positive integer, not {sr!r}")
        self.sr, self.max_seconds = int(sr), float(max_seconds)
        self.chunk_samples = max(1, int(round(chunk_seconds * self.sr)))
        self.name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else None)
        self.seconds = 0.0  # seconds decoded (output)
        self.truncated = False
        self._src = source
        self._sf = self._av = None
        self._open()

    # ------------------------------------------------------------ opening
    def _file(self):
        s = self._src
        if isinstance(s, (str, os.PathLike)):
            if os.stat(s).st_size == 0:
                raise E.empty(self.name)
            return os.fspath(s)
        if isinstance(s, (bytes, bytearray, memoryview)):
            if not len(s):
                raise E.empty(self.name)
            return io.BytesIO(bytes(s))
        if hasattr(s, "read"):
            return s
        raise TypeError(f"audio source must be a path, bytes or a binary file-like, not {type(s).__name__}")

    def _open(self) -> None:
        f = self._file()
        try:
            self._sf = sf.SoundFile(f)
        except Exception:
            self._sf = None
        if self._sf is not None and (self._sf.frames <= 0 or self._sf.samplerate <= 0):
            self._sf.close()  # 0 frames: streaming WAV writers leave the size at 0; let PyAV try
            self._sf = None
        if self._sf is not None:
            s = self._sf
            self.info = StreamInfo(s.frames / s.samplerate, s.samplerate, s.channels, "soundfile")
        else:
            self._open_av()
        if self.info.duration is not None and self.info.duration > self.max_seconds:
            self.close()
            raise E.too_long(self.info.duration, self.max_seconds, self.name)

    def _head(self) -> bytes:
        s = self._src
        if isinstance(s, (str, os.PathLike)):
            with open(s, "rb") as fh:
                return fh.read(12)
        if isinstance(s, (bytes, bytearray, memoryview)):
            return bytes(s[:12])
        try:
            pos = s.tell()
            head = s.read(12)
            s.seek(pos)
            return head
        except Exception:
            return b""

    def _open_av(self) -> None:
        f = self._file()
        if hasattr(f, "seek"):
            f.seek(0)
        c, st = pyav.open_audio(f, self.name, audio_signature=sniff(self._head()) is not None)
        ctx = st.codec_context
        self._av = (c, st)
        self.info = StreamInfo(pyav.header_seconds(c, st), int(ctx.sample_rate or st.rate or 0),
                               int(ctx.channels or 1), "pyav")

    def close(self) -> None:
        if self._sf is not None:
            self._sf.close()
        if self._av is not None:
            self._av[0].close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ decoding
    def _blocks_sf(self) -> Iterator[tuple[np.ndarray, int]]:
        f = self._sf
        with f:
            while True:
                try:
                    x = f.read(_READ_FRAMES, dtype="float32", always_2d=True)
                except Exception:
                    if self.seconds == 0:
                        raise E.decode_failed("the file looks damaged or cut off", self.name) from None
                    self.truncated = True
                    return
                if not len(x):
                    return
                yield (x[:, 0] if x.shape[1] == 1 else x.mean(axis=1)), f.samplerate

    def _blocks_av(self) -> Iterator[tuple[np.ndarray, int]]:
        c, st = self._av
        with c:
            self.truncated = yield from pyav.mono_blocks(c, st, self.name)

    def _resampled(self) -> Iterator[np.ndarray]:
        rs, fed = StreamResampler(self.sr), 0.0
        blocks = self._blocks_sf() if self._sf is not None else self._blocks_av()
        for x, r in blocks:
            fed += len(x) / r
            if fed > self.max_seconds:
                raise E.too_long(None, self.max_seconds, self.name)
            yield rs.feed(clean(x), r)
        yield rs.flush()

    def __iter__(self) -> Iterator[np.ndarray]:
        """Mono float32 chunks at `sr`, each exactly `chunk_samples` long except the last; finite, in [-1, 1]."""
        n, pending, have = self.chunk_samples, [], 0
        for y in self._resampled():
            if not len(y):
                continue
            pending.append(clean(y))
            have += len(y)
            while have >= n:
                buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
                out, rest = buf[:n], buf[n:]
                pending, have = ([rest] if len(rest) else []), len(rest)
                self.seconds += n / self.sr
                yield np.ascontiguousarray(out)
        if have:
            out = np.concatenate(pending) if len(pending) > 1 else pending[0]
            self.seconds += len(out) / self.sr
            yield np.ascontiguousarray(out)
        elif self.seconds == 0:
            raise E.zero_length(self.name)


def stream(source, sr: int = 8000, *, chunk_seconds: float = CHUNK_SECONDS,
           max_seconds: float = DEFAULT_MAX_MINUTES * 60, name: str | None = None) -> Iterator[np.ndarray]:
    """Yield mono float32 chunks of `source` at `sr` (see AudioStream). Raises an AudioError for bad content,
    OSError for a missing path."""
    with AudioStream(source, sr, chunk_seconds=chunk_seconds, max_seconds=max_seconds, name=name) as s:
        yield from s

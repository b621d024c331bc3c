"""Load any upload (path, bytes or file-like) as mono float32 at a chosen rate, or refuse it clearly.

Decoding happens in memory (no temp file): `soundfile` first (wav, flac, ogg, mp3, ...), then PyAV
(m4a, aac, 3gp/AMR, caf/IMA4, webm, and whatever soundfile rejects; pyav.py). The content decides, never the
extension; `name` only makes messages friendlier. PyAV only probes an allow-list of audio
container demuxers (no playlists or other formats that could open further files).

Errors (errors.py, re-exported here): bad input raises only `AudioError` subclasses, each with a one-line
message and a short `reason` code:
  EmptyFileError    "empty"          0 bytes
                    "zero_length"    a valid container with 0 samples (e.g. a WAV header, no data)
  NotAudioError     "not_audio"      nothing recognisable as audio (text, PDF, random bytes)
                    "no_audio_stream" a media container without an audio track (e.g. silent video)
  FileTooLargeError "too_large"      checked on the size alone, before anything is read
  TooLongError      "too_long"       from the header when it gives a duration, else while decoding
  DecodeError       "decode_failed"  looks like audio (known signature) but cannot be decoded
A missing or unreadable *path* raises the usual OSError (a caller bug, not bad content).
All functions are thread-safe: no shared state beyond read-only constants.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from babycry_core.audio import pyav
# load() raises these: callers catch them as decode.AudioError, decode.TooLongError, ...
from babycry_core.audio.errors import (AudioError, DecodeError, EmptyFileError, FileTooLargeError,  # noqa: F401
                                       NotAudioError, TooLongError)
from babycry_core.audio.errors import decode_failed as _decode_failed, empty as _empty, too_large as _too_large
from babycry_core.audio.errors import too_long as _too_long, zero_length as _zero_length
from babycry_core.audio.resample import StreamResampler

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_SECONDS = 600.0
SUPPORTED_EXTENSIONS = (".wav", ".mp3", ".m4a", ".aac", ".ogg", ".flac", ".3gp", ".caf")
_BLOCK = 1 << 20  # samples per soundfile read: bounds the memory of multi-channel high-rate input


@dataclass(frozen=True)
class AudioInfo:
    duration: float  # seconds
    sample_rate: int
    channels: int
    format: str  # "wav", "flac", "ogg", "mp3", "m4a", "3gp", "mp4", "aac", "caf", ...


# ---------------------------------------------------------------- reading the bytes

def _read(source, max_bytes: float, name):
    """Return (bytes, name). Checks the size before reading everything."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = name or path
        size = os.stat(path).st_size
        if size > max_bytes:
            raise _too_large(size, int(max_bytes), name)
        with open(path, "rb") as f:
            data = f.read(int(max_bytes) + 1 if max_bytes != float("inf") else -1)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source) if not isinstance(source, bytes) else source
    elif hasattr(source, "read"):
        name = name or getattr(source, "name", None)
        data = _read_filelike(source, max_bytes, name)
    else:
        raise TypeError(f"audio source must be a path, bytes or a binary file-like, not {type(source).__name__}")
    if len(data) > max_bytes:
        raise _too_large(len(data), int(max_bytes), name)
    if not data:
        raise _empty(name)
    return data, name


def _read_filelike(f, max_bytes: float, name) -> bytes:
    """Read the whole stream from its start (restoring the position); size check first when possible."""
    size = getattr(f, "size", None)  # Streamlit UploadedFile
    if isinstance(size, int) and size > max_bytes:
        raise _too_large(size, int(max_bytes), name)
    seekable = getattr(f, "seekable", lambda: False)()
    pos = f.tell() if seekable else None
    try:
        if seekable:
            size = f.seek(0, io.SEEK_END)
            f.seek(0)
        if isinstance(size, int) and size > max_bytes:
            raise _too_large(size, int(max_bytes), name)
        data = f.read(int(max_bytes) + 1) if max_bytes != float("inf") else f.read()
    finally:
        if seekable:
            f.seek(pos)
    if isinstance(data, str):
        raise TypeError("audio file-like must be opened in binary mode")
    return bytes(data)


def content_hash(source) -> str:
    """sha1 hex digest of the source's bytes (paths are hashed in chunks)."""
    h = hashlib.sha1()
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        h.update(source)
    else:
        h.update(_read_filelike(source, float("inf"), None))
    return h.hexdigest()


def sniff(data: bytes) -> str | None:
    """A format label when the bytes start with a known audio signature, else None."""
    head = data[:12]
    if head[:4] in (b"RIFF", b"RIFX", b"RF64"):
        return "wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "3gp" if brand.startswith(b"3g") else "m4a" if brand == b"M4A " else "mp4"
    for magic, label in ((b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3", "mp3"), (b"caff", "caf"),
                         (b"#!AMR", "amr"), (b"FORM", "aiff"), (b"riff", "w64"), (b"\x1a\x45\xdf\xa3", "webm")):
        if head.startswith(magic):
            return label
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


# ---------------------------------------------------------------- decoding

class _MonoSink:
    """Collects mono float32 blocks, cleans and resamples them (resample.StreamResampler), enforces max_seconds."""

    def __init__(self, sr: int, max_seconds: float, name):
        self.sr, self.max_seconds, self.name = sr, max_seconds, name
        self.seconds, self.resampler, self.out = 0.0, StreamResampler(sr), []

    def feed(self, x: np.ndarray, rate: int) -> None:
        if not len(x):
            return
        self.seconds += len(x) / rate
        if self.seconds > self.max_seconds:
            raise _too_long(None, self.max_seconds, self.name)
        self.out.append(self.resampler.feed(clean(x), rate))

    def result(self) -> np.ndarray:
        tail = self.resampler.flush()
        if len(tail):
            self.out.append(tail)
        y = self.out[0] if len(self.out) == 1 else np.concatenate(self.out or [np.zeros(0, np.float32)])
        return clean(np.ascontiguousarray(y, dtype=np.float32))


def clean(x: np.ndarray) -> np.ndarray:
    """float32, NaN/inf → 0, clipped to [-1, 1] (in place when x is our own array)."""
    x = np.asarray(x, dtype=np.float32)
    if not x.flags.writeable:
        x = x.copy()
    if not np.isfinite(x).all():
        np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(x, -1.0, 1.0, out=x)


def _sf_label(fmt: str) -> str:
    return {"MPEG": "mp3", "WAVEX": "wav", "RF64": "wav"}.get(fmt, fmt.lower())


def _open_sf(data: bytes):
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except Exception:
        return None
    if f.samplerate <= 0 or f.channels <= 0 or f.frames <= 0:
        f.close()  # 0 frames: let PyAV try (streaming WAV writers leave the size at 0)
        return None
    return f


def _decode_sf(f, sink: _MonoSink) -> None:
    ch, rate = f.channels, f.samplerate
    if f.frames / rate > sink.max_seconds:
        raise _too_long(f.frames / rate, sink.max_seconds, sink.name)
    block = max(1, _BLOCK // ch)
    while True:
        x = f.read(block, dtype="float32", always_2d=True)
        if not len(x):
            return
        sink.feed(x[:, 0] if ch == 1 else x.mean(axis=1), rate)


def _decode_av(data: bytes, sink: _MonoSink) -> None:
    container, stream = pyav.open_audio(io.BytesIO(data), sink.name, audio_signature=sniff(data) is not None)
    with container:
        header = pyav.header_seconds(container, stream)
        if header is not None and header > sink.max_seconds:
            raise _too_long(header, sink.max_seconds, sink.name)
        for x, rate in pyav.mono_blocks(container, stream, sink.name):
            sink.feed(x, rate)


def load(source, sr: int, *, max_seconds: float = DEFAULT_MAX_SECONDS,
         max_bytes: int = MAX_UPLOAD_BYTES, name: str | None = None) -> np.ndarray:
    """Decode `source` (path, bytes or binary file-like) to mono float32 at `sr`, 1-D, finite, in [-1, 1].

    Channels are averaged; soxr (high quality) resamples, which also band-limits to sr/2. No gain
    change. Raises only AudioError subclasses for bad content (see the module docstring).
    """
    if int(sr) != sr or sr <= 0:
        raise ValueError(f"sr must be a positive integer, not {sr!r}")
    data, name = _read(source, max_bytes, name)
    sink = _MonoSink(int(sr), float(max_seconds), name)
    f = _open_sf(data)
    if f is not None:
        try:
            with f:
                _decode_sf(f, sink)
        except AudioError:
            raise
        except Exception:  # libsndfile gave up mid-file: start over with PyAV
            sink = _MonoSink(int(sr), float(max_seconds), name)
            try:
                _decode_av(data, sink)
            except NotAudioError:  # libsndfile did recognise it as audio
                raise _decode_failed("the file looks damaged or cut off", name) from None
    else:
        _decode_av(data, sink)
    y = sink.result()
    if not len(y):
        raise _zero_length(name)
    return y


def probe(source, *, max_bytes: int = MAX_UPLOAD_BYTES, name: str | None = None) -> AudioInfo:
    """Duration, rate, channels and format from the header (or by demuxing packets, without
    decoding, when the header has no duration). Raises the same errors as `load`, except TooLongError."""
    data, name = _read(source, max_bytes, name)
    f = _open_sf(data)
    if f is not None:
        with f:
            return AudioInfo(f.frames / f.samplerate, f.samplerate, f.channels, _sf_label(f.format))
    label = sniff(data)
    container, stream = pyav.open_audio(io.BytesIO(data), name, audio_signature=label is not None)
    with container:
        ctx = stream.codec_context
        rate, channels = ctx.sample_rate or stream.rate or 0, ctx.channels or 1
        fmt = label or container.format.name.split(",")[0]
        seconds = pyav.header_seconds(container, stream)
        if seconds is None:
            try:
                seconds = sum(float(p.duration * p.time_base) for p in container.demux(stream) if p.duration)
            except Exception:
                raise _decode_failed("the file looks damaged or cut off", name) from None
    if not seconds or not rate:
        raise _zero_length(name)
    return AudioInfo(float(seconds), int(rate), int(channels), fmt)

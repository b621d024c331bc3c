"""PyAV, the decoder for what soundfile cannot read (m4a, aac, 3gp/AMR, caf/IMA4, webm, ...), in one place for
`decode.load`/`decode.probe` and `stream.AudioStream`: open a container, read the header's duration, and decode the
audio packets to mono float32 blocks.

PyAV only probes an allow-list of audio container demuxers (no playlists or other formats that could open further
files). `av` is imported lazily: most uploads never need it. Bad content raises `AudioError`s (errors.py).
"""
from __future__ import annotations

from collections.abc import Generator

import numpy as np

from babycry_core.audio import errors as E

# Demuxers PyAV may pick (by content); names match any part of FFmpeg's "mov,mp4,m4a,..." list.
FORMATS = "mov,mp4,m4a,3gp,aac,caf,amr,amrnb,amrwb,mp3,ogg,flac,wav,w64,aiff,matroska,webm"
_MAX_BAD_PACKETS = 100  # skipped before any audio decoded, then the file is refused as damaged
_INT_SCALE = {np.dtype(np.int16): 2.0 ** 15, np.dtype(np.int32): 2.0 ** 31, np.dtype(np.int64): 2.0 ** 63}


def open_audio(file, name, *, audio_signature: bool):
    """Open `file` (a path or a binary file-like at its start); -> (container, its first audio stream).

    When PyAV cannot open it: DecodeError if the first bytes had a known audio signature (`audio_signature`,
    from `decode.sniff`), else NotAudioError. A container without audio: NotAudioError ("no_audio_stream")."""
    import av

    try:
        container = av.open(file, container_options={"format_whitelist": FORMATS})
    except Exception:
        raise (E.decode_failed("the file looks damaged or cut off", name) if audio_signature
               else E.not_audio(name)) from None
    if not container.streams.audio:
        container.close()
        raise E.no_audio_stream(name)
    return container, container.streams.audio[0]


def header_seconds(container, stream) -> float | None:
    """The duration the header gives (the stream's, else the container's), or None when it gives none."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def frame_to_mono(frame) -> np.ndarray:
    """An av.AudioFrame (any sample format, planar or packed) -> float32 in [-1, 1], channels averaged."""
    a = frame.to_ndarray()
    ch = frame.layout.nb_channels or 1
    if a.dtype == np.uint8:
        a = (a.astype(np.float32) - 128.0) / 128.0
    elif a.dtype in _INT_SCALE:
        a = (a / _INT_SCALE[a.dtype]).astype(np.float32)
    else:
        a = a.astype(np.float32, copy=False)
    if frame.format.is_planar:
        return a[0] if ch == 1 else a[:ch].mean(axis=0)
    a = a.reshape(-1, ch)
    return a[:, 0] if ch == 1 else a.mean(axis=1)


def mono_blocks(container, stream, name) -> Generator[tuple[np.ndarray, int], None, bool]:
    """Decode `stream`'s packets in order; yields (mono float32 block, its sample rate). Returns True when the
    demuxer failed mid-file (what decoded is kept, as players do), else False.

    A packet that fails to decode is skipped; more than 100 of them before any audio stop the decoding. Nothing
    decoded because packets failed: DecodeError "the audio data is damaged"; because the demuxer failed at once:
    DecodeError with its cause."""
    errors, ok = 0, False
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except Exception:  # one bad packet: skip it, as players do
                errors += 1
                if errors > _MAX_BAD_PACKETS and not ok:
                    break
                continue
            for frame in frames:
                if frame.sample_rate and frame.samples:
                    ok = True
                    yield frame_to_mono(frame), frame.sample_rate
    except E.AudioError:
        raise
    except Exception as e:  # demuxer failure mid-file: keep what decoded, if anything
        if not ok:
            raise E.decode_failed(_short_cause(e), name) from None
        return True
    if not ok and errors:
        raise E.decode_failed("the audio data is damaged", name)
    return False


def _short_cause(e: Exception) -> str:
    text = (getattr(e, "strerror", None) or str(e) or type(e).__name__).splitlines()[0]
    return text[:80].rstrip(".")

"""The errors of audio/decode.py, each with a one-line message for a caregiver and a short `reason` code, and the
functions that phrase them (a file name shortened and made printable; durations in s or min)."""
from __future__ import annotations

import os

SUPPORTED = "WAV, MP3, M4A, AAC, OGG, FLAC, 3GP, CAF"


class AudioError(ValueError):
    """Base class. `str(err)` is one line for a caregiver; `reason` is a short machine code."""
    reason = "audio_error"

    def __init__(self, message: str, *, reason: str | None = None, name: str | None = None):
        super().__init__(message)
        if reason:
            self.reason = reason
        self.name = name

    def __reduce__(self):  # picklable with its reason/name (for caches and worker processes)
        return type(self), (str(self),), self.__dict__


class EmptyFileError(AudioError):
    reason = "empty"


class NotAudioError(AudioError):
    reason = "not_audio"


class FileTooLargeError(AudioError):
    reason = "too_large"


class TooLongError(AudioError):
    reason = "too_long"


class DecodeError(AudioError):
    reason = "decode_failed"


# ---------------------------------------------------------------- messages

def label(name) -> str | None:
    if not name:
        return None
    base = os.path.basename(str(name).replace("\\", "/"))
    base = "".join(c if c.isprintable() else "?" for c in base)
    return base if len(base) <= 60 else base[:57] + "..."


def duration_text(seconds: float) -> str:
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.3g} s"


def empty(name) -> EmptyFileError:
    n = label(name)
    return EmptyFileError(f"The file '{n}' is empty." if n else "The file is empty.", name=n)


def zero_length(name) -> EmptyFileError:
    n = label(name)
    return EmptyFileError(f"The recording{f' {n!r}' if n else ''} is empty (it contains no sound samples).",
                          reason="zero_length", name=n)


def not_audio(name) -> NotAudioError:
    n = label(name)
    return NotAudioError(f"{f'{n!r} is' if n else 'This is'} not an audio file (could not find any sound in it)."
                         f" Supported: {SUPPORTED}.", name=n)


def no_audio_stream(name) -> NotAudioError:
    n = label(name)
    return NotAudioError(f"{repr(n) if n else 'This file'} has no sound track (it may be a video or picture "
                         "without audio).", reason="no_audio_stream", name=n)


def too_large(size: int, limit: int, name) -> FileTooLargeError:
    err = FileTooLargeError(f"The file is {size / 2**20:.1f} MB; the limit is {limit / 2**20:g} MB.", name=label(name))
    err.size_bytes, err.limit_bytes = size, limit
    return err


def too_long(seconds: float | None, limit: float, name) -> TooLongError:
    err = TooLongError(f"The recording is longer than {duration_text(limit)} (the limit); trim it and try again.",
                       name=label(name))
    err.seconds, err.limit_seconds = seconds, limit  # seconds: None when found while decoding
    return err


def decode_failed(cause: str, name) -> DecodeError:
    return DecodeError(f"The audio could not be decoded ({cause}).", name=label(name))


def each_file(files, fn) -> list:
    """fn(file) for each file; a file that cannot be read or decoded gives {"file", "error"} (the one-line message)
    and the others still run: what `predict` and `detect` answer for a list of files."""
    out = []
    for f in files:
        try:
            out.append(fn(f))
        except AudioError as e:
            out.append({"file": str(f), "error": str(e)})
        except OSError as e:
            out.append({"file": str(f), "error": f"cannot read the file ({e.strerror or e})"})
    return out

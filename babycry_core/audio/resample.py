"""Streaming resampling, one owner: mono float32 chunks at any rate in, float32 at one rate out, without a seam.

`decode.load`, `stream.AudioStream`, `detection.live.FrameResampler` and the `listen` command all turn blocks
that arrive one after another into the model's rate. soxr's streaming resampler (the same high quality as the
one-shot `signal.resample`) keeps its filter state between blocks, so the joined output equals a one-shot
resample of the joined input (within float rounding), apart from the filter's tail, which it holds back until
`flush()`. When the input rate equals the output rate the blocks pass through untouched.

    rs = StreamResampler(8000)
    for x, rate in blocks:          # rate may change between blocks: the old stream's tail comes out first
        out.append(rs.feed(x, rate))
    out.append(rs.flush())          # the held-back tail (empty when passing through)
"""
from __future__ import annotations

import numpy as np


class StreamResampler:
    """Mono float32 blocks at any rate -> float32 at `sr`, block by block (soxr.ResampleStream). Not thread-safe:
    one per stream."""

    def __init__(self, sr: int):
        self.sr = int(sr)
        self.rate: int | None = None  # the input rate of the current stream; None before the first block
        self._rs = None  # the soxr stream; None while passing through (rate == sr) or before the first block

    def feed(self, x: np.ndarray, rate: int) -> np.ndarray:
        """The output for mono block `x` (1-D) at `rate`. A rate other than the last block's ends the current stream
        (its tail comes first in the result) and starts a new one."""
        x = np.asarray(x, np.float32)
        tail = None
        if rate != self.rate:
            tail = self.flush()
            self.rate = rate
            if rate != self.sr:
                import soxr  # lazily: importing the audio package stays cheap

                self._rs = soxr.ResampleStream(rate, self.sr, 1, dtype="float32")
        if self._rs is None:
            out = x
        else:
            out = self._rs.resample_chunk(np.ascontiguousarray(x))
        return out if tail is None or not len(tail) else np.concatenate([tail, out])

    def flush(self) -> np.ndarray:
        """The tail the filter still holds (empty when passing through). The next block starts a fresh stream."""
        rs, self._rs, self.rate = self._rs, None, None
        return np.zeros(0, np.float32) if rs is None else rs.resample_chunk(np.zeros(0, np.float32), last=True)

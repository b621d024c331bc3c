"""Live listening: microphone frames in, a cry probability every 0.5 s and crying episodes out, in memory.

    FrameResampler   av.AudioFrame (a browser's 48 kHz WebRTC audio, stereo or mono, any sample format) or a
                     numpy block at any rate  ->  float32 mono at the detector's rate (8 kHz)
    RingBuffer       the last N seconds of that signal, in memory only; written to no file (the Listen page
                     hands it to the user as a WAV download only when asked)
    LiveListener     one listening session: resampler + ring buffer + `episodes.EpisodeEngine` with one window
                     per batch, so the newest 2 s window is scored every hop (0.5 s) and the rule (default 3 s
                     of crying within the last 5 s, with hysteresis) raises and ends alerts. Thread-safe: the
                     audio thread feeds it, the page reads `snapshot()`.

Stream time counts the samples received, not the wall clock, so a test that feeds 20 s of frames at once gets
the same answers as a microphone that delivers them over 20 s; `snapshot()` maps it to the clock for display.
Windows below the silence level never reach the model (episodes.WindowScorer), as for an upload.
"""
from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from babycry_core.detection.episodes import Alert, Episode, EpisodeEngine, EpisodeRule
from babycry_core.audio.resample import StreamResampler
from babycry_core.audio.signal import rms_dbfs as level_dbfs

DEFAULT_BUFFER_SECONDS = 60.0
HISTORY_SECONDS = 60.0


class RingBuffer:
    """The last `seconds` of a mono float32 signal at `sr`. `total` counts every sample ever written."""

    def __init__(self, seconds: float, sr: int = 8000):
        self.sr = int(sr)
        self.capacity = max(1, int(round(seconds * sr)))
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self.total = 0

    def __len__(self) -> int:
        return min(self.total, self.capacity)

    def extend(self, y: np.ndarray) -> None:
        y = np.asarray(y, dtype=np.float32).ravel()
        n = len(y)
        if n == 0:
            return
        if n >= self.capacity:  # only the last `capacity` samples survive, each at its absolute position
            self.total += n
            self._buf[np.arange(self.total - self.capacity, self.total) % self.capacity] = y[-self.capacity:]
            return
        start = self.total % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = y[:first]
        self._buf[: n - first] = y[first:]
        self.total += n

    def latest(self, n: int, end: int | None = None) -> np.ndarray:
        """The n samples that end at absolute sample `end` (default: the newest), zero-padded on the left where
        they were never written or have already been overwritten."""
        end = self.total if end is None else min(int(end), self.total)
        n = int(n)
        out = np.zeros(n, dtype=np.float32)
        first = max(end - n, self.total - self.capacity, 0)  # oldest absolute sample still held
        if end <= first:
            return out
        idx = np.arange(first, end) % self.capacity
        out[n - (end - first):] = self._buf[idx]
        return out


class FrameResampler:
    """Frames to float32 mono at `sr`. One per stream: av.AudioResampler keeps its filter state."""

    def __init__(self, sr: int = 8000):
        self.sr = int(sr)
        self._av = self._av_key = None
        self._stream = StreamResampler(self.sr)  # numpy blocks (array); a new rate starts a new stream

    def frame(self, frame) -> np.ndarray:
        """An av.AudioFrame (any format / layout / rate) -> float32 mono at sr: resampled per channel (planar
        float), then the channels averaged (a browser's mono microphone arrives as two equal channels; ffmpeg's
        own downmix would add 3 dB)."""
        import av

        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._av is None or key != self._av_key:  # a new stream, or the browser switched its format
            self._av = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=self.sr)
            self._av_key = key
        frame.pts = None  # the resampler needs no timing (a browser's timestamps jump after a pause)
        out = self._av.resample(frame)
        if not out:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([f.to_ndarray().mean(axis=0) for f in out]).astype(np.float32, copy=False)

    def array(self, y: np.ndarray, sr: int) -> np.ndarray:
        """A numpy block (samples,) or (samples, channels) at `sr` -> float32 mono at self.sr (audio.resample:
        consecutive blocks join without a seam; a block at another rate first returns the old stream's tail)."""
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 2:
            y = y.mean(axis=1)
        return self._stream.feed(y, sr)


@dataclass
class LiveView:
    """What the page draws, copied under the lock."""

    seconds: float  # session time (s): the clock time of the session's start + this is now
    started: float  # wall clock (time.time()) when the session began
    starts: np.ndarray  # window starts (s) of the last `history` seconds
    p: np.ndarray  # their P(cry)
    threshold: float  # the rule's: a window at or above it is crying
    rule: EpisodeRule
    active: Episode | None  # the open episode (the alert is on), a copy
    active_reason: dict | None  # the reason step on its audio so far (computed when the alert went on)
    episodes: list[Episode]  # closed episodes of this session, oldest first (copies)
    alerts_on: int  # how many alerts went on so far (a page beeps once per new one)
    level_dbfs: float  # of the last 0.5 s
    listening_since: float = 0.0  # wall clock when this stream (START) began
    error: str | None = None

    def clock(self, t: float) -> float:
        return self.started + t


class LiveListener:
    """One listening session over a two-step predictor (episodes get reasons) or a CryDetector (none).

    Times are session seconds (0 = when the listener was made): each stream (START ... STOP) begins where the
    clock stands, and within a stream the samples count, so feeding 20 s at once reads as 20 s of listening."""

    def __init__(self, predictor, on_seconds: float = 3.0, window_seconds: float = 5.0,
                 buffer_seconds: float = DEFAULT_BUFFER_SECONDS, history_seconds: float = HISTORY_SECONDS):
        self.predictor = predictor
        self.detector = getattr(predictor, "detector", predictor)
        self.sr = int(self.detector.cfg.sample_rate)
        self.buffer_seconds, self.history_seconds = float(buffer_seconds), float(history_seconds)
        self._lock = threading.RLock()
        self._on, self._within = float(on_seconds), float(window_seconds)
        self.episodes: list[Episode] = []  # closed, of every stream of this session
        self.alerts_on = 0
        self.error: str | None = None
        self.started, self._offset, self.engine = time.time(), 0.0, None
        self._new_stream()

    # ------------------------------------------------------------ stream lifecycle

    def rule(self) -> EpisodeRule:
        """episodes.EpisodeRule with this listener's on / look-back seconds; its own quiet time to end an alert
        (never shorter than the look-back), the detector's threshold, hop and window."""
        d = self.detector
        base = EpisodeRule.for_detector(d)
        within = max(self._within, self._on)
        return replace(base, on_seconds=self._on, window_seconds=within, off_seconds=max(base.off_seconds, within))

    def _engine(self) -> EpisodeEngine:
        return EpisodeEngine(self.predictor, self.rule(), batch_windows=1, max_reason_seconds=self.buffer_seconds)

    def _new_stream(self) -> None:
        # session time of this stream's 0: where the clock stands now (never before the last stream's end)
        self._offset = max(time.time() - self.started, self.seconds)
        self.engine = self._engine()
        self.stream_started = time.time()
        self.ring = RingBuffer(self.buffer_seconds, self.sr)
        self.resampler = FrameResampler(self.sr)
        self.active_reason: dict | None = None
        self._past = (np.zeros(0), np.zeros(0))  # the strip's points from this stream's earlier engines

    def _recent(self) -> tuple[np.ndarray, np.ndarray]:
        """(window starts in session time, P(cry)) of the last `history_seconds` of this stream."""
        s, p = self.engine.series()
        s, p = np.concatenate([self._past[0], s + self._offset]), np.concatenate([self._past[1], p])
        keep = s >= self.seconds - self.history_seconds - self.detector.cfg.clip_seconds
        return s[keep], p[keep].astype(float)

    def set_rule(self, on_seconds: float, window_seconds: float) -> None:
        """Change the alert rule: an open episode closes now; the stream and its clock go on (a new engine
        whose 0 is where the stream has got to)."""
        with self._lock:
            if (float(on_seconds), float(window_seconds)) == (self._on, self._within):
                return
            self._finish()
            self._past = self._recent()  # the strip goes on across the change
            self._on, self._within = float(on_seconds), float(window_seconds)
            self._offset, self.engine, self.active_reason = self.seconds, self._engine(), None

    def stop(self) -> list[Alert]:
        """The stream ended: close an open episode (with its reason)."""
        with self._lock:
            return self._finish()

    def _finish(self) -> list[Alert]:
        return self._took([] if self.engine.done else self.engine.finish())

    # ------------------------------------------------------------ audio in

    def feed_frames(self, frames) -> list[Alert]:
        """av.AudioFrames from the browser (any rate / layout), in order."""
        with self._lock:
            try:
                y = [self.resampler.frame(f) for f in frames]
            except Exception as e:  # an odd frame must not kill the audio thread; the page shows it
                self.error = f"could not read an audio frame: {e}"
                return []
            return self._feed(np.concatenate(y) if y else np.zeros(0, np.float32))

    def feed(self, y: np.ndarray) -> list[Alert]:
        """Mono float32 samples at the detector's rate."""
        with self._lock:
            return self._feed(np.asarray(y, dtype=np.float32).reshape(-1))

    def _feed(self, y: np.ndarray) -> list[Alert]:
        if not len(y):
            return []
        if self.engine.done:  # the stream was stopped and this is a new one (START again)
            self._new_stream()
        self.ring.extend(y)
        return self._took(self.engine.feed(y))

    def _took(self, alerts: list[Alert]) -> list[Alert]:
        """Book the engine's alerts; -> the same alerts on the session's time axis."""
        out = []
        for a in alerts:
            ep = self._shifted(a.episode)
            if a.kind == "on":
                self.alerts_on += 1
                self.active_reason = self.engine.current_reason()
            else:
                self.episodes.append(ep)
                self.active_reason = None
            out.append(Alert(a.kind, a.time + self._offset, ep))
        return out

    def _shifted(self, ep: Episode) -> Episode:
        """A copy of an engine's episode on this stream's time axis."""
        o = self._offset
        return Episode(ep.start + o, ep.end + o, ep.peak, ep.reason, None if ep.alert_at is None else ep.alert_at + o)

    # ------------------------------------------------------------ the page reads

    @property
    def seconds(self) -> float:
        """Session time now: where this stream has got to."""
        return self._offset + (self.engine.seconds if self.engine is not None else 0.0)

    def snapshot(self) -> LiveView:
        with self._lock:
            starts, p = self._recent()
            active = self.engine.active
            last = self.ring.latest(min(len(self.ring), self.sr // 2))
            return LiveView(self.seconds, self.started, starts, p, self.engine.rule.threshold,
                            self.engine.rule, None if active is None else self._shifted(active), self.active_reason,
                            list(self.episodes), self.alerts_on, level_dbfs(last) if len(last) else float("-inf"),
                            self.stream_started, self.error)

    def wav_bytes(self, seconds: float | None = None) -> bytes:
        """The last `seconds` (default: all that is held) as 16-bit WAV bytes, for a download the user asks for."""
        import soundfile as sf

        with self._lock:
            n = len(self.ring) if seconds is None else min(len(self.ring), int(seconds * self.sr))
            y = self.ring.latest(n)
        buf = io.BytesIO()
        sf.write(buf, np.clip(y, -1, 1), self.sr, format="WAV", subtype="PCM_16")
        return buf.getvalue()

"""Crying episodes over time: the cry detector's window probabilities, with hysteresis, become episodes.

    audio chunks ─▶ 2 s windows every 0.5 s ─▶ P(cry) per window (batched) ─▶ hysteresis ─▶ Episode / Alert
                                                                            └─▶ reason, on the episode's audio

The rule (`EpisodeRule`, defaults from issue 13): a window is *crying* when P(cry) >= the detector's validated
threshold. An alert goes on when at least `on_seconds` of crying windows (count x hop) fall within the last
`window_seconds`, and off once `off_seconds` (10 s) pass without one. A *spell* is a run of crying windows with no
gap of `off_seconds`; one spell gives at most one episode, and a spell that never reaches `on_seconds` (a blip)
gives none. A window speaks for its middle (start + 1 s): an episode runs from its onset to its last crying window.
The onset is the earliest crying window that counted towards its alert, moved back over the windows just before it
that reach `onset_fraction` of the threshold (at most `onset_back_seconds`): a cry that starts quietly or half a
window in is dated from its start, not from the first window that was sure (a double threshold, as in sound event
detection; `bench episodes` chooses the fraction with each fold left out and reports the gain). A live listener hears a window when it ends, so the alert
comes at `Episode.alert_at` (the end of the window that completed the rule).

The monitor's confirmation (issue 30): 2 s windows of a laughing baby sound like crying, so where the detector has
an upload verdict (inference/clip_verdict.py) and its verdict.json a "monitor" rule (chosen on validation nights,
detection/monitor_rule.py), the alert goes up only once the verdict, hearing the spell so far (from the first
crying window that met the rule, at most the last `confirm_seconds`), gives P(cry) >= `confirm_threshold`; a spell
it turns down is heard again every `recheck_seconds` while it lasts. The episode still starts where the windows
say; only the alert waits.

Three ways in, one rule:
  EpisodeTracker   window probabilities in, one at a time, `Alert("on"/"off")` out (live; the Listen page)
  find_episodes    a whole recording's window probabilities at once (numpy; the benchmark's threshold sweeps)
  EpisodeEngine    audio chunks in (a microphone or `stream.stream()`); windows are scored in batches
                   (`batch_windows`; 1 for live), and each episode gets the two-step answer's reason step
                   (`TwoStepPredictor.why`) on that episode's own samples, kept while it lasts (at most
                   `max_reason_seconds`), so a long file is never held whole
A whole recording (`Recording`, `episodes_of`, `detect_file` = `python -m babycry_core detect`) is in
whole_recording.py: one file through `stream.AudioStream` and an EpisodeEngine.
Windows below the silence level (prediction.SILENCE_DBFS) never reach the model (as in the clip answer).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from babycry_core.features.logmel import fix_length, window_starts
from babycry_core.detection.window_scoring import WindowScorer

EPS = 1e-6  # seconds: window times are multiples of the hop; comparisons must not hinge on rounding
ROUND = 3
ALERT_LIFT = 0.0  # the rule's threshold: the detector's validated one, lifted this far toward 1 (lifted())


def lifted(threshold: float, lift: float) -> float:
    """threshold + lift x (1 - threshold): 0 keeps the detector's clip threshold, 1 would need certainty."""
    return float(threshold + lift * (1.0 - threshold))


@dataclass(frozen=True)
class EpisodeRule:
    threshold: float  # a window is crying at P(cry) >= this (for_detector: the detector's, lifted)
    on_seconds: float = 3.0
    window_seconds: float = 5.0
    off_seconds: float = 10.0  # pauses for breath and sobbing stay inside one spell
    hop_seconds: float = 0.5  # the detector's window hop: one crying window counts for this long
    win_seconds: float = 2.0  # the detector's window length
    onset_fraction: float = 0.1  # the onset moves back over windows at >= this fraction of the threshold ...
    onset_back_seconds: float = 6.0  # ... by at most this much (chosen by bench episodes, folds left out)
    confirm_threshold: float | None = None  # the alert needs the upload verdict's P(cry) on the spell (at most ...
    confirm_seconds: float = 8.0  # ... its last this-many s) to reach it (None: no check); chosen on validation nights
    recheck_seconds: float = 2.0  # a spell the verdict turned down is heard again this often while it lasts

    @property
    def onset_threshold(self) -> float:
        return self.threshold * self.onset_fraction

    @property
    def need(self) -> int:
        """Crying windows needed within `window_seconds` to raise the alert."""
        return max(1, math.ceil(self.on_seconds / self.hop_seconds - EPS))

    @classmethod
    def for_detector(cls, det, lift: float = ALERT_LIFT, **kw) -> "EpisodeRule":
        """The rule over det's windows (its hop and window length), at its validated threshold lifted by `lift`,
        with the monitor's confirmation stored beside its upload verdict (verdict.json "monitor"), when it has one."""
        cfg = det.cfg
        verdict = getattr(det, "verdict", None)
        monitor = {k: v for k, v in (verdict.info.get("monitor", {}) if verdict is not None else {}).items()
                   if k in ("confirm_threshold", "confirm_seconds", "recheck_seconds")}
        return cls(lifted(det.threshold, lift), hop_seconds=cfg.window_hop_samples / cfg.sample_rate,
                   win_seconds=cfg.clip_samples / cfg.sample_rate, **{**monitor, **kw})

    def with_threshold(self, threshold: float) -> "EpisodeRule":
        from dataclasses import replace

        return replace(self, threshold=float(threshold))


@dataclass
class Episode:
    start: float  # s into the recording
    end: float
    peak: float  # highest P(cry) of its windows
    reason: dict | None = None  # the reason step (TwoStepPredictor.why, compact); None without a reason model
    alert_at: float | None = None  # when a live listener raised the alert (s into the recording)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {"start": round(self.start, ROUND), "end": round(self.end, ROUND), "peak": round(self.peak, 4),
                "reason": self.reason}


@dataclass
class Alert:
    kind: str  # "on" or "off"
    time: float  # when it was raised, s into the recording
    episode: Episode


class EpisodeTracker:
    """The rule, live: `feed(window_start, p_cry)` per window in time order; returns the Alerts it raised
    (none, usually; "off" then "on" when a spell ends and, with need 1, the next starts at once).

    confirm(heard, since) -> bool: does the upload verdict call the spell's audio crying, from `since` (the start of
    the first crying window that counted towards the rule: not the onset moved back over quieter windows) to `heard`
    s, at most confirm_seconds of it (confirm_span)? Asked (when the rule has a confirm_threshold) once the windows
    would raise the alert, then every recheck_seconds on the spell's crying windows; a spell it never confirms gives
    no episode."""

    def __init__(self, rule: EpisodeRule, confirm=None):
        self.rule = rule
        self.confirm = confirm if rule.confirm_threshold is not None else None
        self.pending: Episode | None = None  # the rule is met, the verdict has not confirmed it yet
        self.since = 0.0  # where the pending spell's first counted crying window starts (s)
        self.next_check = -math.inf
        self.recent: deque[tuple[float, float]] = deque()  # crying windows of this spell in the lookback
        back = math.ceil((rule.window_seconds + rule.onset_back_seconds) / rule.hop_seconds) + 2
        self.history: deque[tuple[float, float]] = deque(maxlen=back)  # every window lately: where an onset may move
        self.last_cry: float | None = None
        self.active: Episode | None = None
        self.episodes: list[Episode] = []
        self.heard = 0.0  # the end of the last window fed

    def feed(self, start: float, p: float) -> list[Alert]:
        r = self.rule
        t, self.heard = start + r.win_seconds / 2, start + r.win_seconds
        alerts = []
        if self.last_cry is not None and t - self.last_cry >= r.off_seconds - EPS:  # the spell is over
            alerts += [a for a in [self._close(self.heard)] if a]
            self.recent.clear()
            self.last_cry, self.pending = None, None
        if p >= r.threshold:
            self.recent.append((t, float(p)))
            self.last_cry = t
            ep = self.active or self.pending
            if ep is not None:
                ep.end, ep.peak = t, max(ep.peak, float(p))
        while self.recent and self.recent[0][0] <= t - r.window_seconds + EPS:
            self.recent.popleft()
        self.history.append((t, float(p)))
        if self.active is None and p >= r.threshold:
            if self.pending is None and len(self.recent) >= r.need:
                first = self.recent[0][0]
                self.pending = Episode(self._onset(first), t, max(q for _, q in self.recent))
                self.next_check = -math.inf
                self.since = first - r.win_seconds / 2
            if self.pending is not None and self.heard >= self.next_check - EPS:
                if self.confirm is None or self.confirm(self.heard, self.since):
                    self.active, self.pending = self.pending, None
                    self.active.alert_at = self.heard
                    alerts.append(Alert("on", self.heard, self.active))
                else:
                    self.next_check = self.heard + r.recheck_seconds
        return alerts

    def _onset(self, first: float) -> float:
        """`first` moved back over the contiguous windows before it at >= the onset threshold (find_episodes' rule)."""
        r, onset = self.rule, first
        for t, q in reversed([h for h in self.history if h[0] < first - EPS]):
            if q < r.onset_threshold or first - t > r.onset_back_seconds + EPS:
                break
            onset = t
        return onset

    def close(self) -> Alert | None:
        """The recording (or the session) ended: close an open episode."""
        return self._close(self.heard)

    def _close(self, at: float) -> Alert | None:
        ep, self.active = self.active, None
        if ep is None:
            return None
        self.episodes.append(ep)
        return Alert("off", at, ep)


def confirm_span(heard: float, since: float, seconds: float, sr: int) -> tuple[int, int]:
    """The samples the verdict hears to confirm a spell: from `since` (its first counted crying window) to `heard`,
    at most the last `seconds` (the rule's confirm_seconds). The engine and the benchmarks' cached verdict
    (monitor_rule.VerdictAt) both cut it here."""
    end = int(round(heard * sr))
    return max(int(round(since * sr)), end - int(seconds * sr)), end


def _confirmed_at(heard: np.ndarray, since: float, rule: EpisodeRule, confirm) -> float | None:
    """The first of a spell's crying-window ends (from the one that met the rule) at which the verdict confirms,
    asking at most every recheck_seconds (the tracker's order); None: never."""
    next_check = -math.inf
    for h in heard:
        if h >= next_check - EPS:
            if confirm(float(h), since):
                return float(h)
            next_check = h + rule.recheck_seconds
    return None


def find_episodes(starts, p, rule: EpisodeRule, confirm=None) -> list[Episode]:
    """The episodes of a whole recording's windows (starts in s, P(cry)): the tracker's answer, vectorised.
    confirm: as EpisodeTracker's (asked only when the rule has a confirm_threshold)."""
    starts, p = np.asarray(starts, dtype=np.float64), np.asarray(p, dtype=np.float64)
    t = starts + rule.win_seconds / 2
    idx = np.flatnonzero(p >= rule.threshold)
    if not len(idx):
        return []
    tp = t[idx]
    spell = np.concatenate([[0], np.cumsum(np.diff(tp) >= rule.off_seconds - EPS)])
    first = np.searchsorted(spell, spell, side="left")  # index of each spell's first crying window
    lo = np.maximum(np.searchsorted(tp, tp - rule.window_seconds + EPS, side="right"), first)
    ok = (np.arange(len(tp)) - lo + 1) >= rule.need
    out = []
    for s in np.unique(spell[ok]):
        k = np.flatnonzero(ok & (spell == s))[0]
        last = np.flatnonzero(spell == s)[-1]
        j = idx[lo[k]]  # the first crying window that counted, then back over the windows that reach onset_threshold
        while j > 0 and p[j - 1] >= rule.onset_threshold and t[idx[lo[k]]] - t[j - 1] <= rule.onset_back_seconds + EPS:
            j -= 1
        alert = float(starts[idx[k]] + rule.win_seconds)
        if confirm is not None and rule.confirm_threshold is not None:
            alert = _confirmed_at(starts[idx[k: last + 1]] + rule.win_seconds, float(starts[idx[lo[k]]]), rule,
                                  confirm)
            if alert is None:
                continue
        out.append(Episode(float(t[j]), float(tp[last]), float(p[idx[lo[k]: last + 1]].max()), alert_at=alert))
    return out


# ---------------------------------------------------------------- audio in

def _compact_reason(r: dict | None) -> dict | None:
    if r is None:
        return None
    return {"label": r["label"], "named": r["named"], "probabilities": {k: round(v, 4) for k, v in r["probabilities"].items()},
            "order": r["order"], "seconds_heard": round(r["seconds_heard"], 2)}


class EpisodeEngine:
    """Audio chunks in (at the detector's rate, any sizes), Alerts out; see the module doc.

    predictor: a TwoStepPredictor (episodes get reasons) or a CryDetector (no reasons)."""

    def __init__(self, predictor, rule: EpisodeRule | None = None, *, batch_windows: int = 32,
                 reasons: bool = True, max_reason_seconds: float = 60.0, fast: bool = True):
        det = getattr(predictor, "detector", predictor)
        self.predictor = predictor if (reasons and hasattr(predictor, "why") and getattr(predictor, "reason", None)) \
            else None
        cfg = det.cfg
        self.sr, self.n, self.hop = cfg.sample_rate, cfg.clip_samples, cfg.window_hop_samples
        self.rule = rule or EpisodeRule.for_detector(det)
        self.scorer, self.cry = WindowScorer(det, fast), det.cry_index
        self.verdict = getattr(det, "verdict", None)
        self.tracker = EpisodeTracker(self.rule, self._confirm if self.verdict is not None else None)
        self.confirmations: list[tuple[float, float]] = []  # (heard s, the verdict's P(cry)) of each check
        self.batch = max(1, int(batch_windows))
        self.max_reason = int(max_reason_seconds * self.sr)
        self.retain = int((max(self.rule.window_seconds + 2 * self.rule.win_seconds, self.rule.confirm_seconds) + 1)
                          * self.sr)
        self._buf, self._buf0, self._total, self._next = np.zeros(0, np.float32), 0, 0, 0
        self._pending: list[int] = []
        self._starts: list[np.ndarray] = []
        self._p: list[np.ndarray] = []
        self._cap_from: int | None = None  # first sample of the open episode
        self._cap: np.ndarray | None = None  # its first max_reason_seconds, once the buffer moved on
        self.done = False

    @property
    def seconds(self) -> float:
        return self._total / self.sr

    @property
    def episodes(self) -> list[Episode]:
        return self.tracker.episodes

    @property
    def active(self) -> Episode | None:
        return self.tracker.active

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        """(window starts in s, P(cry)) of every window scored so far."""
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
        return cat(self._starts), cat(self._p)

    def feed(self, chunk: np.ndarray) -> list[Alert]:
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        self._buf = np.concatenate([self._buf, chunk]) if len(self._buf) else chunk.copy()
        self._total += len(chunk)
        while self._next + self.n <= self._total:
            self._pending.append(self._next)
            self._next += self.hop
        alerts = self._score() if len(self._pending) >= self.batch else []
        self._trim()
        return alerts

    def finish(self) -> list[Alert]:
        """The end of the recording: the last (padded or end-aligned) window as features.windows cuts it, then
        an open episode closes."""
        if self.done:
            return []
        self.done = True
        if self._total:  # the starts feed() has not queued yet: the end-aligned one, or the only one of a short take
            self._pending += [s for s in window_starts(self._total, self.n, self.hop) if s > self._next - self.hop]
        alerts = self._score()
        a = self.tracker.close()
        if a is not None:
            self._closed(a.episode)
            alerts.append(a)
        return alerts

    def _window(self, s: int) -> np.ndarray:
        return fix_length(self._buf[s - self._buf0: s - self._buf0 + self.n], self.n)

    def _score(self) -> list[Alert]:
        if not self._pending:
            return []
        starts = np.array(self._pending, dtype=np.int64)
        self._pending = []
        p = self.scorer.proba(np.stack([self._window(s) for s in starts]))[:, self.cry]
        self._starts.append(starts / self.sr)
        self._p.append(p.astype(np.float32))
        alerts = []
        for s, q in zip(starts, p):
            for a in self.tracker.feed(float(s) / self.sr, float(q)):
                if a.kind == "on":
                    self._cap_from, self._cap = int(round(a.episode.start * self.sr)), None
                else:
                    self._closed(a.episode)
                alerts.append(a)
        return alerts

    def _confirm(self, heard: float, since: float) -> bool:
        """The tracker's confirm: the upload verdict on the spell heard so far (its last confirm_seconds)."""
        start, end = confirm_span(heard, since, self.rule.confirm_seconds, self.sr)
        start = max(start, self._buf0)
        p = self.verdict.judge(self._buf[start - self._buf0: end - self._buf0], self.sr).p_cry
        self.confirmations.append((heard, p))
        return p >= self.rule.confirm_threshold

    def _episode_audio(self, ep: Episode | None = None) -> np.ndarray:
        start = self._cap_from
        if ep is not None:
            end = int(round(ep.end * self.sr))
        else:
            end = self._total
        end = max(end, start + self.sr)  # at least 1 s
        if self._cap is not None:
            return self._cap[: end - start]
        return self._buf[max(0, start - self._buf0): end - self._buf0][: self.max_reason]

    def _closed(self, ep: Episode) -> None:
        if self.predictor is not None and self._cap_from is not None:
            y = self._episode_audio(ep)
            ep.reason = _compact_reason(self.predictor.why(y, len(y) / self.sr))
        self._cap_from = self._cap = None

    def current_reason(self) -> dict | None:
        """The reason step on the open episode's audio so far (None when no episode is open or no reason model)."""
        if self.predictor is None or self.active is None or self._cap_from is None:
            return None
        y = self._episode_audio()
        return _compact_reason(self.predictor.why(y, len(y) / self.sr))

    def _trim(self) -> None:
        keep = min(self._pending[0] if self._pending else self._next, self._next) - self.retain
        if self._cap_from is not None and self._cap is None:
            if self._total - self._cap_from > self.max_reason:  # keep the episode's first max_reason s aside
                i = max(0, self._cap_from - self._buf0)
                self._cap = self._buf[i: i + self.max_reason].copy()
            else:
                keep = min(keep, self._cap_from)
        keep = max(keep, self._buf0)
        if keep - self._buf0 > len(self._buf) // 2 and keep > self._buf0:
            self._buf = self._buf[keep - self._buf0:].copy()
            self._buf0 = keep

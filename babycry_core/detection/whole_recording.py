"""A whole recording's crying episodes: `python -m babycry_core detect`, `/v1/detect` and the Classify page.

`detect_file` decodes a file of any length in chunks (stream.AudioStream) into an episodes.EpisodeEngine, so memory
stays bounded; `episodes_of` does the same for a waveform already in memory. The command (`app.answer.detect`)
chooses the model and its engine, and gives {"file", "error"} for a file that fails.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from babycry_core.detection.episodes import ROUND, Episode, EpisodeEngine, EpisodeRule


@dataclass
class Recording:
    file: str
    duration: float
    episodes: list[Episode]
    starts: np.ndarray = field(repr=False)
    p: np.ndarray = field(repr=False)
    threshold: float = 0.5
    truncated: bool = False
    rule: EpisodeRule | None = field(default=None, repr=False)  # the rule that found the episodes

    @property
    def cry_seconds(self) -> float:
        return float(sum(e.duration for e in self.episodes))

    def to_dict(self) -> dict:
        d = {"file": self.file, "duration": round(self.duration, ROUND), "episodes": [e.to_dict() for e in self.episodes],
             "cry_seconds": round(self.cry_seconds, ROUND)}
        if self.truncated:
            d["warning"] = "the file breaks off; episodes up to where it could be decoded"
        return d


def episodes_of(y: np.ndarray, predictor, rule: EpisodeRule | None = None, **kw) -> Recording:
    """A waveform already in memory (at the detector's rate): its episodes and window probabilities."""
    eng = EpisodeEngine(predictor, rule, **kw)
    eng.feed(y)
    eng.finish()
    return Recording("", eng.seconds, eng.episodes, *eng.series(), eng.rule.threshold, rule=eng.rule)


def detect_file(source, predictor, rule: EpisodeRule | None = None, *, max_seconds: float | None = None,
                progress: bool = False, name: str | None = None, **kw) -> Recording:
    """One recording of any length, decoded in chunks (stream.AudioStream): its episodes, with reasons."""
    from babycry_core.audio.stream import DEFAULT_MAX_MINUTES, AudioStream

    det = getattr(predictor, "detector", predictor)
    name = name or str(source)
    max_seconds = DEFAULT_MAX_MINUTES * 60 if max_seconds is None else max_seconds
    eng = EpisodeEngine(predictor, rule, **kw)
    with AudioStream(source, det.cfg.sample_rate, max_seconds=max_seconds, name=name) as s:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=round(s.info.duration or 0, 1) or None, unit="s", desc=name[-40:], file=sys.stderr,
                       leave=False, bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} s [{elapsed}<{remaining}]")
        for chunk in s:
            eng.feed(chunk)
            if bar is not None:
                bar.update(len(chunk) / eng.sr)
        eng.finish()
        if bar is not None:
            bar.close()
        truncated = s.truncated
    return Recording(name, eng.seconds, eng.episodes, *eng.series(), eng.rule.threshold, truncated, eng.rule)


def clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"

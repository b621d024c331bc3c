"""`FeatureConfig`: the frozen description of a model's input features (sample rate, STFT, mel bands, window
length and hop, level normalisation, front end), stored with every run as feature_config.json. The front end
that computes them is features/logmel.py.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 8000
    n_fft: int = 512
    hop_length: int = 128
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 4000.0
    clip_seconds: float = 7.0
    top_db: float = 80.0
    normalize: bool = False  # shift each window's log-mel so its peak is 0 dB: the shape counts, not the level
    hop_seconds: float = 0.0  # hop between model windows; 0: half a window
    # "logmel": features/logmel.py's log-mel in dB; "yamnet": YAMNet's own front end (features/yamnet.py: upsampled to
    # 16 kHz, 25 ms frames every 10 ms, 64 mel bands 125-7500 Hz, log(mel + 0.001)), what its pretrained body wants
    frontend: str = "logmel"

    @property
    def band_hz(self) -> tuple[float, float]:
        """The frequency band the model sees: (fmin, min(fmax, Nyquist))."""
        return (self.fmin, min(self.fmax, self.sample_rate / 2))

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Frames in one model window (centered STFT; YAMNet's: its padded 16 kHz window, uncentred)."""
        if self.frontend == "yamnet":
            return yamnet_frames(self.clip_seconds)
        return 1 + self.clip_samples // self.hop_length

    @property
    def frame_hop_seconds(self) -> float:
        """Seconds between spectrogram frames (YAMNet's front end hops 160 samples at 16 kHz)."""
        return self.hop_length / (16000 if self.frontend == "yamnet" else self.sample_rate)

    @property
    def window_hop_samples(self) -> int:
        """Long recordings are cut into windows that overlap by half (or `hop_seconds` apart)."""
        if self.hop_seconds > 0:
            return max(1, int(round(self.hop_seconds * self.sample_rate)))
        return self.clip_samples // 2

    def to_dict(self) -> dict:
        """The fields; the newer ones only when set, so older run folders and cache keys stay the same."""
        d = dataclasses.asdict(self)
        for name, default in _LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def key(self) -> str:
        """Short stable hash of the config, for cache keys."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


_LATER_FIELDS = {"normalize": False, "hop_seconds": 0.0, "frontend": "logmel"}


def yamnet_frames(seconds: float) -> int:
    """Frames of YAMNet's front end for a window of `seconds`: padded as YAMNet pads (a whole number of 0.48 s
    patch hops after the first 0.975 s patch), 25 ms frames every 10 ms at 16 kHz."""
    n = int(round(seconds * 16000))
    padded = 15600 + -(-max(0, n - 15600) // 7680) * 7680
    return 1 + (padded - 400) // 160

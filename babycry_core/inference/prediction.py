"""What every answer is: the `Prediction` record, and the level check that comes before any model."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field




@dataclass
class Prediction:
    file: str
    label: str
    confidence: float
    probabilities: dict[str, float]
    status: str  # detected / reason_unclear / no_cry / unsure / not_sure / silence
    message: str
    duration: float
    level_dbfs: float
    timeline: list[dict] = field(default_factory=list)  # [{"start", "end", "probabilities"}]
    run: str = ""
    cry: dict | None = None  # step 1: {"probability", "detected", "seconds", "threshold", "windows"}
    heard: str | None = None  # cry / speech / laugh / noise / silence
    reason: dict | None = None  # step 2, only for a cry: {"label" (None when unclear), "probabilities", "prior", "named", ...}

    def to_dict(self) -> dict:
        return asdict(self)

    def top(self, n: int = 2) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:n]

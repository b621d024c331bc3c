"""The two-step answer: 1. is it a cry? (the cry detector)  2. why? (a reason model, only for a cry).

    silence     digital silence, caught by the energy check before any model runs: "Silent recording"
    no_cry      the detector found no crying: "No cry detected: it sounds like speech / laughing / ..."
    unsure      (a detector with an upload verdict, inference/clip_verdict.py) between its two thresholds: "Not sure:
                it may be laughing, babbling or fussing; it sounds most like ..."; no reason is given
    reason_unclear  crying, but no reason reaches its validated naming threshold (reason_naming.py)
    detected    crying, and the reason model's top reason reaches the threshold at which held-out babies
                said it was right >= 60 % of the time, more often than its prior share

The reason model hears only the crying part of the recording (the detector's cry segments joined). Its
calibrated probabilities are shown beside the prior (each reason's share among the corpus's cries) and the
held-out accuracy of its top answer. `TwoStepPredictor` has `Predictor`'s interface, so the pages, the CLI,
the load benchmark and `predict()` use either.
"""
from __future__ import annotations

import numpy as np

from babycry_core.audio import decode as audio
from babycry_core.inference import wording as L
from babycry_core.data.corpora import CRY
from babycry_core.inference.cry_detector import CryDetector, segment_probability
from babycry_core.audio.signal import SILENCE_DBFS, resample, rms_dbfs as level_dbfs
from babycry_core.inference.prediction import Prediction
from babycry_core.inference.reason_naming import load_naming

HEARD_TEXT = {"speech": "speech", "laugh": "laughing", "noise": "noise", "silence": "a quiet room", CRY: "crying"}
MIN_CRY_AUDIO_S = 1.0  # below this much crying the reason model hears the whole recording


class TwoStepPredictor:
    def __init__(self, detector: CryDetector, reason=None):
        """reason: an inference.Predictor over cry reasons only, or None (step 1 alone)."""
        self.detector, self.reason = detector, reason
        self.cfg = detector.cfg
        self.labels = list(reason.labels) if reason else []
        self.naming = load_naming(reason.folder, self.labels) if reason else {"reasons": {}, "prior": {}}

    @property
    def run_id(self) -> str:
        return f"{self.detector.run_id} + {self.reason.run_id}" if self.reason else self.detector.run_id

    def predict(self, source, name: str | None = None, **load_kw) -> Prediction:
        y = audio.load(source, self.cfg.sample_rate, name=name, **load_kw)
        return self.predict_waveform(y, name or (str(source) if isinstance(source, (str,)) else "upload"))

    def predict_waveform(self, y: np.ndarray, name: str = "") -> Prediction:
        sr = self.cfg.sample_rate
        dur, lvl = len(y) / sr, level_dbfs(y)
        if len(y) == 0:
            raise audio.EmptyFileError("The recording contains no audio samples.")
        if lvl < SILENCE_DBFS:
            msg = f"Silent recording (level {lvl:.0f} dBFS, below {SILENCE_DBFS:.0f} dBFS): nothing to hear."
            return Prediction(name, "silence", 1.0, {"silence": 1.0}, "silence", msg, dur, lvl, [], self.run_id,
                              cry={"probability": 0.0, "detected": False, "seconds": 0.0,
                                   "threshold": self.detector.threshold, "windows": []},
                              heard="silence", reason=None)
        starts, proba = self.detector.window_proba(y)
        found = self.detector.summarise(starts, proba, dur)
        timeline = [{"start": w["start"], "end": w["end"], "probabilities": dict(zip(self.detector.labels, map(float, p)))}
                    for w, p in zip(found.windows, proba)]
        cry = found.to_dict()
        verdict = self.detector.judge(y)
        if verdict is not None:  # the upload verdict answers (crying / unsure / no_cry); the windows draw the timeline
            found.probability, found.detected = verdict.p_cry, verdict.answer == "crying"
            found.heard_probabilities = self._verdict_probabilities(verdict, found.heard_probabilities)
            if not found.detected:
                found.heard = max((c for c in found.heard_probabilities if c != CRY), key=found.heard_probabilities.get)
            cry.update(probability=verdict.p_cry, detected=found.detected, answer=verdict.answer,
                       verdict={"probabilities": verdict.probabilities, "heard": verdict.heard,
                                "context": list(verdict.context), "cry_threshold": verdict.thresholds[0],
                                "lo_threshold": verdict.thresholds[1]})
        if not found.detected:
            conf = found.heard_probabilities[found.heard]
            heard = HEARD_TEXT.get(found.heard, found.heard)
            if verdict is not None and verdict.answer == "unsure":
                status, msg = "unsure", (f"Not sure: it may be laughing, babbling or fussing; it sounds most like "
                                         f"{heard} (cry probability {found.probability:.0%}).")
            else:
                status, msg = "no_cry", f"No cry detected: it sounds like {heard} (cry probability {found.probability:.0%})."
            return Prediction(name, found.heard, conf, found.heard_probabilities, status, msg, dur, lvl, timeline,
                              self.run_id, cry=cry, heard=found.heard, reason=None)
        reason = self.why(self._cry_audio(y, starts, proba), found.seconds)
        head = f"Crying detected (cry probability {found.probability:.0%}, {found.seconds:.1f} s of {dur:.1f} s)."
        if reason["label"]:
            r = reason["label"]
            status, label, conf = "detected", r, reason["probabilities"][r]
            msg = f"{head} Reason: {L.display(r)} ({conf:.0%})."
        else:
            status, label, conf = "reason_unclear", CRY, found.probability
            msg = f"{head} Reason unclear from the sound" + (": " + ", ".join(
                L.display(r).lower() for r in reason["order"][:3]) + " are the ones worth checking first."
                if reason["order"] else ".")
        return Prediction(name, label, conf, reason["probabilities"], status, msg, dur, lvl, timeline, self.run_id,
                          cry=cry, heard=CRY, reason=reason)

    @staticmethod
    def _verdict_probabilities(verdict, windows: dict[str, float]) -> dict[str, float]:
        """The verdict's P(cry), P(laugh) and P(other), its "other" shared among speech / noise / silence as the
        windows heard them: one distribution for the answer, its confidence and the page's bars."""
        rest = {c: p for c, p in windows.items() if c not in (CRY, "laugh")}
        total = sum(rest.values())
        other = verdict.probabilities.get("other", 0.0)
        out = {CRY: verdict.p_cry, "laugh": verdict.probabilities.get("laugh", 0.0)}
        out.update({c: other * (p / total if total > 0 else 1 / len(rest)) for c, p in rest.items()})
        return out

    def _cry_audio(self, y: np.ndarray, starts: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """The crying part of the recording: the detector's cry segments joined (the whole when too little)."""
        sr, d = self.cfg.sample_rate, self.detector
        hop_s = d.cfg.window_hop_samples / sr
        seg, p = segment_probability(starts, proba[:, d.cry_index], d.cfg.clip_seconds, hop_s, len(y) / sr)
        keep = [y[int(s * sr): int((s + hop_s) * sr)] for s, q in zip(seg, p) if q >= d.threshold]
        joined = np.concatenate(keep) if keep else y
        return joined if len(joined) >= MIN_CRY_AUDIO_S * sr else y

    def why(self, y: np.ndarray, seconds: float) -> dict:
        """Step 2: the reason model's calibrated probabilities, the prior, and a reason only where validated."""
        if self.reason is None:
            return {"label": None, "named": False, "probabilities": {}, "prior": {}, "order": [], "thresholds": {},
                    "held_out": {}, "model": None, "seconds_heard": seconds}
        sr_in, sr_reason = self.cfg.sample_rate, self.reason.cfg.sample_rate
        if sr_reason != sr_in:
            y = resample(y, sr_in, sr_reason)
        pred = self.reason.predict_waveform(y, "cry")
        probs = {c: float(pred.probabilities.get(c, 0.0)) for c in self.labels}
        reasons, prior = self.naming["reasons"], self.naming["prior"]
        top = max(probs, key=probs.get)
        thr = reasons.get(top, {}).get("threshold")
        named = thr is not None and probs[top] >= thr
        evidence = [r for r in self.labels if reasons.get(r, {}).get("threshold") is not None
                    and probs[r] >= reasons[r]["threshold"]]
        rest = sorted((r for r in self.labels if r not in evidence), key=lambda r: -prior.get(r, 0.0))
        return {"label": top if named else None, "named": bool(named), "probabilities": probs, "prior": prior,
                "order": sorted(evidence, key=lambda r: -probs[r]) + rest,
                "thresholds": {r: reasons.get(r, {}).get("threshold") for r in self.labels},
                "held_out": self.naming.get("held_out", {}), "model": self.reason.run_id, "seconds_heard": seconds}

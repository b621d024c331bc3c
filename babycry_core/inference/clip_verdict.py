"""The upload answer: is this recording crying, laughing (or babbling), or something else? Three answers.

The window detector (CNN and YAMNet fused every 0.5 s, inference/cry_fusion.py) hears 2 s at a time, and a 2 s
window of a laughing baby sounds much like one of a crying baby. The verdict hears the whole recording (up to
CONTEXT_S; longer ones in overlapping contexts, the most cry-like one answers): YAMNet's patch sequence, level-
normalised (features/yamnet_sequence.py), summed up as

    the mean, max and spread of the 1024-d patch embeddings            what the sound is like, and how it varies
    the mean and max logit of RIVALS, YAMNet's crying, laughing,       the rival classes, weighed against each other
      babbling, speech and other voice scores                          rather than folded into "not a cry"
    how often and by how much the crying scores beat the laughing ones

and a multinomial logistic regression says P(cry), P(laugh), P(other). Two thresholds on P(cry), both chosen on
validation recordings (training/clip_verdict_fit.py) and stored in the run folder's verdict.json, give the answer:

    crying    P(cry) >= cry_threshold
    unsure    lo_threshold <= P(cry) < cry_threshold: "Not sure: it may be laughing, babbling or fussing"
    no_cry    P(cry) < lo_threshold

numpy only (and the TFLite interpreter): no torch, no scikit-learn.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babycry_core import fileio
from babycry_core.runs.run_folder import RunFolder

FILE, HEAD_FILE = RunFolder.VERDICT_FILES
CLASSES = ("cry", "laugh", "other")
CRYING, UNSURE, NO_CRY = "crying", "unsure", "no_cry"
CRY_SCORES = (20, 19, 21, 22)  # YAMNet: Baby cry, Crying/sobbing, Whimper, Wail/moan
LAUGH_SCORES = (13, 14, 15, 17, 18)  # Laughter, Baby laughter, Giggle, Belly laugh, Chuckle
RIVALS = (*CRY_SCORES, *LAUGH_SCORES,
          4, 111, 29,  # Babbling, Coo, Child singing
          0, 1, 2, 3,  # Speech, Child speech, Conversation, Narration
          6, 9, 10, 11, 132, 494, 23, 36)  # Shout, Yell, Children shouting, Screaming, Music, Silence, Sigh, Breathing
CONTEXT_S, CONTEXT_HOP_S = 10.0, 5.0
PATCH_HOP_S = 0.48  # YAMNet's patches (features/yamnet_sequence.py)
EPS = 1e-4


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def clip_features(scores: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """One context's features (3 * 1024 + 2 * len(RIVALS) + 3,) from its patches' scores (patches, 521) and
    embeddings (patches, 1024)."""
    scores, emb = np.asarray(scores, np.float64), np.asarray(emb, np.float64)
    r = _logit(scores[:, list(RIVALS)])  # (patches, rivals)
    c, lg = scores[:, list(CRY_SCORES)].max(1), scores[:, list(LAUGH_SCORES)].max(1)
    duel = [(c > lg).mean(), _logit(c).mean() - _logit(lg).mean(), _logit(c).max() - _logit(lg).max()]
    return np.concatenate([emb.mean(0), emb.max(0), emb.std(0), r.mean(0), r.max(0), duel])


def contexts(n_patches: int) -> list[slice]:
    """The patch ranges of a recording's contexts: the whole when it is short, else CONTEXT_S every CONTEXT_HOP_S."""
    size, hop = int(round(CONTEXT_S / PATCH_HOP_S)), int(round(CONTEXT_HOP_S / PATCH_HOP_S))
    if n_patches <= size:
        return [slice(0, n_patches)]
    starts = list(range(0, n_patches - size + 1, hop))
    if starts[-1] + size < n_patches:
        starts.append(n_patches - size)
    return [slice(s, s + size) for s in starts]


@dataclass
class Verdict:
    """One recording's upload answer."""

    answer: str  # crying / unsure / no_cry
    probabilities: dict[str, float]  # P(cry), P(laugh), P(other) of the answering context
    heard: str  # what the verdict hears most, cry aside: laugh or other
    context: tuple[float, float]  # the answering context, seconds
    thresholds: tuple[float, float] = (0.5, 0.2)  # (cry_threshold, lo_threshold) it was judged by

    @property
    def p_cry(self) -> float:
        return self.probabilities["cry"]


@dataclass
class ClipVerdict:
    """A fitted verdict: standardisation, multinomial logistic weights and the two thresholds (see the module doc)."""

    mean: np.ndarray  # (features,)
    scale: np.ndarray
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    cry_threshold: float
    lo_threshold: float
    classes: tuple[str, ...] = CLASSES
    model_key: str = ""
    handle: str | None = None
    info: dict = field(default_factory=dict)

    def proba(self, X: np.ndarray) -> np.ndarray:
        """(rows, classes) probabilities of feature rows X (rows, features)."""
        z = ((np.atleast_2d(X) - self.mean) / self.scale) @ self.coef.T + self.intercept
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def answer_of(self, p_cry: float) -> str:
        return CRYING if p_cry >= self.cry_threshold else UNSURE if p_cry >= self.lo_threshold else NO_CRY

    def judge_sequence(self, scores: np.ndarray, emb: np.ndarray) -> Verdict:
        """The verdict on a recording's YAMNet patch sequence: its most cry-like context answers."""
        if not len(scores):
            raise ValueError("no YAMNet patches: the recording is empty")
        ctx = contexts(len(scores))
        P = self.proba(np.stack([clip_features(scores[c], emb[c]) for c in ctx]))
        i = int(np.argmax(P[:, self.classes.index("cry")]))
        probs = dict(zip(self.classes, map(float, P[i])))
        heard = max((c for c in self.classes if c != "cry"), key=probs.get)
        c = ctx[i]
        return Verdict(self.answer_of(probs["cry"]), probs, heard, (c.start * PATCH_HOP_S, c.stop * PATCH_HOP_S),
                       (self.cry_threshold, self.lo_threshold))

    def judge(self, y: np.ndarray, sr: int) -> Verdict:
        """The verdict on a waveform at `sr` (the detector's 8 kHz)."""
        from babycry_core.features.yamnet_sequence import patch_sequence

        return self.judge_sequence(*patch_sequence(y, sr, self.handle, cache=False))

    # ---------------------------------------------------------------- files

    def save(self, folder: Path | RunFolder) -> list[str]:
        from safetensors.numpy import save

        folder = RunFolder.of(folder)
        folder.write_bytes(HEAD_FILE, save({"mean": self.mean.astype(np.float32),
                                            "scale": self.scale.astype(np.float32),
                                            "coef": self.coef.astype(np.float32),
                                            "intercept": self.intercept.astype(np.float32)}))
        folder.write(FILE, {
            "classes": list(self.classes), "cry_threshold": float(self.cry_threshold),
            "lo_threshold": float(self.lo_threshold), "yamnet_model_key": self.model_key, "yamnet_handle": self.handle,
            "head_sha256": fileio.sha256_file(folder.file(HEAD_FILE)), **self.info})
        return [FILE, HEAD_FILE]

    @classmethod
    def load(cls, folder: Path | RunFolder) -> "ClipVerdict":
        from safetensors.numpy import load_file

        folder = RunFolder.of(folder)
        d = folder.read(FILE)
        if fileio.sha256_file(folder.file(HEAD_FILE)) != d.get("head_sha256"):
            raise ValueError(f"{folder.file(HEAD_FILE)} does not match the sha256 in {FILE}")
        t = load_file(str(folder.file(HEAD_FILE)))
        known = {"classes", "cry_threshold", "lo_threshold", "yamnet_model_key", "yamnet_handle", "head_sha256"}
        return cls(t["mean"].astype(np.float64), t["scale"].astype(np.float64), t["coef"].astype(np.float64),
                   t["intercept"].astype(np.float64), float(d["cry_threshold"]), float(d["lo_threshold"]),
                   tuple(d["classes"]), d.get("yamnet_model_key", ""), d.get("yamnet_handle"),
                   {k: v for k, v in d.items() if k not in known})


def attach(det) -> None:
    """Give a loaded detector its upload verdict when its folder has one (det.verdict); without YAMNet's weights (or
    with other ones), det.verdict_error says why and uploads get the window detector's two answers."""
    from babycry_core.inference.cry_fusion import yamnet_side

    det.verdict, e = yamnet_side(det.folder, FILE, ClipVerdict.load)
    if e is not None:
        det.verdict_error = f"uploads get the window detector's answer: {e}"

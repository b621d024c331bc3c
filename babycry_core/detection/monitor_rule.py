"""The monitor's alert rule (issue 30): how sure the upload verdict must be before Listen and `detect` raise an alert,
chosen on validation nights.

The window detector hears 2 s at a time and calls most laughing babies crying; the verdict hears up to 10 s and
does not (inference/clip_verdict.py). On a monitor the windows still find the spell and date its start; the alert
waits for the verdict on the spell heard so far, at most its last CONFIRM_SECONDS (detection/episodes.py,
EpisodeRule.confirm_threshold).

Nights (augment/nights.py) are made from *validation* recordings only: per background (room, speech of men, women
and children, same-app uploads, household and street, laughing babies, belly laughs, silence) one night with cries
at known times and one without. The windows are scored once; each candidate threshold in CONFIRM_THRESHOLDS (and
none) then finds the episodes, the verdict's answers cached per moment heard. Kept: the best event F1 (eval/events.py)
among the thresholds with at most MAX_FALSE_ALERTS per hour on every background and a median alert delay within
MAX_DELAY_S; when none qualifies, the fewest false alerts per hour (mean over the backgrounds) among those within
F1_GIVE of the windows' own event F1 and FOUND_GIVE of the share of cries they find. Stored under "monitor" in the
run's verdict.json, with the whole table, and shown on its card.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

CONFIRM_THRESHOLDS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
CONFIRM_SECONDS, RECHECK_SECONDS = 8.0, 2.0
MAX_FALSE_ALERTS, MAX_DELAY_S = 1.0, 10.0  # the night targets
F1_GIVE = 0.02  # when no threshold meets them: the fewest false alerts that cost at most this much event F1 ...
FOUND_GIVE = 0.05  # ... and this much of the cries found (any overlap; one validation cry is about 1 %)
CRY_MINUTES, BG_MINUTES = 12.0, 30.0  # per background, from the validation part


def make_nights(frame, seed: int = 0, cry_minutes: float = CRY_MINUTES, bg_minutes: float = BG_MINUTES) -> list[dict]:
    """A cry night and a background-only night per background that `frame`'s recordings can make (nights.nights_of)."""
    from babycry_core.augment.nights import material, nights_of

    mat = material(frame)
    if not mat.get("cry") or not mat.get("room"):
        raise ValueError("validation nights need held-out cries and room tone (the silence kind)")
    return nights_of(mat, np.random.default_rng(seed), cry_minutes, bg_minutes)


def window_series(det, y: np.ndarray, rule=None) -> tuple[np.ndarray, np.ndarray]:
    """(window starts in s, P(cry)) of a long waveform at the detector's rate, scored as a monitor streams it."""
    from babycry_core.detection.episodes import EpisodeEngine, EpisodeRule

    eng = EpisodeEngine(det, rule or EpisodeRule.for_detector(det, confirm_threshold=None), reasons=False)
    step = 30 * det.cfg.sample_rate
    for i in range(0, len(y), step):
        eng.feed(y[i: i + step])
    eng.finish()
    return eng.series()


class VerdictAt:
    """The verdict's P(cry) on a recording's audio from `since` to `heard` s (at most its last `seconds`), cut as the
    engine cuts it (episodes.confirm_span); cached: a sweep asks again."""

    def __init__(self, verdict, y: np.ndarray, sr: int, seconds: float = CONFIRM_SECONDS):
        self.verdict, self.y, self.sr, self.seconds = verdict, y, sr, seconds
        self.cache: dict[tuple[float, float], float] = {}

    def __call__(self, heard: float, since: float = 0.0) -> float:
        from babycry_core.detection.episodes import confirm_span

        key = (round(heard, 3), round(since, 3))
        if key not in self.cache:
            start, end = confirm_span(heard, since, self.seconds, self.sr)
            self.cache[key] = self.verdict.judge(self.y[max(0, start): end], self.sr).p_cry
        return self.cache[key]


def confirms(p_at, threshold: float):
    """find_episodes' confirm(heard, since) for one recording: its verdict (p_at, e.g. a VerdictAt) at `threshold`."""
    return lambda heard, since: p_at(heard, since) >= threshold


def night_scores(nights: list[dict], rule, threshold: float | None) -> dict:
    """Event F1 and median delay on the cry nights, false alerts per hour per background on the others, for `rule`
    confirmed at `threshold` (None: the windows alone). Each night needs "starts", "p" and "p_at" (a VerdictAt)."""
    from babycry_core.augment.nights import matches
    from babycry_core.detection.episodes import find_episodes
    from babycry_core.eval.events import event_f1, per_hour

    r = replace(rule, confirm_threshold=threshold)
    found = [{**n, "found": find_episodes(n["starts"], n["p"], r, confirm=confirms(n["p_at"], threshold))}
             for n in nights]
    cry = [n for n in found if n["kind"] == "cry"]
    rows = [m for n in cry for m in matches(n["events"], n["found"])]
    delays = [m["delay"] for m in rows if m["found"]]
    only = [n for n in found if n["kind"] == "only"]
    fa = {b: round(per_hour([n for n in only if n["background"] == b]), 3)
          for b in dict.fromkeys(n["background"] for n in only)}
    f1 = event_f1(cry)["f1"] if cry else None
    return {"event_f1": None if f1 is None else round(float(np.nan_to_num(f1)), 4),  # nothing found: 0, not NaN
            "median_delay_s": round(float(np.median(delays)), 2) if delays else None,
            "cries_found": round(float(np.mean([m["found"] for m in rows])), 4) if rows else None,
            "false_alerts_per_hour": fa, "worst_false_alerts_per_hour": max(fa.values(), default=0.0)}


def pick(table: dict) -> str:
    """The kept row of a {name: night_scores} table (the module doc's rule)."""
    ok = [k for k, v in table.items() if v["worst_false_alerts_per_hour"] <= MAX_FALSE_ALERTS
          and v["median_delay_s"] is not None and v["median_delay_s"] <= MAX_DELAY_S]
    if ok:
        return max(ok, key=lambda k: table[k]["event_f1"] or 0.0)
    base = table.get("none", {})
    near = [k for k, v in table.items() if (v["event_f1"] or 0.0) >= (base.get("event_f1") or 0.0) - F1_GIVE
            and (v.get("cries_found") or 0.0) >= (base.get("cries_found") or 0.0) - FOUND_GIVE] or list(table)
    mean_fa = lambda k: float(np.mean(list(table[k]["false_alerts_per_hour"].values()) or [0.0]))  # noqa: E731
    return min(near, key=lambda k: (mean_fa(k), -(table[k]["event_f1"] or 0.0)))


def score_nights(det, verdict, nights: list[dict], progress: bool = False) -> None:
    """Give each night its window series ("starts", "p") and its verdict-at-a-moment ("p_at")."""
    from tqdm import tqdm

    for n in tqdm(nights, desc="validation nights", disable=not progress):
        n["starts"], n["p"] = window_series(det, n["y"])
        n["p_at"] = VerdictAt(verdict, n["y"], det.cfg.sample_rate)


def choose(det, verdict, nights: list[dict], progress: bool = False) -> dict:
    """The monitor rule for `det` confirmed by `verdict`, chosen on scored validation nights (see the module doc)."""
    from babycry_core.detection.episodes import EpisodeRule

    if "p" not in nights[0]:
        score_nights(det, verdict, nights, progress)
    rule = EpisodeRule.for_detector(det, confirm_threshold=None, confirm_seconds=CONFIRM_SECONDS,
                                    recheck_seconds=RECHECK_SECONDS)
    table = {"none": night_scores(nights, rule, None)}
    table.update({f"{t:g}": night_scores(nights, rule, t) for t in CONFIRM_THRESHOLDS})
    kept = pick(table)
    return {"confirm_threshold": None if kept == "none" else float(kept), "confirm_seconds": CONFIRM_SECONDS,
            "recheck_seconds": RECHECK_SECONDS, "kept": kept, "validation": table,
            "rule": f"best event F1 with <= {MAX_FALSE_ALERTS:g} false alert per hour on every background and a median "
                    f"delay <= {MAX_DELAY_S:g} s; else the fewest false alerts per hour (mean over backgrounds) within "
                    f"{F1_GIVE:g} of the windows' event F1 and {FOUND_GIVE:g} of the cries they find",
            "nights": {"cry_hours": round(sum(n["seconds"] for n in nights if n["kind"] == "cry") / 3600, 2),
                       "background_hours": round(sum(n["seconds"] for n in nights if n["kind"] == "only") / 3600, 2),
                       "cries": sum(len(n["events"]) for n in nights),
                       "verdict_checks": sum(len(n["p_at"].cache) for n in nights)}}


def monitor_run(run_dir, seed: int = 0, progress: bool = True) -> dict:
    """`python -m babycry_core monitor RUN` (and the end of `verdict RUN`): choose the monitor rule of a run with an
    upload verdict on nights from its split.json's validation part, and store it under "monitor" in verdict.json."""
    from babycry_core.data import manifest as data
    from babycry_core.inference.cry_detector import CryDetector
    from babycry_core.runs.checkpoint import load
    from babycry_core.runs.run_folder import RunFolder

    folder = RunFolder.of(run_dir)
    det = CryDetector(load(folder), folder)
    if det.verdict is None:
        raise ValueError(f"{folder.name} has no upload verdict to confirm alerts with "
                         f"({det.verdict_error or 'run `python -m babycry_core verdict` first'})")
    val_ids = set(folder.read(RunFolder.SPLIT)["val"])
    manifest = data.load_manifest("detect")
    frame = manifest[manifest["clip_id"].isin(val_ids)]
    monitor = choose(det, det.verdict, make_nights(frame, seed), progress)
    monitor["validation_recordings"], monitor["seed"] = int(len(frame)), seed
    source = folder.read(RunFolder.CONFIG, default={}).get("verdict_from")
    if source:
        monitor["note"] = (f"The windows come from {source}, trained on its own split: some of these validation "
                           "recordings may be in their training part, so the windows look better here than on new "
                           "nights; `bench episodes` scores held-out folds")
    folder.update(RunFolder.VERDICT, monitor=monitor)
    return monitor

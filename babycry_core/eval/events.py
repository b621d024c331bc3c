"""Event scores of crying episodes on nights with known cries: one definition for `bench episodes` and the monitor
rule's validation nights (detection/monitor_rule.py).

A night is a dict with "name", "events" (true cries: {"onset", "offset"} in s) and a list of found episodes (any
objects with .start and .end, in s) under `found_key`.
"""
from __future__ import annotations


def event_f1(nights, found_key: str = "found", offsets: bool = False) -> dict:
    """sed_eval's event-based F1 over the nights: onsets within a 1 s collar (offsets, when judged, within 50 %)."""
    import dcase_util
    import sed_eval

    m = sed_eval.sound_event.EventBasedMetrics(event_label_list=["cry"], t_collar=1.0, percentage_of_length=0.5,
                                               evaluate_onset=True, evaluate_offset=offsets)
    for n in nights:
        ref = dcase_util.containers.MetaDataContainer(
            [{"filename": n["name"], "onset": e["onset"], "offset": e["offset"], "event_label": "cry"} for e in n["events"]])
        est = dcase_util.containers.MetaDataContainer(
            [{"filename": n["name"], "onset": e.start, "offset": e.end, "event_label": "cry"} for e in n[found_key]])
        m.evaluate(reference_event_list=ref, estimated_event_list=est)
    o = m.results_overall_metrics()
    return {"f1": float(o["f_measure"]["f_measure"]), "precision": float(o["f_measure"]["precision"]),
            "recall": float(o["f_measure"]["recall"])}


def per_hour(nights, found_key: str = "found") -> float:
    """Found episodes per hour over background-only nights (each with "seconds")."""
    hours = sum(n["seconds"] for n in nights) / 3600
    return sum(len(n[found_key]) for n in nights) / hours if hours else 0.0

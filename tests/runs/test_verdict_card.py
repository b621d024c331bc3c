"""The model card's monitor section (runs/verdict_card.py): the kept threshold and the validation-night table."""
from babycry_core.runs.verdict_card import monitor_lines


def _row(f1, found, delay, fa):
    return {"event_f1": f1, "cries_found": found, "median_delay_s": delay, "false_alerts_per_hour": fa,
            "worst_false_alerts_per_hour": max(fa.values())}


def test_monitor_section_names_the_kept_threshold_and_the_worst_background():
    m = {"confirm_threshold": 0.9, "confirm_seconds": 8.0, "recheck_seconds": 2.0, "kept": "0.9", "rule": "the rule",
         "validation_recordings": 400, "nights": {"cry_hours": 1.8, "cries": 97, "background_hours": 4.5},
         "validation": {"none": _row(0.41, 0.9, 4.0, {"room": 0.0, "baby_laughter": 68.0}),
                        "0.9": _row(0.42, 0.89, 5.2, {"room": 0.0, "baby_laughter": 34.0, "same_app": 40.0})}}
    text = "\n".join(monitor_lines(m))
    assert "P(cry) >= **0.90**" in text and "every 2 s" in text and "400 validation recordings" in text
    assert "at most its last 8 s" in text
    assert "| none | 0.41 | 90.0% | 4.0 | 68.0 | baby_laughter |" in text
    assert "| 0.9 (kept) | 0.42 | 89.0% | 5.2 | 40.0 | same_app |" in text
    none_kept = dict(m, confirm_threshold=None, kept="none")
    assert "The windows alone raise the alert" in "\n".join(monitor_lines(none_kept))
    assert monitor_lines(None) == []

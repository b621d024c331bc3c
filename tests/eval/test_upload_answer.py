"""Figures of the three-way upload answer (eval/upload_answer.py), on predictions alone."""
from __future__ import annotations

import pytest

from babycry_core.eval.upload_answer import format_rows, shares, upload_figures


def test_shares_and_an_empty_list():
    assert shares(["crying", "unsure", "crying", "no_cry"]) == {"crying": 0.5, "unsure": 0.25, "no_cry": 0.25, "n": 4}
    assert shares([])["crying"] is None


def test_unsure_counts_as_missed_cry_and_as_no_alarm_and_uncertain_kinds_are_apart():
    answers = ["crying", "unsure", "crying", "unsure", "no_cry", "crying", "crying"]
    kinds = ["cry", "cry", "baby_laughter", "baby_laughter", "same_app", "same_app_uncertain", "same_app_uncertain"]
    groups = ["b1", "b2", "v1", "v2", "u1", "u2", "u3"]
    f = upload_figures(answers, kinds, groups, quiet_answers=["crying", "no_cry"], upload_answers=["crying"])
    assert f["recall"] == pytest.approx(0.5) and f["precision"] == pytest.approx(0.5)
    assert f["n"] == 5 and f["n_uncertain"] == 2  # the uncertain uploads are no false alarms
    assert f["by_kind"]["same_app_uncertain"]["crying"] == 1.0 and f["by_kind"]["quiet_cry"]["no_cry"] == 0.5
    t = f["targets_met"]
    assert t["uploads"] and not t["cry_crying"] and t["cry_no_cry"] and not t["crying_baby_laughter"]
    assert t["crying_same_app"] and "crying_same_app_uncertain" not in t
    table = format_rows({"verdict": f})
    assert "| verdict |" in table and "0.500 / 0.500 / 0.000" in table and "1 of 1 crying" in table

"""The Compare page (AppTest): empty state, two tiny trained runs side by side, damaged folders, leaderboard."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from babycry_core import fileio, paths
from babycry_core.runs import run_registry as runs
from babycry_core.ui import run_plots as rp
from tests.conftest import tiny_train_config

PAGE = str(paths.ROOT / "pages" / "2_Compare.py")


def plotly_specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def heatmaps(at) -> list[dict]:
    return [t for spec in plotly_specs(at) for t in spec["data"] if t.get("type") == "heatmap"]


def test_compare_without_checkpoints():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)
    assert not at.get("plotly_chart")


@pytest.fixture
def two_runs(tiny_data):
    from babycry_core.training.loop import fit

    return [fit(tiny_train_config(epochs=2, seed=s), progress=False) for s in (0, 1)]


def test_compare_two_runs(two_runs):
    # a damaged folder beside them: listed with its reason, never a crash
    bad = paths.checkpoints_dir() / "20200101-000000-cnn-dead"
    bad.mkdir()
    fileio.write_json(bad / "status.json", {"status": "finished"})
    # a speed benchmark for the cnn, and a leaderboard with both protocols
    fileio.write_json(paths.results_dir() / "bench_speed.json",
                      [{"model": "cnn", "t1": {"end_to_end": {"median_ms": 12.5}}}])
    fileio.write_json(paths.results_dir() / "leaderboard.json", [
        {"model": "cnn", "protocol": "grouped", "macro_f1": {"mean": 0.31, "std": 0.05}},
        {"model": "cnn", "protocol": "random", "macro_f1": {"mean": 0.52, "std": 0.04}}])

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("damaged" in w.value for w in at.warning)
    assert sorted(at.multiselect[0].value) == sorted(p.name for p in two_runs)

    table = at.dataframe[0].value  # metrics as rows, runs side by side as columns
    assert set(table.columns) == {p.name for p in two_runs}
    assert (table.loc["latency / clip"] == "12.5 ms").all()
    assert table.loc["macro-F1 [95% CI]"].str.contains(r"\[").all()
    assert (table.loc[rp.CRY_ROW] == rp.DASH).all()  # five-class runs: no whole-recording cry answer

    # five-class CNN runs have no cry metrics: that section is skipped; coverage vs accuracy still shows
    assert not any("no-cry" in h.value for h in at.subheader)
    coverage = [s for s in plotly_specs(at) if "coverage" in str(s["layout"].get("xaxis", {}).get("title"))]
    assert len(coverage) == 1 and len([t for t in coverage[0]["data"] if t.get("mode") == "lines"]) == 2

    maps = heatmaps(at)
    assert len(maps) == 2  # one confusion matrix per run
    assert all(max(max(row) for row in m["z"]) <= 1.0 for m in maps)  # normalised by default
    at.toggle[0].set_value(False).run()
    raw = heatmaps(at)
    assert len(raw) == 2 and sum(sum(row) for row in raw[0]["z"]) == len(runs.run_info(two_runs[0]).metrics["test_labels"])

    traces = [t for spec in plotly_specs(at) for t in spec["data"]]
    assert any(t.get("name", "").endswith("· val") for t in traces)  # training curves overlaid
    assert any("honest" in m.value.lower() for m in at.markdown)  # the leaky-gap sentence
    assert any("recognises the baby" in m.value for m in at.markdown)

    at.radio[0].set_value("all wrong").run()  # the disagreement filter
    assert not at.exception


def test_compare_leaderboard_hint_when_absent(trained_run):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("bench accuracy" in i.value for i in at.info)
    assert len(heatmaps(at)) == 1  # a single run still renders


def test_metrics_table_shows_a_detectors_answer_per_recording(two_runs):
    """A cry detector's windows are scored over five classes; its own question gets a row of its own."""
    plain = runs.run_info(two_runs[0])
    detector = runs.run_info(two_runs[1])
    detector.metrics = {**detector.metrics,
                        "cry": {"f1": 0.8869, "recall": 0.9027, "false_alarm_rate": 0.0444, "n": 451}}
    table = rp.metrics_table([plain, detector]).set_index("run")[rp.CRY_ROW]
    assert table.tolist() == [rp.DASH, "F1 0.887 · recall 0.903 · false alarms 4.4% · 451 recordings"]


def test_compare_shows_the_upload_answer_per_kind(trained_run):
    """`bench upload`'s report (the committed one) becomes a table of models side by side and a bar per kind; without
    it, a hint names the command."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert any("bench upload" in i.value for i in at.info)
    rep = json.loads((paths.ROOT / "results" / "upload_answer.json").read_text())
    fileio.write_json(paths.results_dir() / "upload_answer.json", rep)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    frames = [d.value for d in at.dataframe if "F1 of 'crying' [95 % CI]" in d.value.index]
    assert len(frames) == 1
    table = frames[0]
    recipe = table["shipped recipe (upload verdict), grouped folds"]
    assert recipe["laughing babies · crying"] == f"{rep['models']['verdict']['by_kind']['baby_laughter']['crying']:.1%}"
    bars = [t for s in plotly_specs(at) for t in s["data"] if t.get("type") == "bar" and "cries" in t.get("x", [])]
    assert len(bars) == len(rep["models"])
    assert bars[0]["y"][0] == pytest.approx(rep["models"]["verdict"]["by_kind"]["cry"]["crying"])

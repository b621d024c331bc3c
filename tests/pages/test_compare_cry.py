"""The Compare page with a run that can say "no cry" (the tiny two-stage run of test_two_stage_fit) beside a tiny
CNN run: the separate cry figures, by-tag chart, groups per class and the coverage curve render; CNN runs alone
skip the cry section."""
from __future__ import annotations

import json
import shutil

from streamlit.testing.v1 import AppTest

from babycry_core import fileio, paths
from tests.training.test_two_stage_fit import tiny_combined, two_stage_run  # noqa: F401  (fixtures, shared rather than copied)

PAGE = str(paths.ROOT / "pages" / "2_Compare.py")
CRY_HEADER = "Cry vs no-cry"


def specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def axis_title(spec: dict, axis: str = "xaxis") -> str:
    t = spec["layout"].get(axis, {}).get("title", {})
    return t.get("text", "") if isinstance(t, dict) else str(t)


def test_compare_two_stage_beside_cnn(two_stage_run, trained_run):  # noqa: F811
    two = paths.checkpoints_dir() / "20990101-000000-two_stage-beef"  # the module's run, listed beside the CNN
    shutil.copytree(two_stage_run, two)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert sorted(at.multiselect[0].value) == sorted([two.name, trained_run.name])

    assert any(h.value.startswith(CRY_HEADER) for h in at.subheader)
    cry = next(df.value for df in at.dataframe if any("false alarms" in str(i) for i in df.value.index))
    assert list(cry.columns) == [two.name]  # the CNN run has no cry figures: not a column of dashes
    assert cry.loc["cry vs no-cry · F1 of cry"].iloc[0] != "—"
    assert cry.loc["reason only · cry classes"].iloc[0] == "2"  # hungry, tired
    assert cry.loc["flat · classes"].iloc[0] == "5"  # and laugh, noise, silence
    assert cry.loc["flat · macro-F1 over all classes"].iloc[0] != "—"
    assert any(trained_run.name in c.value and "no cry metrics" in c.value for c in at.caption)

    per_class = next(df.value for df in at.dataframe if "test groups" in df.value.columns)
    assert {"hungry", "tired", "laugh", "noise"} <= set(per_class.index)
    assert per_class["test groups"].notna().any() and "F1" in per_class.columns

    charts = specs(at)
    assert any("age or gender tag" in c.value for c in at.caption)  # the tiny test part has no tagged clip

    coverage = next(s for s in charts if axis_title(s).startswith("coverage"))
    lines = [t for t in coverage["data"] if t.get("mode") == "lines"]
    assert {t["name"] for t in lines} == {two.name, trained_run.name}
    assert all(0 < min(t["x"]) and max(t["x"]) == 1.0 for t in lines)  # the sweep ends answering every clip
    assert any(t.get("marker", {}).get("symbol") == "star" for t in coverage["data"])  # stored threshold

    reliability = next(s for s in charts if axis_title(s) == "confidence")
    assert any("ECE" in (t.get("name") or "") for t in reliability["data"])

    # tag figures as a real Donate-a-Cry test part has them: macro-F1 by age band and by gender
    metrics = fileio.read_json(two / "metrics.json")
    entry = {"clips": 6, "groups": 3, "macro_f1": 0.5, "macro_f1_ci": [0.2, 0.8], "reason_macro_f1": 0.6}
    metrics["by_tag"] = {"age": {"04": {**entry, "name": "0-4 weeks"}, "26": {**entry, "name": "2-6 months"}},
                         "gender": {"m": {**entry, "name": "male"}, "f": {**entry, "clips": 1, "name": "female"}}}
    fileio.write_json(two / "metrics.json", metrics)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception

    def labels(spec):
        return [str(x) for t in spec["data"] for x in t.get("x") or []]

    tags = next(s for s in specs(at) if any(x.startswith("0-4 weeks") for x in labels(s)))
    assert any(x.startswith("male") for x in labels(tags))  # by age band and by gender
    assert "female<br>1 clip · 3 babies" in labels(tags)  # what each bar rests on

    at.multiselect[0].set_value([trained_run.name]).run()  # the CNN alone: no cry section, still a coverage curve
    assert not at.exception
    assert not any(h.value.startswith(CRY_HEADER) for h in at.subheader)
    assert any(axis_title(s).startswith("coverage") for s in specs(at))

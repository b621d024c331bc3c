"""`bench startup` once (N=1): --help and predict in fresh processes, medians, peak RSS and the ratio written to
the JSON. Timings themselves are not tested (they are the benchmark's output)."""
from __future__ import annotations

import json

from babycry_core import paths
from babycry_core.audio import synth
from babycry_core.cli.main import build_parser, main


def test_bench_startup_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BABYCRY_CHECKPOINTS", str(paths.ROOT / "checkpoints"))  # the shipped default answers
    clip = tmp_path / "cry.wav"
    clip.write_bytes(synth.to_wav_bytes(synth.cry_sweep(3.0)))
    out = tmp_path / "bench_startup.json"
    assert main(["bench", "startup", "--repeats", "1", "--clip", str(clip), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["repeats"] == 1 and res["clip"] == str(clip)
    for name in ("help", "predict"):
        c = res["commands"][name]
        assert len(c["runs"]) == 1 and c["wall_s"]["min"] <= c["wall_s"]["median"] <= c["wall_s"]["max"]
        assert c["peak_rss_mb"]["max"] > 10 and c["cpu_s"]["median"] > 0
    assert res["ratio_predict_help"] > 1  # predict loads models: never cheaper than --help
    printed = capsys.readouterr().out
    assert "predict / --help" in printed and str(out) in printed


def test_bench_startup_defaults():
    a = build_parser().parse_args(["bench", "startup"])
    assert a.kind == "startup" and a.repeats is None and a.clip is None  # None: 5 fresh processes each

"""The CLI: --help everywhere, predict's JSON contract and exit codes, data/train/evaluate end to end."""
import json
import os
import subprocess
import sys

import pytest

from babycry_core import paths
from babycry_core.cli.main import main

SUBCOMMANDS = ["data", "train", "evaluate", "predict", "runs", "models", "bench"]


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "babycry_core", *args], capture_output=True, text=True,
                          cwd=paths.ROOT, env=os.environ.copy(), timeout=timeout)


def test_help_lists_every_subcommand():
    r = run_cli("--help")
    assert r.returncode == 0
    for s in SUBCOMMANDS:
        assert s in r.stdout


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_each_subcommand_has_help(sub, capsys):
    with pytest.raises(SystemExit) as e:
        main([sub, "--help"])
    assert e.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["predict"])
    assert e.value.code == 2


def test_predict_json_with_one_bad_file(trained_run, wav_file, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    code = main(["predict", str(wav_file), str(bad), "--run", str(trained_run), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    ok, err = out
    assert set(ok) >= {"file", "label", "confidence", "probabilities", "timeline"}
    assert ok["label"] in ok["probabilities"] and ok["confidence"] == pytest.approx(max(ok["probabilities"].values()))
    assert set(err) == {"file", "error"} and "\n" not in err["error"]


def test_predict_text_and_default_run(trained_run, wav_file, capsys):
    # without --run the app's default checkpoint is used: the only finished run here
    assert main(["predict", str(wav_file)]) == 0
    out = capsys.readouterr().out
    assert str(wav_file) in out and "[" in out


def test_predict_long_file_prints_timeline(trained_run, tmp_path, capsys):
    import soundfile as sf

    from babycry_core.audio import synth

    f = tmp_path / "long.wav"
    sf.write(f, synth.cry_sweep(9.0, 8000), 8000)  # 2 s model windows → a timeline
    assert main(["predict", str(f), "--run", str(trained_run), "--json"]) == 0
    [res] = json.loads(capsys.readouterr().out)
    assert len(res["timeline"]) >= 4 and res["timeline"][0]["start"] == 0.0


def test_predict_without_any_checkpoint(wav_file, capsys):
    assert main(["predict", str(wav_file)]) == 2
    assert "no trained checkpoint" in capsys.readouterr().err


def test_predict_refuses_oversized_file(trained_run, tmp_path, capsys):
    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(26 * 1024 * 1024)
    assert main(["predict", str(big), "--run", str(trained_run)]) == 1
    assert "25 MB" in capsys.readouterr().out


def test_data_train_evaluate_runs_subprocess(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("BABYCRY_DATA", str(tmp_path / "data"))
    r = run_cli("data", "build", "--source", str(tiny_corpus), "--folds", "3")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "donateacry" / "splits.json").exists()
    r = run_cli("train", "--model", "cnn", "--epochs", "1", "--batch-size", "8", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "macro-F1" in r.stdout and "majority baseline" in r.stdout
    run_id = r.stdout.split("run: ")[1].split()[0]
    r = run_cli("evaluate", run_id)
    assert r.returncode == 0, r.stderr
    assert "balanced accuracy" in r.stdout
    assert json.loads((tmp_path / "data" / "donateacry" / "splits.json").read_text())["fixed"]["test"]

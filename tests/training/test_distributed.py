"""torchrun + DDP: two CPU ranks (gloo, loopback) finish, one folder is written, ranks end with equal weights;
one torchrun process equals a plain single-process run with the same seed."""
import json
import os
import re
import socket
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from babycry_core import paths
from babycry_core.runs import run_registry as runs

ARGS = ["train", "--model", "cnn", "--epochs", "2", "--batch-size", "8", "--threads", "1", "--seed", "3"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(n: int, extra=()):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--nproc_per_node", str(n), "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "babycry_core", *ARGS, *extra]
    env = {**os.environ, "BABYCRY_DDP_BACKEND": "gloo", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=paths.ROOT, env=env, timeout=300)


def test_two_ranks_one_folder_equal_weights(tiny_data):
    r = _torchrun(2)
    assert r.returncode == 0, r.stderr[-2000:]
    digests = dict(re.findall(r"rank (\d) weights (\w+)", r.stdout))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"]
    folders = [d for d in paths.checkpoints_dir().iterdir() if d.is_dir()]
    assert len(folders) == 1
    info = runs.run_info(folders[0])
    assert info.status == "finished" and info.config["world_size"] == 2


@pytest.mark.slow  # 14 s; the two-rank test keeps torchrun in the default suite
def test_one_rank_equals_single_process(tiny_data):
    from babycry_core.cli.main import main

    r = _torchrun(1)
    assert r.returncode == 0, r.stderr[-2000:]
    [ddp_run] = [d for d in paths.checkpoints_dir().iterdir() if d.is_dir()]
    assert main(ARGS) == 0
    [single] = [d for d in paths.checkpoints_dir().iterdir() if d.is_dir() and d != ddp_run]
    a, b = load_file(str(ddp_run / "model.safetensors")), load_file(str(single / "model.safetensors"))
    assert all((a[k] - b[k]).abs().max() < 1e-5 for k in a)  # same seed, same data order: same weights
    ma = json.loads((ddp_run / "metrics.json").read_text())
    mb = json.loads((single / "metrics.json").read_text())
    assert abs(ma["macro_f1"] - mb["macro_f1"]) < 1e-6


@pytest.mark.slow  # about a minute: YAMNet's front end and body on two ranks
def test_yamnet_ft_trains_on_two_ranks(tiny_data):
    """yamnet_ft is an ordinary torch model: torchrun trains it, its pretrained body from the TFLite file."""
    from tests.conftest import shared_or_skip

    shared_or_skip("yamnet", "yamnet.tflite")
    r = _torchrun(2, ["--model", "yamnet_ft", "--epochs", "1"])
    assert r.returncode == 0, r.stderr[-2000:]
    digests = dict(re.findall(r"rank (\d) weights (\w+)", r.stdout))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"]
    [run] = [d for d in paths.checkpoints_dir().iterdir() if d.is_dir()]
    info = runs.run_info(run)
    assert info.status == "finished" and info.config["world_size"] == 2
    assert "YAMNet AudioSet weights" in info.config["pretrained_status"]

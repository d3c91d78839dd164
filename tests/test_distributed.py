"""Data-parallel training and reproductions under torchrun (Gloo on the CPU, 127.0.0.1 only):
N processes take the same steps as one process with the same global batch."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lecnn.cli import main
from lecnn.errors import LecnnError
from lecnn.training.distributed import check_split

TRAIN = ["--model", "lenet5-modern", "--dtype", "float64", "--device", "cpu", "--no-progress"]
TRAIN += ["--batch-size", "32", "--limit", "1600", "--schedule", "constant"]  # 50 updates a pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, LECNN_DATA=str(data_dir), OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


def torchrun(args: list[str], data_dir: Path, *launcher: str, wait: bool = True):
    launcher = launcher or ("--nproc-per-node", "2", "--standalone")
    cmd = [sys.executable, "-m", "torch.distributed.run", *launcher, "-m", "lecnn", *args]
    proc = subprocess.Popen(
        cmd, env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if not wait:
        return proc
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoint.pt", weights_only=True)["model_state"]


def _results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def _assert_same_run(a: Path, b: Path) -> None:
    ra, rb = _results(a), _results(b)
    assert ra["steps"] == rb["steps"]
    for ha, hb in zip(ra["history"], rb["history"], strict=True):
        for key in ("train_loss", "test_loss"):
            assert abs(ha[key] - hb[key]) <= 1e-9 * abs(ha[key]), (key, ha[key], hb[key])
        assert ha["test_misses"] == hb["test_misses"]
        assert ha["train_error"] == hb["train_error"]
    fa, fb = ra["final"], rb["final"]
    assert (fa["test_misses"], fa["train_misses"]) == (fb["test_misses"], fb["train_misses"])
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        rel = ((wa[k] - wb[k]).abs().max() / wa[k].abs().max()).item()
        assert rel < 1e-9, (k, rel)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("impl", ["manual", "autograd"])
def test_two_processes_take_the_steps_of_one(impl, optimizer, mnist_dir, tmp_path):
    lr = {"sgd": "0.05", "adam": "0.003"}[optimizer]
    args = [*TRAIN, "--impl", impl, "--optimizer", optimizer, "--lr", lr, "--epochs", "1"]
    code, out = torchrun(["train", *args, "--logdir", str(tmp_path / "two")], mnist_dir)
    assert code == 0, out
    assert (
        main(["train", *args, "--data-dir", str(mnist_dir), "--logdir", str(tmp_path / "one")]) == 0
    )
    _assert_same_run(tmp_path / "one", tmp_path / "two")
    assert _results(tmp_path / "two")["processes"] == 2
    assert _results(tmp_path / "two")["steps"] == 50
    # rank 0 alone wrote the run: one events file per sub-run, one results file
    assert len(list((tmp_path / "two" / "train").glob("events.*"))) == 1


def test_checkpoints_resume_with_another_number_of_processes(mnist_dir, tmp_path):
    args = [*TRAIN, "--impl", "manual", "--optimizer", "adam"]
    straight = tmp_path / "straight"
    assert (
        main(
            [
                "train",
                *args,
                "--epochs",
                "2",
                "--data-dir",
                str(mnist_dir),
                "--logdir",
                str(straight),
            ]
        )
        == 0
    )
    # 2 processes, then resumed by 1
    a = tmp_path / "two-then-one"
    code, out = torchrun(["train", *args, "--epochs", "1", "--logdir", str(a)], mnist_dir)
    assert code == 0, out
    assert (
        main(
            [
                "train",
                "--resume",
                str(a),
                "--epochs",
                "2",
                "--data-dir",
                str(mnist_dir),
                "--no-progress",
            ]
        )
        == 0
    )
    _assert_same_run(straight, a)
    # 1 process, then resumed by 2
    b = tmp_path / "one-then-two"
    assert (
        main(["train", *args, "--epochs", "1", "--data-dir", str(mnist_dir), "--logdir", str(b)])
        == 0
    )
    code, out = torchrun(["train", "--resume", str(b), "--epochs", "2", "--no-progress"], mnist_dir)
    assert code == 0, out
    _assert_same_run(straight, b)


def test_two_nodes_on_localhost_train_and_resume(mnist_dir, tmp_path):
    run = tmp_path / "nodes"
    for step, args in enumerate(
        [
            ["train", *TRAIN, "--impl", "autograd", "--epochs", "1", "--logdir", str(run)],
            ["train", "--resume", str(run), "--epochs", "2", "--no-progress"],
        ]
    ):
        port = _free_port()
        launcher = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d"]
        launcher += ["--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"lecnn-test-{step}"]
        procs = [
            torchrun(args, mnist_dir, *launcher, "--node-rank", str(n), wait=False) for n in (0, 1)
        ]
        outs = [p.communicate(timeout=300)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
    results = _results(run)
    assert results["processes"] == 2 and results["epochs_done"] == 2 and results["steps"] == 100


def test_per_example_runs_cannot_be_split(mnist_dir):
    with pytest.raises(LecnnError, match="cannot be split over 2 processes"):
        check_split(1, 7291, 2, "auto")
    with pytest.raises(LecnnError, match="does not split into 3 equal shares"):
        check_split(32, 1600, 3, "auto")
    with pytest.raises(LecnnError, match="last batch"):
        check_split(32, 1601, 2, "auto")
    with pytest.raises(LecnnError, match="compiled updates run in one process"):
        check_split(32, 1600, 2, "on")
    code, out = torchrun(
        ["train", "--model", "lecun1989", "--limit", "100", "--epochs", "1", "--device", "cpu"],
        mnist_dir,
    )
    assert code != 0
    lines = [ln for ln in out.splitlines() if ln.startswith("lecnn train: error:")]
    assert lines and "--batch-size 1 (per-example updates) cannot be split" in lines[0], out


def test_reproduce_spreads_runs_over_ranks(mnist_dir, tmp_path):
    args = ["reproduce", "lecun1989", "--seeds", "2", "--epochs", "1", "--limit", "300"]
    args += ["--device", "cpu", "--no-progress", "--compile", "off"]
    code, out = torchrun([*args, "--runs-dir", str(tmp_path / "two")], mnist_dir)
    assert code == 0, out
    assert "spread over 2 processes" in out and "(rank 1)" in out
    assert main([*args, "--data-dir", str(mnist_dir), "--runs-dir", str(tmp_path / "one")]) == 0

    def rows(folder: Path) -> dict:
        out = {}
        for f in sorted((folder / "summaries").glob("*.json")):
            s = json.loads(f.read_text())
            out[(s["impl"], s["seed"])] = (s["test_error"], s["train_error"], s["test_misses"])
        return out

    one, two = rows(tmp_path / "one"), rows(tmp_path / "two")
    assert len(one) == 4 and one == two
    report = (tmp_path / "two" / "REPRODUCTION.md").read_text()
    assert report.count("measured: faithful") == 2  # manual and autograd rows, 2 seeds each


def test_a_command_leaves_the_process_group_it_joined(tmp_path):
    # left to interpreter shutdown, Gloo's threads can abort a finished rank ("terminate called
    # without an active exception"); every command destroys the group before it returns
    dist = torch.distributed
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        assert main(["report", "--runs-dir", str(tmp_path / "none")]) == 2  # fails, still leaves
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_a_schedulers_sigterm_to_torchrun_stops_every_rank_saved_and_resumes_exactly(
    mnist_dir, tmp_path
):
    """``scancel`` or a container stop sends SIGTERM to the launcher; torchrun passes it to its
    ranks, which agree on a step, save one checkpoint and say so in one line. (torchrun itself
    then prints its own SignalException and exits 1: the launcher's, not lecnn's.)"""
    args = [*TRAIN, "--impl", "manual", "--optimizer", "adam", "--lr", "0.003"]
    run, straight = tmp_path / "stopped", tmp_path / "straight"
    proc = torchrun(["train", *args, "--epochs", "40", "--logdir", str(run)], mnist_dir, wait=False)
    deadline = time.time() + 240
    while not (run / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)  # a pass has ended: the ranks are training
    proc.send_signal(signal.SIGTERM)  # to the launcher alone, as a scheduler sends it
    out, _ = proc.communicate(timeout=240)
    assert out.count("stopped by SIGTERM") == 1 and "lecnn train --resume" in out, out
    stopped = _results(run)
    assert stopped["status"] == "interrupted" and stopped["epochs_done"] < 3, stopped["status"]
    code, out = torchrun(["train", "--resume", str(run), "--epochs", "3", "--no-progress"],
                         mnist_dir)  # fmt: skip
    assert code == 0, out
    assert main(["train", *args, "--epochs", "3", "--data-dir", str(mnist_dir), "--logdir",
                 str(straight)]) == 0  # fmt: skip
    _assert_same_run(straight, run)

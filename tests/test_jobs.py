"""``lecnn reproduce --jobs N``: independent runs in worker processes, one thread each. The same
summaries as one after another; a failing run named while the others finish; Ctrl-C stops every
worker with its checkpoint saved, and the same command again finishes the table without training
anything twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lecnn.cli import main
from lecnn.training.jobs import default_jobs, usable_cores

ROOT = Path(__file__).resolve().parent.parent


def _args(mnist_dir, runs: Path, *extra: str) -> list[str]:
    return ["reproduce", "lecun1989", "--seeds", "2", "--epochs", "1", "--limit", "300",
            "--device", "cpu", "--compile", "off", "--no-progress", "--data-dir", str(mnist_dir),
            "--runs-dir", str(runs), *extra]  # fmt: skip


def _summaries(runs: Path) -> dict:
    out = {}
    for f in sorted((runs / "summaries").glob("*.json")):
        s = json.loads(f.read_text())
        out[(s["impl"], s["seed"])] = (s["test_error"], s["test_misses"], s["train_error"],
                                       s["curve"], s["status"])  # fmt: skip
    return out


def test_jobs_default_to_the_usable_cores():
    assert usable_cores() == len(os.sched_getaffinity(0)) and default_jobs() == usable_cores()


def test_two_jobs_give_the_summaries_of_one_and_a_rerun_trains_nothing(mnist_dir, tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' one thread, for the serial run too
    try:
        assert main(_args(mnist_dir, tmp_path / "one", "--jobs", "1")) == 0
    finally:
        torch.set_num_threads(threads)
    assert main(_args(mnist_dir, tmp_path / "two", "--jobs", "2")) == 0
    out = capsys.readouterr().out
    assert "2 at a time" in out and "[4/4 runs done]" in out
    one, two = _summaries(tmp_path / "one"), _summaries(tmp_path / "two")
    assert len(one) == 4 and one == two
    assert (tmp_path / "two" / "REPRODUCTION.md").read_text().count("measured: faithful") == 2
    # the same command again: every run finished before, none is trained
    assert main(_args(mnist_dir, tmp_path / "two", "--jobs", "2")) == 0
    out = capsys.readouterr().out
    assert out.count("finished before") == 4 and "train error" not in out


def test_a_failing_run_is_named_and_the_others_finish(mnist_dir, tmp_path, capsys):
    broken = tmp_path / "reproduce" / "lecun1989-faithful-manual-seed1"
    broken.mkdir(parents=True)
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")  # a run to resume, damaged
    assert main(_args(mnist_dir, tmp_path, "--jobs", "2")) == 1
    captured = capsys.readouterr()
    assert (
        "manual seed 1 FAILED" in captured.out and "not a readable lecnn checkpoint" in captured.out
    )
    assert "1 run(s) failed" in captured.err
    finished = _summaries(tmp_path)
    assert set(finished) == {("autograd", 0), ("autograd", 1), ("manual", 0)}
    report = (tmp_path / "REPRODUCTION.md").read_text()
    assert "## Runs that failed" in report and "manual seed 1" in report


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_stops_every_worker_and_the_same_command_finishes(mnist_dir, tmp_path, sig):
    args = _args(mnist_dir, tmp_path, "--jobs", "2")
    args[args.index("--epochs") + 1], args[args.index("--limit") + 1] = "15", "800"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lecnn", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.time() + 120
    while not list((tmp_path / "reproduce").glob("*/checkpoint.pt")) and time.time() < deadline:
        time.sleep(0.2)  # a pass has ended somewhere: the workers are training
    proc.send_signal(sig)  # to the parent alone, as `kill` or a scheduler sends it
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, out
    assert "run the same command again" in out and "test error" not in out  # none finished
    stopped = {(s[0], s[1]) for s, v in _summaries(tmp_path).items() if v[4] == "interrupted"}
    # the two training, not a third the pool had already handed to a worker (it once began)
    assert out.count("stopped, checkpoint saved") == len(stopped) == 2
    # again: the stopped runs resume, the others begin, nothing runs twice
    rerun = subprocess.run([sys.executable, "-m", "lecnn", *args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rerun.stdout.count("(resumed)") == len(stopped)
    assert rerun.stdout.count("test error") == 4
    summaries = _summaries(tmp_path)
    assert all(v[4] == "finished" for v in summaries.values()) and len(summaries) == 4
    for impl, seed in stopped:
        name = f"lecun1989-faithful-{impl}-seed{seed}"
        results = json.loads((tmp_path / "reproduce" / name / "results.json").read_text())
        epochs = [h["epoch"] for h in results["history"]]
        assert epochs == list(range(1, 16))  # each pass once

"""``lecnn train --seeds N`` / ``--sweep``: a set of runs from one command, as one group or each
alone, equal either way; a member that diverges stops alone; kill -9 and the same command again
ends where the uninterrupted command ends; what cannot be done is one line, exit 2."""

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
from lecnn.training.checkpoint import load_checkpoint
from lecnn.training.config import TrainConfig
from lecnn.training.many import group_count, group_pays, units

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["train", "--model", "lecun1989-modern", "--impl", "manual", "--dtype", "float64",
         "--limit", "120", "--epochs", "2", "--no-progress", "--compile", "off"]  # fmt: skip


def _weights(run_dir: Path) -> dict:
    return load_checkpoint(run_dir / "checkpoint.pt")["model_state"]


def _assert_same_run(a: Path, b: Path) -> None:
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (a, b))
    assert ra["final"]["test_misses"] == rb["final"]["test_misses"]
    wa, wb = _weights(a), _weights(b)
    for k, w in wb.items():
        err = ((wa[k] - w).abs().max() / w.abs().max()).item()
        assert err < 1e-9, (a.name, k, err)


def test_a_sweep_as_one_group_equals_each_run_alone(mnist_dir, tmp_path, capsys):
    names = ["lr-0.01_seed-3", "lr-0.01_seed-4", "lr-0.03_seed-3", "lr-0.03_seed-4"]
    flags = [*SMALL, "--data-dir", str(mnist_dir), "--seed", "3", "--seeds", "2",
             "--sweep", "lr=0.01,0.03", "--jobs", "1"]  # fmt: skip
    assert main([*flags, "--group", "on", "--logdir", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "4 runs of lecun1989-modern (manual) on cpu, as 1 group" in out
    assert main([*flags, "--group", "off", "--logdir", str(tmp_path / "s")]) == 0
    assert "each alone" in capsys.readouterr().out
    for name in names:
        results = json.loads((tmp_path / "g" / name / "results.json").read_text())
        lr, seed = name.split("_")
        assert results["config"]["lr"] == float(lr[3:])
        assert results["config"]["seed"] == int(seed[5:])
        _assert_same_run(tmp_path / "g" / name, tmp_path / "s" / name)
    listed = json.loads((tmp_path / "g" / "runs.json").read_text())["runs"]
    assert [r["name"] for r in listed] == names and {r["status"] for r in listed} == {"finished"}
    a, b = _weights(tmp_path / "g" / names[0]), _weights(tmp_path / "g" / names[1])
    assert any(not torch.equal(a[k], b[k]) for k in a)  # two seeds: two different runs
    # the same command again: every run finished before, nothing trained, nothing changed
    before = (tmp_path / "g" / names[0] / "checkpoint.pt").stat().st_mtime_ns
    assert main([*flags, "--group", "on", "--logdir", str(tmp_path / "g")]) == 0
    assert capsys.readouterr().out.count("skipped") == 4
    assert (tmp_path / "g" / names[0] / "checkpoint.pt").stat().st_mtime_ns == before


def test_a_member_that_diverges_stops_alone_and_the_others_equal_their_runs_alone(
    mnist_dir, tmp_path, capsys
):
    flags = [*SMALL, "--data-dir", str(mnist_dir), "--seeds", "1", "--jobs", "1"]
    code = main(
        [*flags, "--sweep", "lr=0.01,1e6", "--group", "on", "--logdir", str(tmp_path / "g")]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "lr-1e6_seed-0: DIVERGED: the loss became nan" in out
        and "did not finish: lr-1e6_seed-0" in out
    )
    assert not (tmp_path / "g" / "lr-1e6_seed-0" / "results.json").exists()
    assert (
        main([*flags, "--sweep", "lr=0.01", "--group", "off", "--logdir", str(tmp_path / "s")]) == 0
    )
    _assert_same_run(tmp_path / "g" / "lr-0.01_seed-0", tmp_path / "s" / "lr-0.01_seed-0")


def test_kill_9_then_the_same_command_ends_where_the_uninterrupted_one_does(mnist_dir, tmp_path):
    flags = [*SMALL, "--data-dir", str(mnist_dir), "--seeds", "3", "--group", "on", "--jobs", "1"]
    flags[flags.index("--epochs") + 1], flags[flags.index("--limit") + 1] = "4", "400"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "lecnn", *flags, "--logdir", str(tmp_path / "k")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((tmp_path / "k").glob("*/checkpoint.pt")) and time.time() < deadline:
        time.sleep(0.01)  # a pass has ended for one run at least: kill it mid-group
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not list((tmp_path / "k").glob("*/results.json"))  # killed before any run ended
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert main([*flags, "--logdir", str(tmp_path / "u")]) == 0
    for seed in range(3):
        name = f"seed-{seed}"
        history = json.loads((tmp_path / "k" / name / "results.json").read_text())["history"]
        assert [h["epoch"] for h in history] == [1, 2, 3, 4]  # each pass once
        _assert_same_run(tmp_path / "k" / name, tmp_path / "u" / name)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sweep", "foo=1,2"], "--sweep foo: not a setting a sweep takes"),
        (["--sweep", "lr=0.1,x"], "'x' is not a number"),
        (["--sweep", "lr=0.1,0.1"], "a value is given twice"),
        (["--sweep", "lr=-1"], "--lr -1.0: the learning rate must be positive"),
        (["--optimizer", "sdlm", "--sweep", "samples=0.5"], "samples takes a whole number"),
        (["--resume", "x"], "--resume continues one run"),
        (["--seeds", "0"], "0 is below 1"),
    ],
)
def test_what_cannot_be_swept_is_one_line_and_leaves_nothing(extra, message, tmp_path, capsys):
    folder = tmp_path / "set"
    flags = ["train", "--model", "lenet5", "--seeds", "2", "--logdir", str(folder)]
    try:
        code = main([*flags, *extra])
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not folder.exists()


def test_a_set_of_runs_never_goes_into_a_single_runs_folder(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{}")
    assert main(["train", "--seeds", "2", "--logdir", str(tmp_path)]) == 2
    assert "holds a single run" in capsys.readouterr().err


def test_runs_are_dealt_into_groups_of_two_or_more_one_per_worker():
    configs = [TrainConfig(seed=s, logdir=f"r/seed-{s}") for s in range(5)]
    dealt = units(configs, {"seed"}, group=True, jobs=2, overwrite=False)
    assert [[c["seed"] for c in u.configs] for u in dealt] == [[0, 2, 4], [1, 3]]
    assert group_count(3, 16) == 1 and group_count(1, 2) == 1 and group_count(64, 16) == 16
    alone = units(configs, {"seed"}, group=False, jobs=2, overwrite=False)
    assert [len(u.configs) for u in alone] == [1] * 5 and not any(u.grouped for u in alone)


def test_auto_groups_on_cuda_and_where_the_cpu_measured_it_faster(monkeypatch):
    from lecnn.training import many

    assert group_pays("cuda", 1, 5) and not group_pays("cuda", 1, 1)
    monkeypatch.setitem(many.CPU_GROUP_FROM, "per-example", 10)
    assert group_pays("cpu", 1, 10) and not group_pays("cpu", 1, 9)
    monkeypatch.setitem(many.CPU_GROUP_FROM, "per-example", None)
    assert not group_pays("cpu", 1, 64) and not group_pays("cpu", 256, 64)

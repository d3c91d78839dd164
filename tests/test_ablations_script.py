"""scripts/ablations.py --run: the commands whose run folder holds no finished results.json run,
``--jobs`` at a time, a line as each ends; finished ones are skipped, a failing one is named, a run
with a checkpoint is resumed rather than restarted."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("ablations", ROOT / "scripts" / "ablations.py")
ablations = importlib.util.module_from_spec(spec)
sys.modules["ablations"] = ablations  # its dataclasses look their module up there
spec.loader.exec_module(ablations)


def test_run_missing_skips_finished_runs_names_failures_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ablations, "ROOT", tmp_path)
    for name, status in (("done", "finished"), ("half", "interrupted")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"status": status}))
    (tmp_path / "half" / "checkpoint.pt").write_bytes(b"x")
    cmds = [
        "echo never --logdir done",  # finished before: not run
        'echo "$@" > half/args --logdir half',  # has a checkpoint: resumed
        "exit 3 --logdir broken",  # fails: named with its exit status
    ]
    ablations.run_missing(cmds, jobs=2)
    out = capsys.readouterr().out
    assert "1 finished before; 2 to run" in out
    assert "broken: FAILED (exit 3)" in out and "half: finished" in out
    assert "never" not in out
    assert "--resume" in (tmp_path / "half" / "args").read_text()  # it ran, resumed


def test_a_row_takes_its_own_runs_not_those_of_a_name_it_begins(tmp_path, monkeypatch):
    """``sdlm-mu-0.1`` is the start of ``sdlm-mu-0.1-samples-2000``: each row gets its own seeds."""
    monkeypatch.setattr(ablations, "RUNS", tmp_path)

    def finished(folder: str, seed: int, error: float) -> None:
        (tmp_path / folder).mkdir()
        record = {"status": "finished", "epochs_done": 20, "config": {"epochs": 20, "seed": seed},
                  "final": {"test_error": error, "train_error": 0.0}, "train_seconds": 1.0}  # fmt: skip
        (tmp_path / folder / "results.json").write_text(json.dumps(record))

    finished("sdlm-mu-0.1-s0", 0, 0.01)
    finished("sdlm-mu-0.1-samples-2000-s0", 0, 0.02)
    finished("sdlm-mu-0.1-samples-2000-s1", 1, 0.03)
    assert [r["test"] for r in ablations._measured("sdlm-mu-0.1")] == [0.01]
    assert [r["test"] for r in ablations._measured("sdlm-mu-0.1-samples-2000")] == [0.02, 0.03]


def test_a_row_measured_by_a_reproduction_is_topped_up_with_its_own_runs(tmp_path, monkeypatch):
    """distort-affine's first 3 seeds are the superseded reproduction's: ``--seeds 5`` runs
    seeds 3 and 4 only, and the row then holds all five, each seed once."""
    monkeypatch.setattr(ablations, "ROOT", tmp_path)
    monkeypatch.setattr(ablations, "RUNS", tmp_path / "runs" / "ablations")
    row = next(a for a in ablations.ABLATIONS if a.name == "distort-affine")
    folder = tmp_path / "runs" / "summaries" / Path(row.summaries).parent
    folder.mkdir(parents=True)
    for seed in range(3):
        summary = {"status": "finished", "seed": seed, "test_error": 0.01, "train_error": 0.0,
                   "train_seconds": 1.0}  # fmt: skip
        (folder / f"lenet5-distort-manual-seed{seed}.json").write_text(json.dumps(summary))
    mine = [c for c in ablations.commands(5) if "distort-affine-s" in c]
    assert [c.split("--seed ")[1].split()[0] for c in mine] == ["3", "4"]
    for seed in (2, 3):  # a run of a seed the summaries hold is not counted twice
        run = tmp_path / "runs" / "ablations" / f"distort-affine-s{seed}"
        run.mkdir(parents=True)
        record = {"status": "finished", "epochs_done": 20, "config": {"epochs": 20, "seed": seed},
                  "final": {"test_error": 0.02, "train_error": 0.0}, "train_seconds": 1.0}  # fmt: skip
        (run / "results.json").write_text(json.dumps(record))
    assert [r["seed"] for r in ablations._runs(row)] == [0, 1, 2, 3]

"""Every number in the reports says what made it: the provenance a reproduction run records, the
commits on every report row, and commands a reader can paste (no folder of this machine in a
committed report or summary)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import torch

from lecnn.data import load_mnist
from lecnn.repro import report
from lecnn.repro.provenance import data_checksum, pasteable, source_commit

ROOT = Path(__file__).resolve().parent.parent
#: an absolute folder of a machine: /work/…, /home/…, /root/…, /tmp/…, /Users/…, /mnt/…
ABSOLUTE = re.compile(r"(^|[^A-Za-z0-9_.~$-])/(work|home|root|tmp|Users|mnt|var|opt)/")
#: what a reader reads as the record: reports, summaries, run results (not benchmark logs,
#: which keep what was typed)
RECORDS = ("runs/REPRODUCTION.md", "runs/ABLATIONS.md", "runs/summaries/", "runs/compare/",
           "runs/compare-seeds/", "runs/ablations/", "runs/classifiers/", "runs/health/")  # fmt: skip


def committed_records() -> list[Path]:
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "runs"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    return [ROOT / f for f in files if f.startswith(RECORDS) and f.endswith((".md", ".json"))]


def test_the_absolute_path_check_sees_one():
    assert ABSOLUTE.search("lecnn reproduce --runs-dir /work/main/runs")
    assert ABSOLUTE.search('"run_dir": "/tmp/x"')
    assert not ABSOLUTE.search('lecnn reproduce --data-dir "$LECNN_DATA" --runs-dir runs')
    assert not ABSOLUTE.search("see runs/reproduce/x and ../shared/data/mnist")


def test_no_committed_report_or_summary_names_a_folder_of_this_machine():
    records = committed_records()
    assert len(records) > 50  # the summaries, the ablation runs, the reports are all read
    found = {
        str(p.relative_to(ROOT)): m.group(0)
        for p in records
        if (m := ABSOLUTE.search(p.read_text(encoding="utf-8")))
    }
    assert found == {}, f"absolute paths in committed records: {found}"


def test_a_command_is_made_pasteable(tmp_path, monkeypatch):
    data = tmp_path / "mnist"
    data.mkdir()
    monkeypatch.setenv("LECNN_DATA", str(data))
    argv = ["reproduce", "lenet5", "--runs-dir", str(tmp_path / "runs"), "--data-dir", str(data),
            "--limit", "100"]  # fmt: skip
    command = pasteable(argv, cwd=tmp_path)
    assert command == 'reproduce lenet5 --runs-dir runs --data-dir "$LECNN_DATA" --limit 100'
    assert (
        pasteable(["--runs-dir", "/elsewhere/runs"], cwd=tmp_path) == "--runs-dir /elsewhere/runs"
    )


def test_the_source_commit_is_this_checkouts(tmp_path):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    commit, clean = source_commit(ROOT)
    assert commit == head and isinstance(clean, bool)
    assert source_commit(tmp_path) == (None, None)  # not a checkout: nothing claimed


def test_the_data_checksum_names_the_digits_not_the_folder(mnist_dir, tmp_path):
    digits = load_mnist(str(mnist_dir))
    a = data_checksum(digits)
    assert len(a) == 64 and a == data_checksum(load_mnist(str(mnist_dir)))
    labels = digits.test_labels.clone()
    labels[0] = (labels[0] + 1) % 10  # one label changed
    assert data_checksum(replace(digits, test_labels=labels)) != a


def _summary(seed: int, commit: str | None, clean: bool = True) -> dict:
    s = {"seed": seed, "test_error": 0.01, "train_error": 0.0, "test_misses": 100,
         "train_misses": 0, "shortened": False, "wall_seconds": 1.0, "machine": "cpu",
         "command": "lecnn reproduce lenet5"}  # fmt: skip
    if commit is not None:
        s["provenance"] = {"lecnn": {"commit": commit, "clean": clean}}
    return s


def test_a_row_names_its_commits_and_says_when_they_differ():
    same = [_summary(0, "a" * 40), _summary(1, "a" * 40)]
    assert report._code(same) == "aaaaaaa"
    mixed = [_summary(0, "a" * 40), _summary(1, "b" * 40, clean=False), _summary(2, None)]
    code = report._code(mixed)
    assert code.startswith("different commits:") and "bbbbbbb+ (seed 1)" in code
    assert "not recorded (seed 2)" in code
    row = report._measured_row(("faithful", "manual", "cpu"), mixed)
    assert "different commits" in row


def test_a_new_summary_records_its_provenance(mnist_dir, tmp_path, monkeypatch):
    """A shortened reproduction run writes the commit, torch, device, threads, dtype, compile
    mode, memory format and the data's name and checksum into its summary."""
    from lecnn.repro import provenance as prov_module
    from lecnn.repro import run as run_module
    from lecnn.repro.protocols import protocol
    from lecnn.repro.run import run_one

    # the checkout moving on while runs train (a commit made meanwhile) is not what made them
    moved = lambda *_: ("f" * 40, False)  # noqa: E731
    monkeypatch.setattr(prov_module, "source_commit", moved)
    monkeypatch.setattr(run_module, "source_commit", moved, raising=False)  # a call made there
    summary = run_one(protocol("lecun1989", "faithful"), "manual", 0, runs_dir=tmp_path,
                      data_dir=str(mnist_dir), epochs=1, limit=64, compile="off",
                      progress_bar=False)  # fmt: skip
    prov = summary["provenance"]
    assert prov["lecnn"]["commit"] == prov_module.IMPORTED[0] == source_commit(ROOT)[0]
    assert prov["torch"] == torch.__version__ and prov["threads"] == torch.get_num_threads()
    assert (prov["dtype"], prov["memory_format"]) == ("float32", "contiguous")
    assert prov["compile"].startswith("eager") and prov["data"]["name"] == "mnist"
    assert prov["data"]["sha256"] == data_checksum(load_mnist(str(mnist_dir)))
    assert not Path(summary["run_dir"]).is_absolute()
    written = json.loads(
        (tmp_path / "summaries" / "lecun1989-faithful-manual-seed0.json").read_text()
    )
    assert written["provenance"] == prov


def test_a_runs_results_name_its_folders_relative_and_its_checkpoint_absolute(subset_dir, tmp_path):
    """results.json (the record a reader sees, and what the committed ablation runs keep) shows
    the run and data folders relative to the working folder; the checkpoint keeps them absolute
    so the run resumes from anywhere."""
    from lecnn.cli import main

    run = tmp_path / "run"
    args = ["train", "--data-dir", str(subset_dir), "--device", "cpu", "--model", "linear",
            "--epochs", "1", "--logdir", str(run), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    shown = json.loads((run / "results.json").read_text())["config"]
    for key, folder in (("logdir", run), ("data_dir", subset_dir)):
        assert not Path(shown[key]).is_absolute(), (key, shown[key])
        assert (Path.cwd() / shown[key]).resolve() == Path(folder).resolve()
    saved = torch.load(run / "checkpoint.pt", weights_only=True)["config"]
    assert Path(saved["logdir"]).is_absolute() and Path(saved["data_dir"]).is_absolute()


def test_every_runs_results_name_the_commit_that_made_it(mnist_dir, tmp_path):
    """Not only reproductions: a plain ``lecnn train`` (an ablation's run) records its code."""
    from lecnn.cli import main

    run = tmp_path / "run"
    assert main(["train", "--model", "lecun1989", "--limit", "64", "--epochs", "1", "--compile",
                 "off", "--no-progress", "--data-dir", str(mnist_dir), "--logdir", str(run)]) == 0  # fmt: skip
    code = json.loads((run / "results.json").read_text())["lecnn"]
    assert code["commit"] == source_commit(ROOT)[0] and len(code["commit"]) == 40
    assert isinstance(code["clean"], bool) and code["version"]

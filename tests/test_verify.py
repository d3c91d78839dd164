"""``lecnn reproduce --verify``: a committed run rerun and compared. The same run in the same
environment gives the same digits ("same", exit 0); a summary with one figure edited is
"different" (exit 1); another environment is compared by the row's spread; what cannot be rerun is
one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lecnn.cli import main

ARGS = ["--seeds", "1", "--impl", "manual", "--epochs", "1", "--limit", "300", "--compile", "off",
        "--device", "cpu", "--no-progress"]  # fmt: skip
NAME = "lecun1989-faithful-manual-seed0"


@pytest.fixture(scope="module")
def committed(mnist_dir, tmp_path_factory) -> Path:
    """A runs folder with one shortened 1989 run, as ``lecnn reproduce`` commits it."""
    runs = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    try:
        assert main(["reproduce", "lecun1989", *ARGS, "--data-dir", str(mnist_dir),
                     "--runs-dir", str(runs)]) == 0  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return runs


def _verify(runs: Path, what: str, mnist_dir, *extra: str) -> int:
    return main(["reproduce", "--verify", what, "--runs-dir", str(runs), "--data-dir",
                 str(mnist_dir), "--device", "cpu", *extra])  # fmt: skip


def _edited(committed: Path, tmp_path: Path, edit) -> Path:
    summary = json.loads((committed / "summaries" / f"{NAME}.json").read_text())
    edit(summary)
    (tmp_path / "summaries").mkdir(exist_ok=True)
    path = tmp_path / "summaries" / f"{NAME}.json"
    path.write_text(json.dumps(summary))
    return path


def test_a_committed_run_rerun_here_is_the_same(committed, mnist_dir, capsys):
    summary = json.loads((committed / "summaries" / f"{NAME}.json").read_text())
    assert summary["provenance"]["threads"] and summary["test_loss"] > 0
    assert _verify(committed, "lecun1989/faithful/manual", mnist_dir) == 0
    out = capsys.readouterr().out
    assert "compared digit for digit" in out and "same:" in out
    assert f"{summary['test_misses']} test and {summary['train_misses']} training misses" in out
    # the folder given is not written: the rerun's run folder is thrown away
    assert sorted(p.name for p in (committed / "summaries").iterdir()) == [f"{NAME}.json"]


@pytest.mark.parametrize("field", ["test_misses", "train_loss"])
def test_a_summary_with_one_figure_edited_is_different(committed, mnist_dir, tmp_path, capsys,
                                                      field):  # fmt: skip
    def edit(s):
        s[field] = s[field] + 1 if field == "test_misses" else s[field] * (1 + 1e-7)

    path = _edited(committed, tmp_path, edit)
    assert _verify(tmp_path, str(path), mnist_dir) == 1
    out = capsys.readouterr().out
    assert "different:" in out and f"{field}:" in out


def test_another_environment_is_compared_by_the_rows_spread(committed, mnist_dir, tmp_path,
                                                            capsys):  # fmt: skip
    def other_torch(s):
        s["provenance"]["torch"] = "2.4.0"

    path = _edited(committed, tmp_path, other_torch)
    assert _verify(tmp_path, str(path), mnist_dir) == 0
    out = capsys.readouterr().out
    assert "torch: 2.4.0 committed" in out and "same within the row's spread" in out

    def far(s):  # another environment and a count of misses no rerun comes near
        other_torch(s)
        s["test_misses"] = s["test_misses"] + 2000

    path = _edited(committed, tmp_path, far)
    assert _verify(tmp_path, str(path), mnist_dir) == 1
    assert "different, beyond the row's spread" in capsys.readouterr().out


@pytest.mark.parametrize(
    "what, seed, message",
    [
        ("nothing/here/manual", None, "no summary of that row"),
        ("lecun1989/faithful/manual", 7, "no seed 7 (seeds: [0])"),
        ("missing.json", None, "no such summary file"),
    ],
)
def test_what_cannot_be_found_is_one_line_exit_2(committed, mnist_dir, capsys, what, seed,
                                                 message):  # fmt: skip
    extra = ["--seed", str(seed)] if seed is not None else []
    assert _verify(committed, what, mnist_dir, *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("text", ["{not json", json.dumps({"paper": "lenet5"}), "[]"])
def test_a_damaged_summary_is_one_line_exit_2(mnist_dir, tmp_path, capsys, text):
    path = tmp_path / "broken.json"
    path.write_text(text)
    assert _verify(tmp_path, str(path), mnist_dir) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.json" in err[0] and "lecnn reproduce: error:" in err[0]


def test_verify_and_a_paper_together_are_refused(capsys):
    assert main(["reproduce", "lenet5", "--verify", "x.json"]) == 2
    assert main(["reproduce"]) == 2
    err = capsys.readouterr().err
    assert "leave the paper out" in err and "name a paper" in err

"""Shortened reproductions end to end: runs, summaries, the report and its figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lecnn.cli import main
from lecnn.errors import LecnnError
from lecnn.repro.protocols import PROTOCOLS


def test_shortened_reproductions_write_the_report(mnist_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    common = ["--epochs", "1", "--seeds", "1", "--runs-dir", str(runs), "--data-dir", str(mnist_dir),
              "--no-progress", "--device", "cpu"]  # fmt: skip
    assert main(["reproduce", "lecun1989", "--limit", "400", *common]) == 0
    assert main(["reproduce", "lenet5", "--impl", "manual", "--limit", "300", *common]) == 0
    out = capsys.readouterr().out
    assert "lecun1989/faithful manual seed 0" in out and "lenet5/faithful manual seed 0" in out

    summaries = sorted(p.name for p in (runs / "summaries").glob("*.json"))
    assert summaries == [
        "lecun1989-faithful-autograd-seed0.json",
        "lecun1989-faithful-manual-seed0.json",
        "lenet5-faithful-manual-seed0.json",
    ]
    s = json.loads((runs / "summaries" / "lenet5-faithful-manual-seed0.json").read_text())
    assert s["shortened"] and s["train_digits"] == 300 and s["test_digits"] == 10000
    assert 0 <= s["test_error"] < 0.9 and len(s["curve"]) == 1

    report = (runs / "REPRODUCTION.md").read_text()
    assert (
        "| published (faithful): LeCun et al. 1989 (USPS digits) | 0.14% | 10 | 5.00% | 102 |"
        in report
    )
    assert "| published (faithful): LeCun et al. 1998, no distortions |" in report
    assert report.count("| measured: faithful / autograd (shortened) |") == 1  # lecun1989 only
    assert report.count("| measured: faithful / manual (shortened) |") == 2  # both papers
    assert "lecnn reproduce lecun1989 --variant faithful" in report
    assert "Where this run departs from it" in report
    for paper in ("lecun1989", "lenet5"):
        png = runs / f"reproduction-{paper}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png.name})" in report

    (runs / "REPRODUCTION.md").unlink()
    assert main(["report", "--runs-dir", str(runs)]) == 0
    assert (runs / "REPRODUCTION.md").read_text() == report


def test_every_protocol_names_a_real_configuration():
    from lecnn.training.config import TrainConfig

    for key, proto in PROTOCOLS.items():
        cfg = TrainConfig(**proto.config).resolved()  # raises on a bad setting
        assert cfg.model.startswith(proto.paper), key
    assert PROTOCOLS["lecun1989/faithful"].config["epochs"] == 23
    faithful = TrainConfig(**PROTOCOLS["lenet5/faithful"].config).resolved()
    assert (faithful.epochs, faithful.batch_size, faithful.optimizer) == (20, 1, "sdlm")


def test_unknown_variant_is_one_line_exit_2(capsys):
    assert main(["reproduce", "lenet5", "--variant", "quantum", "--seeds", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lenet5/faithful" in err[0]


def test_zero_seeds_is_one_line_exit_2(capsys, tmp_path):
    assert main(["reproduce", "lenet5", "--seeds", "0", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seeds 0: must be at least 1" in err[0]
    assert not (tmp_path / "REPRODUCTION.md").exists()


def test_distort_runs_the_papers_kind_of_distortion(mnist_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["reproduce", "lenet5", "--distort", "--impl", "manual", "--epochs", "1", "--limit",
            "100", "--seeds", "1", "--runs-dir", str(runs), "--data-dir", str(mnist_dir),
            "--no-progress", "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    [summary] = (runs / "summaries").glob("*.json")
    assert summary.name == "lenet5-distort-pool-manual-seed0.json"
    assert PROTOCOLS["lenet5/distort-pool"].config["augment_kind"] == "paper-pool"
    assert PROTOCOLS["lenet5/distort-paper"].config["augment_kind"] == "paper"
    assert "lenet5/distort" not in PROTOCOLS  # lecnn's affine kind is an ablation now
    report = (runs / "REPRODUCTION.md").read_text()
    assert "**distort-pool** — LeNet-5 trained as the paper did with distortions" in report


def test_a_failed_report_write_keeps_the_previous_report(tmp_path, monkeypatch):
    from lecnn.repro import report

    (tmp_path / "summaries").mkdir()
    previous = tmp_path / "REPRODUCTION.md"
    previous.write_text("the previous report\n")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lecnn.training.checkpoint.os.fsync", full_disk)
    with pytest.raises(LecnnError, match="the disk is full; the previous REPRODUCTION.md is kept"):
        report.write_report(tmp_path)
    assert previous.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPRODUCTION.md", "summaries"]


def test_the_report_leaves_out_unreadable_and_unfinished_summaries(tmp_path, capsys):
    """A summary cut short at any byte, one that is JSON but not a summary, and a run that did not
    finish: each named in the report and on stderr, never a traceback; the good ones reported."""
    src = Path(__file__).resolve().parent.parent / "runs" / "summaries"
    good = sorted(src.glob("lecun1989-faithful-*-seed0.json"))
    summaries = tmp_path / "summaries"
    summaries.mkdir()
    for f in good:
        (summaries / f.name).write_bytes(f.read_bytes())
    text = good[0].read_bytes()
    stopped = {**json.loads(text), "status": "interrupted", "test_error": None}
    (summaries / "stopped.json").write_text(json.dumps(stopped))
    (summaries / "other.json").write_text('{"protocol": 3}')
    whole = len(text.rstrip())  # cut anywhere before the closing brace: never whole JSON
    for cut in range(0, whole, max(1, whole // 40)):
        (summaries / "cut.json").write_bytes(text[:cut])
        assert main(["report", "--runs-dir", str(tmp_path)]) == 0
        err = capsys.readouterr().err
        assert "Traceback" not in err and "cut.json" in err, cut
    report = (tmp_path / "REPRODUCTION.md").read_text()
    assert "## Summaries left out" in report
    for name, why in (("cut.json", "not readable JSON"), ("other.json", "no valid 'paper'"),
                      ("stopped.json", "a run that did not finish (interrupted)")):  # fmt: skip
        assert f"`{name}`: {why}" in report
    assert report.count("| measured: faithful /") == 2  # the two good summaries

"""The lecture's closing slide, "pros and cons of different classifiers", measured: the five kinds
of classifier trained on the same MNIST split on this machine, each claim of the slide given the
figure that decides it and a verdict (``lecnn lecture classifiers``)."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lecnn.data import Digits
from lecnn.errors import LecnnError
from lecnn.lecture import interpret, kinds, slide
from lecnn.lecture.common import keep_figure, pyplot, run_dir, writer
from lecnn.training.checkpoint import write_atomically


def machine() -> str:
    """This machine in words, for the table: processor, cores, threads, torch's version."""
    from lecnn.training.jobs import usable_cores

    threads = torch.get_num_threads()
    return (f"{platform.machine()}, {usable_cores()} cores, {threads} thread"
            f"{'s' if threads != 1 else ''}, torch {torch.__version__.split('+')[0]}")  # fmt: skip


def _log_tensorboard(tb: Any, m: kinds.Measured, table: str) -> None:
    for n, (key, f) in enumerate(m.rows.items()):
        for attr in ("train_seconds", "us_per_digit", "test_error", "train_error"):
            tb.add_scalar(f"classifiers/{attr}/{key}", getattr(f, attr), n)
    tb.add_text("classifiers/slide", table, 0)


def run(
    digits: Digits,
    logdir: str | None = None,
    seed: int = 0,
    limit: int | None = None,
    passes: int = 10,
    xor_starts: int = 20,
    log: Callable[[str], object] = print,
    out: Path | None = None,
    command: str = "lecnn lecture classifiers",
) -> dict[str, Any]:
    """Measure every classifier, decide the slide's claims, and keep it all: classifiers.md and
    classifiers.json in the run folder, the table and both pictures in TensorBoard (and as PNGs
    in ``out`` when given)."""
    kinds.check_limit(digits, limit)  # before the run folder is made: a refusal leaves nothing
    folder = run_dir("classifiers", logdir)
    if (folder / "classifiers.json").exists():
        raise LecnnError(f"{folder} already holds a measured slide; give --logdir a new folder")
    tb = writer("classifiers", str(folder))
    m = kinds.measure(digits, seed=seed, limit=limit, passes=passes, xor_starts=xor_starts,
                      log=log)  # fmt: skip
    table = slide.markdown(m, machine(), command)
    verdicts = slide.verdicts(m)
    for claim, verdict, figure in verdicts:
        log(f"{claim.row:17s} {claim.says:40s} {verdict:18s} {figure}")
    _log_tensorboard(tb, m, table)
    plt = pyplot()
    if plt is not None:
        keep_figure(interpret.error_figure(plt, m), tb, "classifiers/error_vs_time", out)
        keep_figure(interpret.interpretation_figure(plt, m), tb, "classifiers/parameters", out)
    tb.close()
    _keep(folder, m, table, verdicts, command)
    log(f"table: {folder / 'classifiers.md'}")
    return {"measured": m, "verdicts": verdicts, "table": table, "folder": folder}


def _keep(folder: Path, m: Any, table: str, verdicts: list, command: str) -> None:
    """classifiers.md (the table) and classifiers.json (figures and verdicts) in ``folder``."""
    record = m.to_json() | {
        "verdicts": [{"row": c.row, "says": c.says, "rule": c.rule, "verdict": v, "figure": f}
                     for c, v, f in verdicts],
        "machine": machine(), "command": command,
    }  # fmt: skip
    write_atomically(folder / "classifiers.md", lambda f: f.write(table.encode()))
    write_atomically(folder / "classifiers.json",
                     lambda f: f.write(json.dumps(record, indent=1).encode()))  # fmt: skip

"""LeCun et al. 1998's comparison of classifiers on MNIST (its Fig. 9), measured here: each row
(``classifiers.CLASSIFIERS``) trained and timed once per seed, then one table (``table``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from lecnn.compare.classifiers import CLASSIFIERS, KEYS, Context, order
from lecnn.compare.table import Row, merge, write
from lecnn.data import Digits, prepare
from lecnn.device import describe_machine
from lecnn.errors import LecnnError
from lecnn.training.interrupt import Stopped
from lecnn.training.jobs import run_all

__all__ = ["CLASSIFIERS", "KEYS", "Row", "merge", "run", "write"]


def run(data: Digits, device: torch.device, seeds: Sequence[int] = (0,),
        epochs: dict | None = None, limit: int | None = None, out_dir: Path | None = None,
        log=print, rows: tuple[str, ...] = KEYS, boost_size: int | None = None,
        command: str = "", jobs: int = 1, data_dir: str | None = None,
        dataset: str = "mnist") -> list[Row]:  # fmt: skip
    """Train and time each classifier in ``rows`` once per seed in ``seeds``; ``epochs``
    overrides passes per key (quick runs); ``boost_size``: examples for boosted LeNet-4's second
    and third nets. With ``jobs`` > 1 the seeds run at once, each in a worker process of its own
    on one thread (which reads the data from ``data_dir`` itself). With ``out_dir``, the table
    aggregates the seeds (see ``write``)."""
    begin = time.perf_counter()
    out: list[Row] = []
    if jobs > 1 and len(seeds) > 1:
        task = SeedTask(dataset, data_dir, str(device), epochs, limit, rows, boost_size)

        def ended(outcome, done: int, left: float) -> None:
            if outcome.error is not None:
                raise LecnnError(f"seed {outcome.task}: {outcome.error}")
            for r in outcome.result:
                log(f"seed {r.seed}: {r.what:36s} test error {r.test_error:6.2%}")

        outcomes, stopped = run_all(partial(seed_rows, task), list(seeds), jobs, ended)
        if stopped:
            raise Stopped(stopped)
        out = [r for o in outcomes for r in o.result]
    for seed in seeds if not out else ():
        if len(seeds) > 1:
            log(f"seed {seed}")
        out += one_seed(data, device, seed, epochs, limit, log, rows, boost_size)
    if out_dir is not None:
        seconds = time.perf_counter() - begin
        write(out, out_dir, describe_machine(device), limit, seconds, command)
    return out


def one_seed(data: Digits, device: torch.device, seed: int, epochs: dict | None,
             limit: int | None, log, rows: tuple[str, ...],
             boost_size: int | None) -> list[Row]:  # fmt: skip
    """Every row of ``rows`` for one seed (and any row they need, measured but not listed)."""
    passes = {c.key: c.passes for c in CLASSIFIERS if c.passes} | (epochs or {})
    prepared = prepare(data, "mnist28", device).limited(limit)
    ctx = Context(data, prepared, device, seed, limit, passes, log, boost_size)
    out: list[Row] = []
    for row in order(rows):
        m = row.measure(row, ctx)
        ctx.done[row.key] = m
        if row.key not in rows:
            continue
        out.append(Row(row.key, row.what, m.test_error, m.train_seconds, m.ms_per_digit,
                       row.published, m.settings, seed))  # fmt: skip
        log(f"{row.what:36s} test error {m.test_error:6.2%} (1998: {row.published:5.2%}), "
            f"trained {m.train_seconds:7.1f} s, {m.ms_per_digit:.4f} ms per digit")  # fmt: skip
    return out


@dataclass(frozen=True)
class SeedTask:
    """What a worker needs to measure one seed's rows (it loads the data itself)."""

    dataset: str
    data_dir: str | None
    device: str
    epochs: dict | None
    limit: int | None
    rows: tuple[str, ...]
    boost_size: int | None


def seed_rows(task: SeedTask, seed: int) -> list[Row]:
    """One seed's rows, in a worker: what ``one_seed`` gives in the parent."""
    from lecnn.data import load_mnist
    from lecnn.device import select_device

    data = load_mnist(task.data_dir, dataset=task.dataset)
    device = select_device(task.device)
    return one_seed(data, device, seed, task.epochs, task.limit, lambda _: None, task.rows,
                    task.boost_size)  # fmt: skip

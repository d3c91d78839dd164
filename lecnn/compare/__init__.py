"""LeCun et al. 1998's comparison of classifiers on MNIST (its Fig. 9), measured here: each row
(``classifiers.CLASSIFIERS``) trained and timed once per seed, then one table (``table``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch

from lecnn.compare.classifiers import CLASSIFIERS, KEYS, Context, order
from lecnn.compare.table import Row, merge, write
from lecnn.data import Digits, prepare
from lecnn.device import describe_machine

__all__ = ["CLASSIFIERS", "KEYS", "Row", "merge", "run", "write"]


def run(data: Digits, device: torch.device, seeds: Sequence[int] = (0,),
        epochs: dict | None = None, limit: int | None = None, out_dir: Path | None = None,
        log=print, rows: tuple[str, ...] = KEYS, boost_size: int | None = None,
        command: str = "") -> list[Row]:  # fmt: skip
    """Train and time each classifier in ``rows`` once per seed in ``seeds``; ``epochs``
    overrides passes per key (quick runs); ``boost_size``: examples for boosted LeNet-4's second
    and third nets. With ``out_dir``, the table aggregates the seeds (see ``write``)."""
    begin = time.perf_counter()
    out: list[Row] = []
    for seed in seeds:
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

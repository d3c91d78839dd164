"""What a run shows and logs, and when: the loop calls a ``Reporter`` at each moment (updates
taken, a check, a stop, a pass's end) and the reporter decides what goes to TensorBoard and to
the progress bar. The loop itself logs nothing, as Lightning's callbacks and torchtune's metric
loggers keep logging out of the training step."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from lecnn.logs.tensorboard import Logger, RunLogger, Silent
from lecnn.training import health
from lecnn.training.config import ResolvedConfig
from lecnn.training.engine import Engine
from lecnn.training.runlog import StepCurve, health_every, log_start
from lecnn.training.state import Progress

#: examples a health sample measures (per-example runs too: one digit says little)
HEALTH_BATCH = 64


@dataclass
class Tally:
    """One stretch of a pass (the whole pass, or its rest after a resume): the running sums on
    the device, kept there until a check syncs, and the updates since the last check."""

    device: torch.device
    loss_sum: torch.Tensor = field(init=False)
    correct: torch.Tensor = field(init=False)
    seen: int = 0
    since_check: int = 0
    t0: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self.correct = torch.zeros((), dtype=torch.int64, device=self.device)

    def add(self, loss_total: torch.Tensor, correct: torch.Tensor, seen: int, updates: int) -> None:
        self.loss_sum += loss_total
        self.correct += correct
        self.seen += seen
        self.since_check += updates


class Reporter:
    """A run's TensorBoard logger (rank 0's; other ranks get a silent one), its step-level curve
    and its progress bar."""

    def __init__(
        self,
        config: ResolvedConfig,
        engine: Engine,
        progress: Progress,
        *,
        run_dir: Any,
        device: torch.device,
        batches: int,
        log_every: int,
        main: bool,
        bar: bool | None,
        example: torch.Tensor,
    ) -> None:
        self.config, self.engine, self.log_every = config, engine, log_every
        self.label = ""  # the run's name before its pass lines, where several runs print
        names = engine.spec.display_name
        self.logger: Logger = RunLogger(run_dir, names=names) if main else Silent()
        if progress.step == 0 and main:
            log_start(self.logger, config, device, engine, example)
        self.curve = StepCurve(self.logger, log_every)
        self.health_every = health_every(config, batches) if main else 0
        self.health_file = Path(run_dir) / "health.jsonl"
        self.bar = tqdm(
            total=config.epochs * batches,
            initial=progress.epoch * batches + progress.batch,
            disable=(not main) or ((not bar) if bar is not None else None),
            unit="batch",
            dynamic_ncols=True,
            desc=f"{config.model}/{config.impl}",
        )

    def stretch(self) -> None:
        """A stretch of updates begins (sums from 0)."""
        self.curve.start()

    def updates(self, step: int, lrs: list[float], tally: Tally) -> None:
        """Updates ``step - len(lrs) + 1`` to ``step`` were taken at rates ``lrs``."""
        first = step - len(lrs) + 1
        for i, lr in enumerate(lrs):
            if first + i == 1 or (first + i) % self.log_every == 0:
                self.logger.scalars({"optimizer/lr": lr}, first + i)
        self.curve.record(step, tally.loss_sum, tally.correct, tally.seen, since=first - 1)

    def health_due(self, step: int, k: int) -> bool:
        """Whether the ``k`` updates after ``step`` include a health sample (the first update
        always does)."""
        n = self.health_every
        return n > 0 and (step == 0 or (step + k) // n > step // n)

    def health(self, progress: Progress, before: dict[str, torch.Tensor], updates: int,
               batch: tuple[torch.Tensor, torch.Tensor]) -> None:  # fmt: skip
        """A health sample after an update: the update against the weights ``before`` it, and
        every named layer on ``batch`` (RUN/health.jsonl, TensorBoard health/)."""
        names = self.engine.spec.display_name
        ratios = health.update_ratios(before, self.engine.params(), updates, names)
        layers = health.probe(self.engine, *batch)
        line = health.record(progress.step, progress.epoch, layers, ratios)
        with self.health_file.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, allow_nan=True) + "\n")
        self.logger.health(layers, ratios, progress.step)

    def check(self, progress: Progress, tally: Tally) -> None:
        """At a check (the loop has synced): the curve's points, the bar and its running figures."""
        self.curve.flush()
        self.bar.update(tally.since_check)
        seen = progress.seen + tally.seen
        self.bar.set_postfix(
            loss=f"{(progress.loss_sum + float(tally.loss_sum)) / seen:.4f}",
            acc=f"{(progress.correct + int(tally.correct)) / seen:.2%}",
            img_s=f"{tally.seen / max(time.perf_counter() - tally.t0, 1e-9):,.0f}",
            refresh=False,
        )

    def stopped(self, tally: Tally) -> None:
        """The run stops between checks (Ctrl-C, or ``on_step`` asked)."""
        self.curve.flush()
        self.bar.update(tally.since_check)

    def pass_end(self, record: dict[str, Any], step: int) -> None:
        """A pass ended: its line, its curves, the weights' histograms and the first filters."""
        cfg, log = self.config, self.logger
        if "test_loss" in record:
            self.bar.write(
                f"{self.label + ': ' if self.label else ''}pass {record['epoch']}/{cfg.epochs}: train loss {record['train_loss']:.4f} "
                f"error {record['train_error']:.2%} | test loss {record['test_loss']:.4f} "
                f"error {record['test_error']:.2%} ({record['test_misses']} misses) | "
                f"{record['images_per_s'] or 0:,.0f} images/s"
            )
        log.metrics("train", "pass", record["train_loss"], record["train_error"], step)
        if "test_loss" in record:
            log.metrics("test", "pass", record["test_loss"], record["test_error"], step)
        log.scalars(
            {
                "speed/images_per_s": record["images_per_s"],
                "time/train_seconds": record["train_seconds"],
            },
            step,
        )
        log.histograms(self.engine.params(), self.engine.grads(), step)
        name, first = next(iter(self.engine.params().items()))
        if first.dim() == 4:
            log.filters(name, first, step)
        log.flush()

    def close(self) -> None:
        self.bar.close()
        self.logger.close()

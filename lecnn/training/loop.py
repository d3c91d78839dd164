"""The training loop, one piece of code for both implementations and every way of running.

The path of one update (docs/architecture.md draws it): ``Trainer.run`` → ``Trainer.train_pass``,
the loop over a pass's batches → ``updater(chunk)``, the run's way of updating chosen once at
set-up (``lecnn.training.updaters``) → the optimizer's step. What a run is built from is
``lecnn.training.setup``; what a pass keeps and logs, ``lecnn.training.passes``."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from dataclasses import replace
from functools import cached_property
from typing import Any

import torch

from lecnn.data import Prepared
from lecnn.training.config import TrainConfig
from lecnn.training.evaluate import Evaluation
from lecnn.training.interrupt import Stopped, stop_signals_call
from lecnn.training.passes import OnStep, Pass, pass_record
from lecnn.training.reporter import Reporter
from lecnn.training.results import RunResult, finish
from lecnn.training.setup import RunSetup, load_data, set_up
from lecnn.training.state import Diverged

__all__ = ["Diverged", "Trainer", "load_data", "train", "train_apart"]


class Trainer:
    """Runs (or with ``resume=RUN_DIR`` continues) one training run: ``run()``. Set up first
    (``lecnn.training.setup.set_up``): the settings are checked and the folder claimed when the
    Trainer is made, before any data is loaded."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        data: Prepared | None = None,
        resume: str | os.PathLike[str] | None = None,
        progress_bar: bool | None = None,
        overwrite: bool = False,
        distributed: bool = True,
        given: set[str] | None = None,
        label: str = "",
    ) -> None:
        self.setup: RunSetup = set_up(
            config, data=data, resume=resume, overwrite=overwrite, distributed=distributed,
            given=given,
        )  # fmt: skip
        s = self.setup
        self.config, self.engine, self.state, self.updater = s.config, s.engine, s.state, s.updater
        self.data, self.device, self.run_dir = s.data, s.device, s.run_dir
        self.optimizer = s.optimizer  # lecnn's own, for both implementations
        self.progress, self.compiled = s.state.progress, s.updater.compiled
        self.progress_bar, self.label = progress_bar, label  # label: the run's name in pass lines
        self.stop_requested, self.stop_signal = False, int(signal.SIGINT)
        self.final_test: Evaluation | None = None  # the test evaluation after the last pass

    def run(self, on_step: OnStep | None = None) -> RunResult:
        """Train to the configured number of passes. ``on_step(step, loss)`` runs after each
        update (``loss``: that update's loss, a tensor) and may return True to stop as Ctrl-C
        would."""
        try:
            with stop_signals_call(self.request_stop):
                while not self.done:
                    if not self.train_pass(on_step):
                        return self.finish("interrupted")
                    self.end_pass()
            return self.finish("finished")
        except Diverged:
            self.report.logger.end_session("diverged")
            raise
        finally:
            self.close()

    def train_pass(self, on_step: OnStep | None = None) -> bool:
        """The rest of the current pass, update by update; False when it stopped early (Ctrl-C,
        a stop signal, or ``on_step``), its checkpoint saved."""
        this_pass = self.start_pass()
        while not this_pass.over:
            chunk = this_pass.next_chunk()  # the next batch (a compiled run: k of them)
            took = self.updater(chunk)  # forward, backward, the optimizer's step
            wish = this_pass.account(chunk, took, on_step)  # sums, logs, the finite-loss check
            if this_pass.should_stop(wish or self.stop_requested):
                return False
        this_pass.finish()
        return True

    def start_pass(self) -> Pass:
        """The rest of the current pass, to be driven by a loop (``train_pass``, or a group's)."""
        return Pass(self.setup, self.report)

    def end_pass(self) -> None:
        """After a pass: its record (the test set evaluated when due), its logs, a checkpoint."""
        p = self.progress
        self.setup.check_finite(torch.tensor(p.loss_sum / p.seen), weights=True)
        record, test = pass_record(self.setup)
        if record["epoch"] == self.config.epochs:  # the weights are final: finish() reports it
            self.final_test = test
        p.history.append(record)
        self.report.pass_end(record, p.step)
        p.epoch, p.batch, p.order = record["epoch"], 0, None
        p.loss_sum, p.correct, p.seen = 0.0, 0, 0
        self.setup.save()

    @property
    def done(self) -> bool:
        """Whether the run has taken all its passes."""
        return self.progress.epoch >= self.config.epochs

    @cached_property
    def report(self) -> Reporter:
        """The run's logs (TensorBoard, curves, progress bar), opened when first needed."""
        s = self.setup
        report = Reporter(
            s.config, s.engine, self.progress, run_dir=s.run_dir, device=s.device,
            batches=s.batches, log_every=s.log_every, main=s.ranks.main,
            bar=self.progress_bar, example=s.data.train.x[:1],
        )  # fmt: skip
        report.label = self.label
        return report

    def finish(self, status: str) -> RunResult:
        """The run's end (``finished`` or ``interrupted``): its final evaluation and results."""
        s = self.setup
        return finish(
            s.state, s.data, self.report.logger, s.run_dir, status, final_test=self.final_test,
            compiled=s.updater.compiled, ranks=s.ranks,
        )  # fmt: skip

    def request_stop(self, signum: int = signal.SIGINT, *_: Any) -> None:
        """Finish the current update, save a checkpoint and return (what Ctrl-C, or a scheduler's
        SIGTERM, does); ``signum`` is kept for the exit status."""
        self.stop_requested, self.stop_signal = True, int(signum)

    def close(self) -> None:
        """Close the logs, release the run folder and put torch's process-wide settings back
        (``run`` does this when it returns)."""
        report = vars(self).pop("report", None)  # opened, or not
        if report is not None:
            report.close()
        self.setup.close()


def train_apart(config: TrainConfig, data: Prepared) -> tuple[Trainer, float]:
    """A run on ``data`` whose folder is thrown away (a classifier of a comparison, a lecture
    step): (the finished ``Trainer``, its wall seconds). A run stopped by Ctrl-C or a stop signal
    raises ``Stopped``, so what called it stops too instead of using a half-trained network."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(replace(config, logdir=tmp), data=data, progress_bar=False)
        start = time.perf_counter()
        if trainer.run().status == "interrupted":
            raise Stopped(trainer.stop_signal)
        return trainer, time.perf_counter() - start


def train(config: TrainConfig, **kwargs: Any) -> RunResult:
    """Train (or with ``resume=RUN_DIR`` continue) a run; see ``Trainer``."""
    on_step = kwargs.pop("on_step", None)
    return Trainer(config, **kwargs).run(on_step)

"""Many runs of one model as one program (``lecnn train --seeds N``, ``--sweep lr=A,B``): each run
a ``Trainer`` of its own — its folder, generators, data order, augmentation draws, dropout masks,
optimizer and SDLM curvature, checkpoint and results — and every update of all of them taken by
one call of ``GroupUpdate`` (the engine's gradient step vmapped over the runs' stacked weights,
``lecnn.training.group``); each run's optimizer then updates its own weights. The runs go through
each pass in lockstep, each driving its own ``Pass`` (the single run's protocol: next chunk,
account, should stop, finish), so a run trained in a group is the run trained alone
(tests/test_grouped.py). A run that diverges stops alone; the others go on.

Run again, the same group skips its finished runs and resumes the others from their checkpoints
(after a kill, runs whose last pass was saved and runs whose pass was not are at different
places: each pass is taken by the runs at the earliest place, until they are level again)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from lecnn.data import Prepared
from lecnn.device import select_device
from lecnn.errors import LecnnError
from lecnn.training.config import ResolvedConfig, TrainConfig
from lecnn.training.group import GroupStep, stack, unstack
from lecnn.training.interrupt import stop_signals_call
from lecnn.training.loop import Trainer
from lecnn.training.results import RunResult, finished_results
from lecnn.training.rundir import resumable
from lecnn.training.setup import load_data
from lecnn.training.state import Diverged
from lecnn.training.updaters import Chunk, Took

#: what every run of a group shares: one network, one data set, passes of the same batches
SHARED = (
    "model",
    "impl",
    "dataset",
    "data_dir",
    "limit",
    "batch_size",
    "epochs",
    "device",
    "dtype",
)


@dataclass
class RunOutcome:
    """How one run of a group ended: its result (finished or interrupted), or why it stopped."""

    config: TrainConfig
    run_dir: Path
    result: RunResult | None = None
    diverged: Diverged | None = None
    skipped: bool = False  # finished before this command: nothing trained


def check_fits(configs: Sequence[TrainConfig]) -> list[ResolvedConfig]:
    """The configs resolved, checked to fit one group: a setting of ``SHARED`` that differs is a
    one-line error naming it."""
    if not configs:
        raise LecnnError("a group needs at least one run")
    resolved = [c.resolved() for c in configs]
    first = resolved[0]
    for c in resolved[1:]:
        for name in SHARED:
            if getattr(c, name) != getattr(first, name):
                flag = "--" + name.replace("_", "-")
                raise LecnnError(
                    f"runs trained as one group share {flag}: {getattr(first, name)} and "
                    f"{getattr(c, name)} differ; train them as separate groups (or --group off)"
                )
    return resolved


def member(
    config: TrainConfig, given: set[str], data: Prepared | None, *, overwrite: bool, **kw: Any
) -> Trainer | None:
    """The trainer for one run of a set in its folder (``config.logdir``): resumed from its
    checkpoint when it has one, None when it has finished (unless ``overwrite``)."""
    folder = Path(config.logdir or "")
    if not overwrite and finished_results(folder) is not None:
        return None
    resume = None if overwrite else resumable(folder)
    return Trainer(
        config, data=data, resume=resume, given=given | {"logdir"}, overwrite=overwrite,
        distributed=False, **kw,
    )  # fmt: skip


class GroupUpdate:
    """One update for each of several runs: one vmapped forward and backward pass for all (the
    first run's engine lends the program its network), then each run's own optimizer step on
    its own weights with its own rate. One run left alone takes its own update."""

    def __init__(self, first: Trainer) -> None:
        self.step = GroupStep(first.engine)

    def __call__(self, members: Sequence[Trainer], chunks: Sequence[Chunk]) -> list[Took]:
        if len(members) == 1:
            return [members[0].updater(chunks[0])]
        xs = torch.stack([c.x for c in chunks])
        ts = torch.stack([c.t for c in chunks])
        masks = self.step.masks(chunks[0].x, [m.state.dropout for m in members])
        losses, outs, grads = self.step(stack([m.engine.params() for m in members]), xs, ts, masks)
        took = []
        for i, (m, c) in enumerate(zip(members, chunks, strict=True)):
            m.setup.optimizer.lr = c.lrs[0]
            m.setup.optimizer.step(m.engine.params(), unstack(grads, i))
            took.append(Took((losses[i],), outs[i], m.engine.spec.loss_total(losses[i], len(c.y))))
        return took


class GroupTrainer:
    """Trains ``configs`` (runs of one model, each with its own ``logdir``) as one group."""

    def __init__(
        self,
        configs: Sequence[TrainConfig],
        *,
        given: set[str] | None = None,
        data: Prepared | None = None,
        overwrite: bool = False,
    ) -> None:
        first = check_fits(configs)[0]
        if data is None:
            data = load_data(first, select_device(first.device), getattr(torch, first.dtype))
        given = set(given) if given is not None else set()
        self.outcomes: list[RunOutcome] = []
        self.members: list[Trainer] = []
        self._of: dict[Trainer, RunOutcome] = {}  # a Trainer hashes by identity
        try:
            for config in configs:
                # one update program serves them all: none compiles its own
                m = member(
                    replace(config, compile="off"), given, data, overwrite=overwrite,
                    progress_bar=False,  # one bar per run would overwrite each other
                    label=Path(config.logdir or "").name,
                )  # fmt: skip
                out = RunOutcome(config, Path(config.logdir or ""), skipped=m is None)
                self.outcomes.append(out)
                if m is not None:
                    self.members.append(m)
                    self._of[m] = out
        except BaseException:
            self.close()
            raise
        # none needed when every run had finished
        self.update = GroupUpdate(self.members[0]) if self.members else None
        self.stop_requested = False

    def close(self) -> None:
        for m in self.members:
            m.close()

    def request_stop(self, signum: int = signal.SIGINT, *_: object) -> None:
        """Ctrl-C (or a scheduler's SIGTERM, ...): every run finishes the current update, saves
        its checkpoint and returns."""
        self.stop_requested = True
        for m in self.members:
            m.request_stop(signum)

    def run(self) -> list[RunOutcome]:
        """Train every run to its passes; each run's outcome, in the order of the configs."""
        self._active = list(self.members)
        try:
            for m in [m for m in self._active if m.done]:  # its last pass saved, not its results
                self._end(m, "finished")
            with stop_signals_call(self.request_stop):
                while self._active:
                    if not self._pass():
                        for m in list(self._active):
                            self._end(m, "interrupted")
        finally:
            for m in list(self._active):
                self._leave(m)
        return self.outcomes

    def _pass(self) -> bool:
        """One pass for the runs at the earliest place; False when Ctrl-C stopped them."""
        place = min((m.progress.epoch, m.progress.batch) for m in self._active)
        cohort = [m for m in self._active if (m.progress.epoch, m.progress.batch) == place]
        if not self._lockstep(cohort):
            return False
        for m in [m for m in cohort if m in self._active]:
            try:
                m.end_pass()
            except Diverged as e:
                self._diverged(m, e)
                continue
            if m.done:
                self._end(m, "finished")
        return True

    def _lockstep(self, cohort: list[Trainer]) -> bool:
        """The rest of the pass for ``cohort`` (runs at the same place): each brings its next
        chunk (its own order and draws), one program updates them all, each accounts for its
        own. False when they stopped (each with its checkpoint saved)."""
        passes = {m: m.start_pass() for m in cohort}
        live = list(cohort)
        while live and not passes[live[0]].over:
            chunks = [passes[m].next_chunk() for m in live]
            assert self.update is not None
            for m, chunk, took in zip(list(live), chunks, self.update(live, chunks), strict=True):
                self._guarded(m, live, passes[m].account, chunk, took)
            if self.stop_requested:  # Ctrl-C reaches every run at once: all of them stop
                for m in list(live):
                    self._guarded(m, live, passes[m].should_stop, True)
                return False
        for m in live:
            passes[m].finish()
        return True

    def _guarded(self, m: Trainer, live: list[Trainer], call: Callable, *args: Any) -> None:
        """``call(*args)`` for run ``m``; if ``m`` diverges there, it leaves the group, alone."""
        try:
            call(*args)
        except Diverged as e:
            self._diverged(m, e)
            live.remove(m)

    def _diverged(self, m: Trainer, e: Diverged) -> None:
        m.report.logger.end_session("diverged")
        self._leave(m)
        self._of[m].diverged = e

    def _end(self, m: Trainer, status: str) -> None:
        self._of[m].result = m.finish(status)
        self._leave(m)

    def _leave(self, m: Trainer) -> None:
        m.close()
        self._active.remove(m)

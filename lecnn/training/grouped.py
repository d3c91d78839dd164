"""Many runs of one model as one program (``lecnn train --seeds N``, ``--sweep lr=A,B``): each run
a ``Trainer`` of its own — its folder, generators, data order, augmentation draws, dropout masks,
optimizer and SDLM curvature, checkpoint and results — and every update of all of them taken by
one call of ``GroupStep`` (the forward and backward pass vmapped over the runs' stacked weights);
each run's optimizer then updates its own weights. The pass itself is the single run's
(``lockstep.run_pass``), so a run trained in a group is the run trained alone
(tests/test_grouped.py). A run that diverges stops alone; the others go on.

Run again, the same group skips its finished runs and resumes the others from their checkpoints
(after a kill, runs whose last pass was saved and runs whose pass was not are at different
places: each pass is taken by the runs at the earliest place, until they are level again)."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from lecnn.data import Prepared
from lecnn.device import select_device
from lecnn.errors import LecnnError
from lecnn.training.config import ResolvedConfig, TrainConfig
from lecnn.training.group import GroupStep, stack, unstack
from lecnn.training.interrupt import stop_signals_call
from lecnn.training.lockstep import run_pass
from lecnn.training.loop import Trainer, load_data
from lecnn.training.results import RunResult, finished_results
from lecnn.training.rundir import resumable
from lecnn.training.state import Diverged

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
class Outcome:
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
    config: TrainConfig, given: set[str], data: Prepared | None, *, overwrite: bool, **kw
) -> Trainer | None:
    """The trainer for one run of a group in its folder (``config.logdir``): resumed from its
    checkpoint when it has one, None when it has finished (unless ``overwrite``)."""
    folder = Path(config.logdir or "")
    if not overwrite and finished_results(folder) is not None:
        return None
    resume = None if overwrite else resumable(folder)
    return Trainer(
        config, data=data, resume=resume, given=given | {"logdir"}, overwrite=overwrite,
        distributed=False, **kw,
    )  # fmt: skip


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
        resolved = check_fits(configs)
        first = resolved[0]
        self.device = select_device(first.device)
        self.dtype = getattr(torch, first.dtype)
        if data is None:
            data = load_data(first, self.device, self.dtype)
        given = set(given) if given is not None else set()
        self.outcomes: list[Outcome] = []
        self.members: list[Trainer] = []
        self._of: dict[Trainer, Outcome] = {}  # a Trainer hashes by identity
        try:
            for config in configs:  # one update program serves them all: none compiles its own
                m = member(
                    replace(config, compile="off"), given, data, overwrite=overwrite,
                    progress_bar=False,  # one bar per run would overwrite each other
                )  # fmt: skip
                out = Outcome(config, Path(config.logdir or ""), skipped=m is None)
                self.outcomes.append(out)
                if m is not None:
                    self.members.append(m)
                    self._of[m] = out
        except BaseException:
            self.close()
            raise
        self.step: GroupStep | None = None  # none needed when every run had finished
        if self.members:
            self.step = GroupStep(self.members[0].spec, first.impl, self.device, self.dtype)

    def close(self) -> None:
        for m in self.members:
            m.close()

    def request_stop(self, signum: int = signal.SIGINT, *_: object) -> None:
        """Ctrl-C (or a scheduler's SIGTERM, ...): every run finishes the current update, saves
        its checkpoint and returns."""
        for m in self.members:
            m.request_stop(signum)

    def _apply(self, members: Sequence[Trainer], chunks: Sequence) -> list:
        """One update for each of ``members``: one vmapped forward and backward pass for all,
        then each run's own optimizer step on its own weights with its own rate."""
        if len(members) == 1:
            return [members[0]._apply(chunks[0])]
        assert self.step is not None
        xs = torch.stack([c.x for c in chunks])
        ts = torch.stack([c.t for c in chunks])
        masks = self.step.masks(chunks[0].x, [m.state.dropout for m in members])
        losses, outs, grads = self.step(stack([m.engine.params() for m in members]), xs, ts, masks)
        results = []
        for i, (m, c) in enumerate(zip(members, chunks, strict=True)):
            m.optimizer.lr = c.lrs[0]
            m.optimizer.step(m.engine.params(), unstack(grads, i))
            results.append(((losses[i],), outs[i], m.spec.loss_total(losses[i], len(c.y))))
        return results

    def _diverged(self, m: Trainer, e: Diverged) -> None:
        m.report.logger.end_session("diverged")
        self._leave(m)
        self._of[m].diverged = e

    def _leave(self, m: Trainer) -> None:
        m.report.close()
        m.close()
        self._active.remove(m)

    def run(self) -> list[Outcome]:
        """Train every run to its passes; each run's outcome, in the order of the configs."""
        self._active = list(self.members)
        for m in self._active:
            m.open_report()
            m.report.label = m.run_dir.name
        try:
            for m in [m for m in self._active if m.done]:  # its last pass saved, not its results
                self._of[m].result = m._finish("finished")
                self._leave(m)
            with stop_signals_call(self.request_stop):
                while self._active:
                    if not self._pass():
                        for m in list(self._active):
                            self._of[m].result = m._finish("interrupted")
                            self._leave(m)
        finally:
            for m in list(self._active):
                self._leave(m)
        return self.outcomes

    def _pass(self) -> bool:
        """One pass for the runs at the earliest place; False when Ctrl-C stopped them."""
        place = min((m.progress.epoch, m.progress.batch) for m in self._active)
        cohort = [m for m in self._active if (m.progress.epoch, m.progress.batch) == place]
        if not run_pass(cohort, self._apply, on_diverged=self._diverged):
            return False
        for m in [m for m in cohort if m in self._active]:
            try:
                m._end_pass()
            except Diverged as e:
                self._diverged(m, e)
                continue
            if m.done:
                self._of[m].result = m._finish("finished")
                self._leave(m)
        return True

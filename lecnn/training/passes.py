"""One pass of a run over its training digits, as the loop drives it: ``Pass`` gives the next
chunk of batches, accounts for the updates taken on it, says whether the run stops there, and
folds the pass's sums into the run's progress at its end. The update itself is the run's
``Updater``'s; the loop that calls these is ``Trainer.train_pass`` (one run) or
``GroupTrainer`` (runs in lockstep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from lecnn.data import pass_order
from lecnn.training import health
from lecnn.training.evaluate import Evaluation, evaluate
from lecnn.training.reporter import HEALTH_BATCH, Reporter, Tally
from lecnn.training.setup import RunSetup
from lecnn.training.updaters import Chunk, Took

CHECK_EVERY = 100  # updates between host syncs (finite-loss check, progress bar)

OnStep = Callable[[int, torch.Tensor], bool | None]


def pass_examples(s: RunSetup) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """This pass's examples (inputs, targets, labels) gathered once in its order (drawn at its
    start; ``--order fixed``: the 1989 protocol's constant order); each batch is a view. SDLM
    re-estimates its curvature here, at the pass's start."""
    p, train = s.state.progress, s.data.train
    if p.order is None and s.pool is not None:  # entries of the paper's pool
        p.order = s.pool.order(s.state.generator, s.device)
    elif p.order is None:
        shuffle = s.config.order != "fixed"
        p.order = pass_order(
            len(train), device=s.device, generator=s.state.generator, shuffle=shuffle
        )
    pick = p.order % len(train)  # a pool entry's pattern (the order itself otherwise)
    xs, ts, ys = train.x[pick], s.train_targets[pick], train.y[pick]
    n = s.optimizer.samples
    s.optimizer.start_pass(partial(s.engine.curvature, xs[:n], ts[:n]), p.batch == 0, p.epoch)
    return xs, ts, ys


class Pass:
    """The rest of the current pass of one run (all of it, or what is left after a resume): its
    examples in order and the running sums of its updates (``tally``, on the device)."""

    def __init__(self, setup: RunSetup, report: Reporter) -> None:
        self.setup, self.report, self.progress = setup, report, setup.state.progress
        self.xs, self.ts, self.ys = pass_examples(setup)
        report.stretch()
        setup.sync()
        self.tally = Tally(setup.device)
        self.first: tuple[torch.Tensor, int] | None = None  # the run's first loss, per batch
        self.last: torch.Tensor | None = None  # the latest update's loss
        self.before: dict[str, torch.Tensor] | None = None  # weights before a health sample

    @property
    def over(self) -> bool:
        return self.progress.batch >= self.setup.batches

    def next_chunk(self) -> Chunk:
        """The next call's batches: one, or the ``k`` a compiled run takes in one call, augmented
        batch by batch (the generator's draws as in eager runs), this rank's share."""
        s, p, bs = self.setup, self.progress, self.setup.config.batch_size
        k = s.updater.per_call(p.batch)
        start, end = p.batch * bs, (p.batch + k) * bs
        x, t, y = self.xs[start:end], self.ts[start:end], self.ys[start:end]
        if s.pool is not None:  # the pool's copies as they were made, nothing drawn
            assert p.order is not None  # drawn at the pass's start
            x = s.pool.render(x, p.order[start:end])
        elif s.config.augment and k == 1:
            x = s.augment(x, s.state.generator)
        elif s.config.augment:
            x = torch.cat([s.augment(b, s.state.generator) for b in x.split(bs)])
        x, t, y = s.ranks.share(x, t, y)
        lrs = [s.schedule(p.epoch, p.step + i) for i in range(k)]
        if self.report.health_due(p.step, k):  # the update is measured against these
            self.before = health.snapshot(s.engine.params())
        return Chunk(k, x, t, y, lrs)

    def account(self, chunk: Chunk, took: Took, on_step: OnStep | None = None) -> bool | None:
        """Add the chunk's updates to the sums and logs, and at a check (every ``CHECK_EVERY``
        updates, and at the pass's end) test the loss (raises Diverged); ``on_step``'s wish to
        stop, if it has one."""
        p, tally = self.progress, self.tally
        if p.step == 0:  # the untrained network's loss: what divergence is measured from
            self.first = (took.losses[0], len(chunk.y) // chunk.k)
        correct = (self.setup.engine.predict(took.out) == chunk.y).sum()
        tally.add(took.loss_total, correct, len(chunk.y), chunk.k)
        p.batch += chunk.k
        p.step += chunk.k
        if self.before is not None:
            self.report.health(p, self.before, chunk.k, self.probe_batch())
            self.before = None
        wish = None
        if on_step is not None:
            for i in range(chunk.k):
                wish = on_step(p.step - chunk.k + 1 + i, took.losses[i]) or wish
        self.report.updates(p.step, chunk.lrs, tally)
        if tally.since_check >= CHECK_EVERY or p.batch == self.setup.batches:
            if p.first_loss is None and self.first is not None:
                loss, n = self.first  # per example, as the stretch's mean is
                p.first_loss = float(loss) / (n if self.setup.spec.sums_examples else 1)
            mean = float(tally.loss_sum) / tally.seen if tally.seen else None
            self.setup.check_finite(took.losses[-1], mean_loss=mean)
            self.report.check(p, tally)
            tally.since_check = 0
        self.last = took.losses[-1]
        return wish

    def probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """What a health sample measures: the pass's digits at the last update's place, as they
        are (undistorted), at least ``HEALTH_BATCH`` of them."""
        bs = self.setup.config.batch_size
        n = max(bs, HEALTH_BATCH)
        start = min(max(self.progress.batch - 1, 0) * bs, max(len(self.xs) - n, 0))
        return self.xs[start : start + n], self.ts[start : start + n]

    def should_stop(self, wish: bool | None) -> bool:
        """Whether the run stops after this update (``wish``: Ctrl-C, or ``on_step`` asked); if
        so its sums folded in and a checkpoint saved. Ranks stop together, at a check, or they
        would hang."""
        at_check = self.tally.since_check == 0
        if not self.setup.ranks.agree(bool(wish), at_check=at_check, device=self.setup.device):
            return False
        assert self.last is not None
        self.setup.check_finite(self.last, weights=True)
        self.report.stopped(self.tally)
        self.finish()
        self.setup.save()
        return True

    def finish(self) -> None:
        """Add the pass's sums and time into the run's progress (the whole batches', summed over
        the ranks)."""
        s, p, tally = self.setup, self.progress, self.tally
        s.sync()
        p.train_seconds += time.perf_counter() - tally.t0
        loss_sum, correct, seen = s.ranks.total(
            tally.loss_sum, tally.correct, tally.seen, device=s.device
        )
        p.loss_sum += float(loss_sum)
        p.correct += int(correct)
        p.seen += int(seen)


def pass_record(s: RunSetup) -> tuple[dict[str, Any], Evaluation | None]:
    """The finished pass's figures, with the test set's (and its evaluation) when it is
    evaluated this pass."""
    cfg, p = s.config, s.state.progress
    epoch = p.epoch + 1
    record: dict[str, Any] = {
        "epoch": epoch,
        "step": p.step,
        "lr": s.optimizer.lr,
        "train_loss": p.loss_sum / p.seen,
        "train_error": 1.0 - p.correct / p.seen,
        "train_seconds": p.train_seconds,
    }
    epoch_seconds = p.train_seconds - (p.history[-1]["train_seconds"] if p.history else 0.0)
    record["images_per_s"] = p.seen / epoch_seconds if epoch_seconds > 0 else None
    if epoch % cfg.eval_every != 0 and epoch != cfg.epochs:
        return record, None
    ev = evaluate(s.engine, s.data.test, ranks=s.ranks)
    record.update(test_loss=ev.loss, test_error=ev.error, test_misses=ev.misses)
    return record, ev

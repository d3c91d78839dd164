"""The training loop, one piece of code for both implementations."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from lecnn.data import Prepared, derived_seed, load_mnist, make_generator, pass_order
from lecnn.device import select_device, set_deterministic
from lecnn.errors import LecnnError
from lecnn.logs.tensorboard import timestamped_run_dir
from lecnn.manual.optim import Optimizer
from lecnn.models import get_spec
from lecnn.training.augment import augmentation
from lecnn.training.checkpoint import FILENAME, load_checkpoint
from lecnn.training.compiled import CompiledUpdate, updates_per_call, use_compiled
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.distributed import SINGLE, Processes, check_split, join, launched
from lecnn.training.engine import Engine, encode_targets, make_engine, use_channels_last
from lecnn.training.evaluate import Evaluation, evaluate
from lecnn.training.interrupt import stop_signals_call
from lecnn.training.lockstep import Stretch, run_pass
from lecnn.training.pool import pool_for
from lecnn.training.reporter import Reporter, Tally
from lecnn.training.results import RunResult, finish
from lecnn.training.resume import resumed_config
from lecnn.training.rundir import Unclaimed, claim, remove_if_unused
from lecnn.training.runlog import log_every
from lecnn.training.schedules import parse_schedule
from lecnn.training.state import Diverged, Progress, RunState

__all__ = ["Diverged", "Trainer", "load_data", "train"]

CHECK_EVERY = 100  # updates between host syncs (finite-loss check, progress bar)


def default_run_dir(config: TrainConfig) -> Path:
    # options (lenet5:init=printed,subsampling=sum) as lenet5_init-printed_subsampling-sum
    model = config.model.replace(":", "_").replace(",", "_").replace("=", "-")
    return timestamped_run_dir(f"{model}-{config.impl}")


def load_data(config: TrainConfig, device: torch.device, dtype: torch.dtype) -> Prepared:
    """The run's data set, in the form its model reads, on ``device``."""
    digits = load_mnist(config.data_dir, dataset=config.dataset)
    return config.prepare(digits, device, dtype)


class Trainer:
    """Runs (or resumes) one training run; see ``train``."""

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
    ) -> None:
        # under torchrun (several processes) the run is one data-parallel run over all of them,
        # unless the caller runs independent single-process runs (lecnn reproduce)
        self.group: Processes = (
            join(select_device(config.device)) if distributed and launched() else SINGLE
        )
        self.main = self.group.main
        ckpt = None
        if resume is not None:
            run_dir = Path(resume) if Path(resume).is_dir() else Path(resume).parent
            self._lock = claim(run_dir, resume=True, overwrite=False) if self.main else Unclaimed()
            try:
                ckpt = load_checkpoint(resume)
                saved = TrainConfig.from_dict(ckpt["config"])
                config = resumed_config(saved, config, ckpt, given)
            except BaseException:
                self._lock.release()
                raise
        else:
            config.resolved()  # check the settings before touching the disk
            fresh = not config.logdir or not Path(config.logdir).exists()
            run_dir = Path(config.logdir) if config.logdir else default_run_dir(config)
            # rank 0's folder (a timestamped name differs per rank)
            run_dir = Path(self.group.broadcast(str(run_dir)))
            self._lock = (
                claim(run_dir, resume=False, overwrite=overwrite) if self.main else Unclaimed()
            )
        self._restore_flags: Callable[[], None] = lambda: None
        try:
            self._setup(config, data, run_dir, ckpt)
        except BaseException:
            self.close()
            if ckpt is None and fresh and self.main:
                remove_if_unused(run_dir)  # a run that never started leaves no folder behind
            raise
        self.progress_bar = progress_bar
        self._stop, self.stop_signal = False, int(signal.SIGINT)
        self.final_test: Evaluation | None = None  # the test evaluation after the last pass

    def _setup(
        self,
        config: TrainConfig,
        data: Prepared | None,
        run_dir: Path,
        ckpt: dict[str, Any] | None,
    ) -> None:
        self.run_dir = run_dir
        self.checkpoint_path = run_dir / FILENAME
        # saved paths are absolute, so a run resumes from any working directory
        data_dir = config.data_dir and str(Path(config.data_dir).expanduser().resolve())
        config = replace(config, logdir=str(run_dir.resolve()), data_dir=data_dir)
        self.config = cfg = config.resolved()
        self.spec = get_spec(cfg.model)
        self.device = select_device(cfg.device)
        if self.group.parallel and self.device.type == "cuda":  # one GPU per process
            self.device = torch.device("cuda", self.group.local_rank)
            torch.cuda.set_device(self.device)
        self.dtype = getattr(torch, cfg.dtype)
        self._restore_flags = set_deterministic(cfg.deterministic)  # until the run ends
        if data is None:
            data = load_data(cfg, self.device, self.dtype)
        self.data = data.limited(cfg.limit)
        n = len(self.data.train)
        if cfg.batch_size > n:
            raise LecnnError(
                f"--batch-size {cfg.batch_size} is larger than the {n} training digits"
            )
        dropout = make_generator(self.device, derived_seed(cfg.seed, "dropout"))
        self.engine: Engine = make_engine(
            self.spec, cfg.impl, seed=cfg.seed, device=self.device, dtype=self.dtype,
            dropout=dropout,
            channels_last=use_channels_last(cfg.memory_format, self.device, self.dtype, cfg.batch_size, cfg.impl),
        )  # fmt: skip
        self.state = RunState(
            cfg,
            self.engine,
            make_optimizer(cfg),
            make_generator(self.device, cfg.seed),
            self.device,
            dropout=dropout,
        )
        self.batches = math.ceil(n / cfg.batch_size)
        self.log_every = log_every(cfg, self.batches)
        self.schedule = parse_schedule(cfg.schedule, cfg.lr, self.batches, cfg.epochs)
        self.train_targets = encode_targets(self.data.train.y, self.spec.target, self.dtype)
        self.augment = augmentation(cfg.augment_kind)
        self.pool = pool_for(cfg, n, self.data.train.x.shape[-1], self.device)
        if self.group.parallel:
            check_split(cfg.batch_size, n, self.group.world, cfg.compile)
            self.engine.distribute(self.group)
        self.compiled = not self.group.parallel and use_compiled(  # compiled: one process
            cfg.compile, self.device, cfg.batch_size, self.batches * cfg.epochs
        )
        self.update = None
        if self.compiled:
            per_call = updates_per_call(self.device, cfg.batch_size)
            self.update = CompiledUpdate(self.engine, self.state.optimizer, per_call)
        if ckpt is not None:
            self.state.restore(ckpt, self.checkpoint_path)

    @property
    def progress(self) -> Progress:
        """Where the run is: pass, update, examples seen."""
        return self.state.progress

    @property
    def optimizer(self) -> Optimizer:
        """The run's optimizer (lecnn's own, for both implementations)."""
        return self.state.optimizer

    def close(self) -> None:
        """Release the run folder and put torch's process-wide settings back (``run`` does this
        when it returns)."""
        self._lock.release()
        self._restore_flags()

    def save(self) -> Path:
        """Write the checkpoint atomically (rank 0 only); its path."""
        if self.main:  # every rank holds the same state; rank 0 writes it
            self.state.save(self.checkpoint_path)
        return self.checkpoint_path

    def request_stop(self, signum: int = signal.SIGINT, *_: Any) -> None:
        """Finish the current update, save a checkpoint and return (what Ctrl-C, or a scheduler's
        SIGTERM, does); ``signum`` is kept for the exit status."""
        self._stop, self.stop_signal = True, int(signum)

    def _per_call(self, batch: int) -> int:
        """Updates the next call takes: the compiled update's chunk where a whole one fits before
        the pass ends (a shorter last batch or remainder goes eagerly), else 1."""
        if self.update is None:
            return 1
        k = self.update.per_call
        full = len(self.data.train) // self.config.batch_size  # batches of full size
        return k if batch + k <= full else 1

    def _check_finite(
        self, loss: torch.Tensor, weights: bool = False, tally: Tally | None = None
    ) -> None:
        mean = float(tally.loss_sum) / tally.seen if tally is not None and tally.seen else None
        self.state.check_finite(loss, self.checkpoint_path, weights, mean_loss=mean)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, on_step: Callable[[int, torch.Tensor], bool | None] | None = None) -> RunResult:
        """Train to the configured number of passes. ``on_step(step, loss)`` runs after each
        update (``loss``: that update's loss, a tensor) and may return True to stop as Ctrl-C
        would."""
        self.open_report()
        try:
            with stop_signals_call(self.request_stop):
                while not self.done:
                    if not self._train_pass(on_step):
                        return self._finish("interrupted")
                    self._end_pass()
            return self._finish("finished")
        except Diverged:
            self.report.logger.end_session("diverged")
            raise
        finally:
            self.report.close()
            self.close()

    @property
    def done(self) -> bool:
        """Whether the run has taken all its passes."""
        return self.progress.epoch >= self.config.epochs

    def open_report(self) -> None:
        """Start the run's logs (TensorBoard, curves, progress bar): before its first pass."""
        self.report = Reporter(
            self.config, self.engine, self.progress, run_dir=self.run_dir, device=self.device,
            batches=self.batches, log_every=self.log_every, main=self.main,
            bar=self.progress_bar, example=self.data.train.x[:1],
        )  # fmt: skip

    def _pass_examples(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """This pass's examples (inputs, targets, labels) gathered once in its order (drawn at its
        start; ``--order fixed``: the 1989 protocol's constant order); each batch is a view."""
        p, train = self.progress, self.data.train
        if p.order is None and self.pool is not None:  # entries of the paper's pool
            p.order = self.pool.order(self.state.generator, self.device)
        elif p.order is None:
            shuffle = self.config.order != "fixed"
            p.order = pass_order(
                len(train), device=self.device, generator=self.state.generator, shuffle=shuffle
            )
        pick = p.order % len(train)  # a pool entry's pattern (the order itself otherwise)
        xs, ts, ys = train.x[pick], self.train_targets[pick], train.y[pick]
        samples = self.optimizer.samples  # SDLM re-estimates its curvature at a pass's start
        self.optimizer.start_pass(
            partial(self.engine.curvature, xs[:samples], ts[:samples]), p.batch == 0, p.epoch
        )
        return xs, ts, ys

    def _next_chunk(self, s: Stretch) -> _Chunk:
        """The next call's batches from the pass's examples: 1, or a compiled chunk of ``k``,
        augmented batch by batch (the generator's draws as in eager runs), this rank's share."""
        p, bs = self.progress, self.config.batch_size
        k = self._per_call(p.batch)
        start, end = p.batch * bs, (p.batch + k) * bs
        x, t, y = s.xs[start:end], s.ts[start:end], s.ys[start:end]
        if self.pool is not None:  # the pool's copies as they were made, nothing drawn
            assert p.order is not None  # drawn at the pass's start
            x = self.pool.render(x, p.order[start:end])
        elif self.config.augment and k == 1:
            x = self.augment(x, self.state.generator)
        elif self.config.augment:
            x = torch.cat([self.augment(b, self.state.generator) for b in x.split(bs)])
        x, t, y = self.group.share(x, t, y)
        lrs = [self.schedule(p.epoch, p.step + i) for i in range(k)]
        return _Chunk(k, x, t, y, lrs)

    def _apply(self, c: _Chunk) -> tuple[Sequence[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Take the chunk's updates: (each update's loss, the outputs, their loss summed over the
        examples), eagerly or as one compiled call of a whole chunk."""
        bs, engine, opt = self.config.batch_size, self.engine, self.optimizer
        if self.update is None or c.k != self.update.per_call or len(c.y) < c.k * bs:
            opt.lr = c.lrs[0]
            loss, out = engine.train_step(c.x, c.t)
            opt.step(engine.params(), engine.grads())
            # no tensor op on the per-example hot path
            return (loss,), out, self.spec.loss_total(loss, len(c.y))
        stacked = (c.x.view(c.k, bs, *c.x.shape[1:]), c.t.view(c.k, bs, *c.t.shape[1:]))
        losses, outs = self.update(*stacked, c.lrs)
        total = self.spec.loss_total(losses, bs).sum(dtype=torch.float64)
        return losses.unbind(), outs.flatten(0, 1), total  # each update's loss, as eagerly

    def _train_pass(self, on_step: Callable[[int, torch.Tensor], bool | None] | None) -> bool:
        """The rest of the current pass; False when it stopped early (a checkpoint saved)."""
        return run_pass([self], lambda _, chunks: [self._apply(chunks[0])], on_step)

    def _start_stretch(self) -> Stretch:
        """What the rest of the pass works from: its examples, and the sums of its updates."""
        xs, ts, ys = self._pass_examples()
        self.report.stretch()
        self._sync()
        return Stretch(xs, ts, ys, Tally(self.device))

    def _took(
        self,
        s: Stretch,
        chunk: _Chunk,
        result: tuple[Sequence[torch.Tensor], torch.Tensor, torch.Tensor],
        on_step: Callable[[int, torch.Tensor], bool | None] | None,
    ) -> bool | None:
        """Account for a chunk's updates (their ``result`` from ``_apply``): the sums, the logs,
        and at a check the finite-loss test (raises Diverged); returns ``on_step``'s wish to stop."""
        p, tally = self.progress, s.tally
        losses, out, loss_total = result
        if p.step == 0:  # the untrained network's loss: what divergence is measured from
            s.first = (losses[0], len(chunk.y) // chunk.k)
        correct = (self.engine.predict(out) == chunk.y).sum()
        tally.add(loss_total, correct, len(chunk.y), chunk.k)
        p.batch += chunk.k
        p.step += chunk.k
        stop = None
        if on_step is not None:
            for i in range(chunk.k):
                stop = on_step(p.step - chunk.k + 1 + i, losses[i]) or stop
        self.report.updates(p.step, chunk.lrs, tally)
        if tally.since_check >= CHECK_EVERY or p.batch == self.batches:
            if p.first_loss is None and s.first is not None:
                loss, n = s.first  # per example, as the stretch's mean is
                p.first_loss = float(loss) / (n if self.spec.sums_examples else 1)
            self._check_finite(losses[-1], tally=tally)
            self.report.check(p, tally)
            tally.since_check = 0
        s.last = losses[-1]
        return stop

    def _stops_here(self, s: Stretch, wish: bool | None) -> bool:
        """Whether the run stops after this update (``wish``, or Ctrl-C); if so its sums folded
        in and a checkpoint saved. Ranks stop together, at a check, or they hang."""
        at_check = s.tally.since_check == 0
        if not self.group.agree(wish or self._stop, at_check=at_check, device=self.device):
            return False
        assert s.last is not None
        self._check_finite(s.last, weights=True)
        self.report.stopped(s.tally)
        self._fold(s.tally)
        self.save()
        return True

    def _finish(self, status: str) -> RunResult:
        return finish(
            self.state,
            self.data,
            self.report.logger,
            self.run_dir,
            status,
            final_test=self.final_test,
            compiled=self.compiled,
            group=self.group,
        )

    def _fold(self, tally: Tally) -> None:
        """Add this stretch's sums and time into the saved progress (the whole batches', summed
        over the ranks)."""
        self._sync()
        p = self.progress
        p.train_seconds += time.perf_counter() - tally.t0
        loss_sum, correct, seen = self.group.total(
            tally.loss_sum, tally.correct, tally.seen, device=self.device
        )
        p.loss_sum += float(loss_sum)
        p.correct += int(correct)
        p.seen += int(seen)

    def _pass_record(self) -> dict[str, Any]:
        """The finished pass's figures, with the test set's when it is evaluated this pass."""
        cfg, p = self.config, self.progress
        epoch = p.epoch + 1
        record: dict[str, Any] = {
            "epoch": epoch,
            "step": p.step,
            "lr": self.optimizer.lr,
            "train_loss": p.loss_sum / p.seen,
            "train_error": 1.0 - p.correct / p.seen,
            "train_seconds": p.train_seconds,
        }
        epoch_seconds = p.train_seconds - (p.history[-1]["train_seconds"] if p.history else 0.0)
        record["images_per_s"] = p.seen / epoch_seconds if epoch_seconds > 0 else None
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            ev = evaluate(self.engine, self.data.test, group=self.group)
            if epoch == cfg.epochs:  # the weights are final: finish() reports this evaluation
                self.final_test = ev
            record.update(test_loss=ev.loss, test_error=ev.error, test_misses=ev.misses)
        return record

    def _end_pass(self) -> None:
        p = self.progress
        self._check_finite(torch.tensor(p.loss_sum / p.seen), weights=True)
        record = self._pass_record()
        p.history.append(record)
        self.report.pass_end(record, p.step)
        p.epoch, p.batch, p.order = record["epoch"], 0, None
        p.loss_sum, p.correct, p.seen = 0.0, 0, 0
        self.save()


@dataclass
class _Chunk:
    """One call's updates: ``k`` batches (inputs, targets, labels concatenated) and their rates."""

    k: int
    x: torch.Tensor
    t: torch.Tensor
    y: torch.Tensor
    lrs: list[float]


def train(config: TrainConfig, **kwargs: Any) -> RunResult:
    """Train (or with ``resume=RUN_DIR`` continue) a run; see ``Trainer``."""
    on_step = kwargs.pop("on_step", None)
    return Trainer(config, **kwargs).run(on_step)

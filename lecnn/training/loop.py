"""The training loop, one piece of code for both implementations."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from lecnn.data import Prepared, derived_seed, load_mnist, make_generator, pass_order
from lecnn.device import select_device, set_deterministic
from lecnn.errors import LecnnError
from lecnn.logs.tensorboard import RunLogger, Silent, timestamped_run_dir
from lecnn.manual.optim import Optimizer
from lecnn.models import get_spec
from lecnn.training.augment import augmentation
from lecnn.training.checkpoint import FILENAME, load_checkpoint
from lecnn.training.compiled import PER_CALL, CompiledUpdate, use_compiled
from lecnn.training.config import TrainConfig, make_optimizer, parse_schedule
from lecnn.training.distributed import SINGLE, Processes, check_split, join, launched
from lecnn.training.engine import Engine, encode_targets, make_engine
from lecnn.training.evaluate import Evaluation, evaluate
from lecnn.training.results import RunResult, finish
from lecnn.training.resume import resumed_config
from lecnn.training.rundir import Unclaimed, claim, remove_if_unused
from lecnn.training.runlog import StepCurve, log_every, log_start
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
        try:
            self._setup(config, data, run_dir, ckpt)
        except BaseException:
            self._lock.release()
            if ckpt is None and fresh and self.main:
                remove_if_unused(run_dir)  # a run that never started leaves no folder behind
            raise
        self.progress_bar = progress_bar
        self._stop = False
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
        set_deterministic(cfg.deterministic)
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
        if self.group.parallel:
            check_split(cfg.batch_size, n, self.group.world, cfg.compile)
            self.engine.distribute(self.group)
        self.compiled = not self.group.parallel and use_compiled(  # compiled: one process
            cfg.compile, self.device, cfg.batch_size, self.batches * cfg.epochs
        )
        self.update = None
        if self.compiled:
            per_call = PER_CALL["cuda" if self.device.type == "cuda" else "cpu"]
            per_call = per_call if cfg.batch_size == 1 else 1
            self.update = CompiledUpdate(self.engine, self.state.optimizer, per_call)
        if ckpt is not None:
            self.state.restore(ckpt, self.checkpoint_path)

    @property
    def progress(self) -> Progress:
        return self.state.progress

    @property
    def optimizer(self) -> Optimizer:
        return self.state.optimizer

    def close(self) -> None:
        """Release the run folder (``run`` does this when it returns)."""
        self._lock.release()

    def save(self) -> Path:
        if self.main:  # every rank holds the same state; rank 0 writes it
            self.state.save(self.checkpoint_path)
        return self.checkpoint_path

    def request_stop(self, *_: Any) -> None:
        """Finish the current update, save a checkpoint and return (what Ctrl-C does)."""
        self._stop = True

    def _per_call(self, batch: int) -> int:
        """Updates the next call takes: the compiled update's chunk where a whole one fits before
        the pass ends (a shorter last batch or remainder goes eagerly), else 1."""
        if self.update is None:
            return 1
        k = self.update.per_call
        full = len(self.data.train) // self.config.batch_size  # batches of full size
        return k if batch + k <= full else 1

    def _check_finite(self, loss: torch.Tensor, weights: bool = False) -> None:
        self.state.check_finite(loss, self.checkpoint_path, weights)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, on_step: Callable[[int, torch.Tensor], bool | None] | None = None) -> RunResult:
        """Train to the configured number of passes. ``on_step(step, loss)`` runs after each
        update (``loss``: that update's loss, a tensor) and may return True to stop as Ctrl-C
        would."""
        cfg, p, engine, opt = self.config, self.progress, self.engine, self.optimizer
        train = self.data.train
        self.logger = logger = (
            RunLogger(self.run_dir, names=self.spec.display_name) if self.main else Silent()
        )
        if p.step == 0 and self.main:
            log_start(logger, cfg, self.device, engine, train.x[:1])
        curve = StepCurve(logger, self.log_every)
        previous = None
        if sys.platform != "win32" and _in_main_thread():
            previous = signal.signal(signal.SIGINT, self.request_stop)
        bar = tqdm(
            total=cfg.epochs * self.batches,
            initial=p.epoch * self.batches + p.batch,
            disable=(not self.main)
            or ((not self.progress_bar) if self.progress_bar is not None else None),
            unit="batch",
            dynamic_ncols=True,
            desc=f"{cfg.model}/{cfg.impl}",
        )
        status = "finished"
        try:
            while p.epoch < cfg.epochs:
                if p.order is None:
                    p.order = pass_order(  # --order fixed: the 1989 protocol's constant order
                        len(train),
                        device=self.device,
                        generator=self.state.generator,
                        shuffle=cfg.order != "fixed",
                    )
                # this pass's examples gathered once, in order; each batch is then a view
                xs, ts, ys = train.x[p.order], self.train_targets[p.order], train.y[p.order]
                opt.start_pass(  # SDLM re-estimates its curvature here
                    partial(engine.curvature, xs[: opt.samples], ts[: opt.samples]),
                    fresh=p.batch == 0,
                )
                bs = cfg.batch_size
                loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
                correct = torch.zeros((), dtype=torch.int64, device=self.device)
                seen = 0
                curve.start()
                self._sync()
                t0 = time.perf_counter()
                since_check = 0
                while p.batch < self.batches:
                    k = self._per_call(p.batch)  # updates in this call: 1, or a compiled chunk
                    start, end = p.batch * bs, (p.batch + k) * bs
                    x, t, y = xs[start:end], ts[start:end], ys[start:end]
                    if cfg.augment and k == 1:
                        x = self.augment(x, self.state.generator)
                    elif cfg.augment:  # batch by batch: the generator's draws as in eager runs
                        x = torch.cat([self.augment(b, self.state.generator) for b in x.split(bs)])
                    x, t, y = self.group.share(x, t, y)  # this rank's share of the batch
                    lrs = [self.schedule(p.epoch, p.step + i) for i in range(k)]
                    if self.update is None or k != self.update.per_call or len(y) < k * bs:
                        opt.lr = lrs[0]
                        loss, out = engine.train_step(x, t)
                        opt.step(engine.params(), engine.grads())
                        losses = (loss,)  # no tensor op on the per-example hot path
                        loss_sum += self.spec.loss_total(loss, len(y))
                    else:
                        losses, outs = self.update(
                            x.view(k, bs, *x.shape[1:]), t.view(k, bs, *t.shape[1:]), lrs
                        )
                        out, loss = outs.flatten(0, 1), losses[-1]
                        loss_sum += self.spec.loss_total(losses, bs).sum(dtype=loss_sum.dtype)
                    correct += (engine.predict(out) == y).sum()
                    seen += len(y)
                    p.batch += k
                    p.step += k
                    since_check += k
                    stop = None
                    for i in range(k):
                        step = p.step - k + 1 + i
                        if on_step is not None:
                            stop = on_step(step, losses[i]) or stop
                        if step == 1 or step % self.log_every == 0:
                            logger.scalars({"optimizer/lr": lrs[i]}, step)
                    curve.record(p.step, loss_sum, correct, seen, since=p.step - k)
                    if since_check >= CHECK_EVERY or p.batch == self.batches:
                        self._check_finite(loss)
                        curve.flush()
                        bar.update(since_check)
                        bar.set_postfix(
                            loss=f"{(p.loss_sum + float(loss_sum)) / (p.seen + seen):.4f}",
                            acc=f"{(p.correct + int(correct)) / (p.seen + seen):.2%}",
                            img_s=f"{seen / max(time.perf_counter() - t0, 1e-9):,.0f}",
                            refresh=False,
                        )
                        since_check = 0
                    stop = self.group.agree(
                        stop or self._stop, at_check=since_check == 0, device=self.device
                    )
                    if stop:
                        self._check_finite(loss, weights=True)
                        curve.flush()
                        bar.update(since_check)
                        self._fold(loss_sum, correct, seen, t0)
                        self.save()
                        status = "interrupted"
                        return self._finish(status)
                self._fold(loss_sum, correct, seen, t0)
                self._end_epoch(logger, bar)
            return self._finish(status)
        except Diverged:
            logger.end_session("diverged")
            raise
        finally:
            bar.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            logger.close()
            self.close()

    def _finish(self, status: str) -> RunResult:
        return finish(
            self.state,
            self.data,
            self.logger,
            self.run_dir,
            status,
            final_test=self.final_test,
            compiled=self.compiled,
            group=self.group,
        )

    def _fold(self, loss_sum: torch.Tensor, correct: torch.Tensor, seen: int, t0: float) -> None:
        """Add this stretch's sums and time into the saved progress."""
        self._sync()
        p = self.progress
        p.train_seconds += time.perf_counter() - t0
        # the whole batches', over the ranks
        loss_sum, correct, seen = self.group.total(loss_sum, correct, seen, device=self.device)
        p.loss_sum += float(loss_sum)
        p.correct += int(correct)
        p.seen += int(seen)

    def _end_epoch(self, logger: RunLogger, bar: tqdm) -> None:
        cfg, p = self.config, self.progress
        self._check_finite(torch.tensor(p.loss_sum / p.seen), weights=True)
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
            bar.write(
                f"pass {epoch}/{cfg.epochs}: train loss {record['train_loss']:.4f} "
                f"error {record['train_error']:.2%} | test loss {ev.loss:.4f} "
                f"error {ev.error:.2%} ({ev.misses} misses) | {record['images_per_s'] or 0:,.0f} images/s"
            )
        p.history.append(record)
        logger.metrics("train", "pass", record["train_loss"], record["train_error"], p.step)
        if "test_loss" in record:
            logger.metrics("test", "pass", record["test_loss"], record["test_error"], p.step)
        logger.scalars(
            {
                "speed/images_per_s": record["images_per_s"],
                "time/train_seconds": record["train_seconds"],
            },
            p.step,
        )
        logger.histograms(self.engine.params(), self.engine.grads(), p.step)
        name, first = next(iter(self.engine.params().items()))
        if first.dim() == 4:
            logger.filters(name, first, p.step)
        logger.flush()
        p.epoch, p.batch, p.order = epoch, 0, None
        p.loss_sum, p.correct, p.seen = 0.0, 0, 0
        self.save()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def train(config: TrainConfig, **kwargs: Any) -> RunResult:
    """Train (or with ``resume=RUN_DIR`` continue) a run; see ``Trainer``."""
    on_step = kwargs.pop("on_step", None)
    return Trainer(config, **kwargs).run(on_step)

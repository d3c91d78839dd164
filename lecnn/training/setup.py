"""Setting a run up, apart from running it: claim its folder (rank 0), merge a resume's checkpoint
into the settings, and build what the run trains — data, engine, optimizer, generators, schedule
and the way it updates (``make_updater``: eager, or compiled where it pays). ``set_up`` returns
all of it as a ``RunSetup``, which ``lecnn.training.loop.Trainer`` trains."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from lecnn.data import Prepared, derived_seed, load_mnist, make_generator
from lecnn.device import select_device, set_deterministic
from lecnn.errors import LecnnError
from lecnn.logs.tensorboard import timestamped_run_dir
from lecnn.manual.optim import Optimizer
from lecnn.models import ModelSpec, get_spec
from lecnn.training.augment import augmentation
from lecnn.training.checkpoint import FILENAME, load_checkpoint
from lecnn.training.compiled import CompiledUpdater, use_compiled
from lecnn.training.config import ResolvedConfig, TrainConfig, make_optimizer
from lecnn.training.distributed import ONE_PROCESS, Ranks, check_split, join, launched
from lecnn.training.engine import Engine, encode_targets, make_engine, use_channels_last
from lecnn.training.pool import DistortionPool, pool_for
from lecnn.training.resume import resumed_config
from lecnn.training.rundir import RunLock, Unclaimed, claim, remove_if_unused
from lecnn.training.runlog import log_every
from lecnn.training.schedules import Schedule, parse_schedule
from lecnn.training.state import RunState
from lecnn.training.updaters import EagerUpdate, Updater


def default_run_dir(config: TrainConfig) -> Path:
    # options (lenet5:init=printed,subsampling=sum) as lenet5_init-printed_subsampling-sum
    model = config.model.replace(":", "_").replace(",", "_").replace("=", "-")
    return timestamped_run_dir(f"{model}-{config.impl}")


def load_data(config: TrainConfig, device: torch.device, dtype: torch.dtype) -> Prepared:
    """The run's data set, in the form its model reads, on ``device``."""
    digits = load_mnist(config.data_dir, dataset=config.dataset)
    return config.prepare(digits, device, dtype)


@dataclass
class RunSetup:
    """What a run trains, built once: its settings, data, network (``engine``), optimizer,
    generators and progress (``state``), how it updates (``updater``), its ranks and folder."""

    config: ResolvedConfig
    spec: ModelSpec
    device: torch.device
    data: Prepared
    train_targets: torch.Tensor  # the training labels as the loss reads them
    engine: Engine
    state: RunState
    updater: Updater
    ranks: Ranks
    run_dir: Path
    batches: int  # per pass
    log_every: int
    schedule: Schedule
    augment: Callable[..., torch.Tensor]  # draws a batch's distortions (--augment)
    pool: (
        DistortionPool | None
    )  # the 1998 paper's fixed pool of distorted copies, when the run has one
    lock: RunLock | Unclaimed
    restore_flags: Callable[[], None]  # torch's process-wide settings as they were

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / FILENAME

    @property
    def optimizer(self) -> Optimizer:
        return self.state.optimizer

    def save(self) -> Path:
        """Write the checkpoint atomically (rank 0 only); its path."""
        if self.ranks.main:  # every rank holds the same state; rank 0 writes it
            self.state.save(self.checkpoint_path)
        return self.checkpoint_path

    def check_finite(
        self, loss: torch.Tensor, weights: bool = False, mean_loss: float | None = None
    ) -> None:
        """Raise Diverged when the run's loss (or a weight) went non-finite or grew too far."""
        self.state.check_finite(loss, self.checkpoint_path, weights, mean_loss=mean_loss)

    def sync(self) -> None:
        """Wait for the device's queued work (timings and sums read after it are whole)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def close(self) -> None:
        """Release the run folder and put torch's process-wide settings back."""
        self.lock.release()
        self.restore_flags()


def set_up(
    config: TrainConfig,
    *,
    data: Prepared | None = None,
    resume: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    distributed: bool = True,
    given: set[str] | None = None,
) -> RunSetup:
    """Claim the run folder and build the run (``resume``: continue the checkpoint there, the
    ``given`` settings of ``config`` overriding what may change). Under torchrun the run is one
    data-parallel run over all the ranks, unless ``distributed`` is False (``lecnn reproduce``
    trains independent single-process runs). A run that fails to start leaves no new folder."""
    ranks = join(select_device(config.device)) if distributed and launched() else ONE_PROCESS
    config, run_dir, lock, ckpt, fresh = _claim_folder(config, ranks, resume, overwrite, given)
    try:
        return _build(config, data, run_dir, ckpt, ranks, lock)
    except BaseException:
        lock.release()
        if fresh and ranks.main:
            remove_if_unused(run_dir)  # a run that never started leaves no folder behind
        raise


def _claim_folder(
    config: TrainConfig,
    ranks: Ranks,
    resume: str | os.PathLike[str] | None,
    overwrite: bool,
    given: set[str] | None,
) -> tuple[TrainConfig, Path, RunLock | Unclaimed, dict[str, Any] | None, bool]:
    """(the settings, the run folder, its lock, the checkpoint resumed, whether the folder is
    new): the folder is rank 0's, locked by it alone."""
    if resume is not None:
        run_dir = Path(resume) if Path(resume).is_dir() else Path(resume).parent
        lock = claim(run_dir, resume=True, overwrite=False) if ranks.main else Unclaimed()
        try:
            ckpt = load_checkpoint(resume)
            saved = TrainConfig.from_dict(ckpt["config"])
            return resumed_config(saved, config, ckpt, given), run_dir, lock, ckpt, False
        except BaseException:
            lock.release()
            raise
    config.resolved()  # check the settings before touching the disk
    fresh = not config.logdir or not Path(config.logdir).exists()
    run_dir = Path(config.logdir) if config.logdir else default_run_dir(config)
    run_dir = Path(ranks.broadcast(str(run_dir)))  # rank 0's (a timestamped name differs per rank)
    lock = claim(run_dir, resume=False, overwrite=overwrite) if ranks.main else Unclaimed()
    return config, run_dir, lock, None, fresh


def _build(
    config: TrainConfig,
    data: Prepared | None,
    run_dir: Path,
    ckpt: dict[str, Any] | None,
    ranks: Ranks,
    lock: RunLock | Unclaimed,
) -> RunSetup:
    # saved paths are absolute, so a run resumes from any working directory
    data_dir = config.data_dir and str(Path(config.data_dir).expanduser().resolve())
    cfg = replace(config, logdir=str(run_dir.resolve()), data_dir=data_dir).resolved()
    device = select_device(cfg.device)
    if ranks.parallel and device.type == "cuda":  # one GPU per rank
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    dtype = getattr(torch, cfg.dtype)
    restore_flags = set_deterministic(cfg.deterministic)  # until the run ends
    try:
        data = (data if data is not None else load_data(cfg, device, dtype)).limited(cfg.limit)
        engine, state = _network(cfg, device, dtype, len(data.train))
        batches = math.ceil(len(data.train) / cfg.batch_size)
        setup = RunSetup(
            cfg, engine.spec, device, data,
            encode_targets(data.train.y, engine.spec.target, dtype), engine, state,
            make_updater(cfg, engine, state.optimizer, device, len(data.train), ranks),
            ranks, run_dir, batches, log_every(cfg, batches),
            parse_schedule(cfg.schedule, cfg.lr, batches, cfg.epochs),
            augmentation(cfg.augment_kind),
            pool_for(cfg, len(data.train), data.train.x.shape[-1], device), lock, restore_flags,
        )  # fmt: skip
        if ranks.parallel:
            check_split(cfg.batch_size, len(data.train), ranks.world, cfg.compile)
            engine.distribute(ranks)
        if ckpt is not None:
            state.restore(ckpt, setup.checkpoint_path)
        return setup
    except BaseException:
        restore_flags()
        raise


def _network(
    cfg: ResolvedConfig, device: torch.device, dtype: torch.dtype, n: int
) -> tuple[Engine, RunState]:
    """The run's network and its state (optimizer, generators, progress), initialised from its
    seed; ``n`` training digits."""
    if cfg.batch_size > n:
        raise LecnnError(f"--batch-size {cfg.batch_size} is larger than the {n} training digits")
    dropout = make_generator(device, derived_seed(cfg.seed, "dropout"))
    engine = make_engine(
        get_spec(cfg.model), cfg.impl, seed=cfg.seed, device=device, dtype=dtype, dropout=dropout,
        channels_last=use_channels_last(cfg.memory_format, device, dtype, cfg.batch_size, cfg.impl),
    )  # fmt: skip
    optimizer, generator = make_optimizer(cfg), make_generator(device, cfg.seed)
    return engine, RunState(cfg, engine, optimizer, generator, device, dropout=dropout)


def make_updater(
    cfg: ResolvedConfig,
    engine: Engine,
    optimizer: Optimizer,
    device: torch.device,
    n: int,
    ranks: Ranks,
) -> Updater:
    """The run's way of updating, chosen once: compiled where ``--compile`` asks for it or it
    pays (``use_compiled``; one process only), eager otherwise."""
    updates = math.ceil(n / cfg.batch_size) * cfg.epochs
    if not ranks.parallel and use_compiled(cfg.compile, device, cfg.batch_size, updates):
        return CompiledUpdater(engine, optimizer, cfg.batch_size, n, device)
    return EagerUpdate(engine, optimizer)

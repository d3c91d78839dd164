"""What a run logs to TensorBoard before its first pass ends: the config, the HParams session and
the model graph (the curves themselves are written by the loop as it goes)."""

from __future__ import annotations

import warnings

import torch

from lecnn.logs.tensorboard import Logger
from lecnn.training.config import ResolvedConfig, TrainConfig
from lecnn.training.engine import Engine

LOG_POINTS = 300  # step-level points per run when --log-every is not given
# HParams columns: these first, and the first five visible by default (TensorBoard shows five)
HPARAMS_SHOWN = ("model", "impl", "optimizer", "lr", "batch_size")
HPARAMS_FIRST = (*HPARAMS_SHOWN, "epochs", "seed", "augment", "device")
METRICS = {  # display name → (sub-run, tag) of the curve it reads
    "test error %": ("test", "error_pct/pass"),
    "test accuracy %": ("test", "accuracy_pct/pass"),
    "train error %": ("train", "error_pct/pass"),
    "training seconds": ("", "time/train_seconds"),
}


def log_every(config: ResolvedConfig, batches: int) -> int:
    """Updates between step-level points: ``--log-every``, else about LOG_POINTS per run."""
    return config.log_every or max(1, batches * config.epochs // LOG_POINTS)


#: health samples per run by default: few enough that probing costs under 5% of a batched run
HEALTH_POINTS = 40
#: and for per-example runs at least this many updates apart: a sample (64 digits forward and
#: back, about 40 ms) costs hundreds of one-digit updates (runs/bench/bench_health-cpu.txt)
PER_EXAMPLE_GAP = 1000


def health_every(config: ResolvedConfig, batches: int) -> int:
    """Updates between health samples: ``--health-every`` (0: none), else about HEALTH_POINTS
    per run, never more often than the step-level points, nor than every PER_EXAMPLE_GAP
    updates of one example."""
    if config.health_every is not None:
        return config.health_every
    every = max(log_every(config, batches), batches * config.epochs // HEALTH_POINTS, 1)
    return max(every, PER_EXAMPLE_GAP) if config.batch_size == 1 else every


def log_start(
    logger: Logger,
    config: TrainConfig,
    device: torch.device,
    engine: Engine,
    example: torch.Tensor,
) -> None:
    logger.config(config.to_dict())
    hparams = {k: v for k, v in config.to_dict().items() if k not in ("data_dir", "logdir")}
    hparams["device"] = str(device)
    logger.hparams({k: hparams.pop(k) for k in HPARAMS_FIRST} | hparams, HPARAMS_SHOWN, METRICS)
    if isinstance(engine.net, torch.nn.Module):
        # traced in eval mode with the RNG state put back: logging draws no random numbers
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.trace's deprecation notices
            engine.train(False)
            logger.graph(engine.net, example)
            engine.train(True)


class StepCurve:
    """The step-level training curve without extra host syncs: every ``every``-th update it keeps
    a device-side copy of the stretch's running sums, and ``flush`` (called where the loop syncs
    anyway, after its finite-loss check) writes each window's mean loss and error."""

    def __init__(self, logger: Logger, every: int) -> None:
        self.logger, self.every = logger, every
        self.pending: list[tuple[int, torch.Tensor, torch.Tensor, int]] = []
        self.last = (0.0, 0, 0)  # loss_sum, correct, seen at the last point written

    def start(self) -> None:
        """A new stretch of updates (a pass, or the rest of one after a resume): sums from 0."""
        self.pending.clear()
        self.last = (0.0, 0, 0)

    def record(
        self,
        step: int,
        loss_sum: torch.Tensor,
        correct: torch.Tensor,
        seen: int,
        since: int | None = None,
    ) -> None:
        """Sums after update ``step``; a point when a multiple of ``every`` lies in (since, step]
        (a compiled call takes several updates at once: its point is at the call's end)."""
        since = step - 1 if since is None else since
        if step // self.every > since // self.every:
            self.pending.append((step, loss_sum.clone(), correct.clone(), seen))

    def flush(self) -> None:
        for step, loss_sum, correct, seen in self.pending:
            now = (float(loss_sum), int(correct), seen)
            n = now[2] - self.last[2]
            if n > 0:
                mean_loss = (now[0] - self.last[0]) / n
                error = 1.0 - (now[1] - self.last[1]) / n
                self.logger.metrics("train", "step", mean_loss, error, step)
            self.last = now
        self.pending.clear()

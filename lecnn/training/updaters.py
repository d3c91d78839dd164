"""One update of a run's weights, each way of running a piece of its own, chosen once when the run
is set up (``lecnn.training.setup.make_updater``): ``EagerUpdate`` here, the lecture's update as it
is written; ``CompiledUpdater`` (``lecnn.training.compiled``: torch.compile on the CPU, a CUDA graph
on CUDA, ``k`` updates a call); and a group of runs (``lecnn.training.grouped.GroupUpdate``). The
training loop calls ``updater(chunk)`` and gets what it accounts for, a ``Took``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from lecnn.manual.optim import Optimizer
from lecnn.training.engine import Engine


@dataclass
class Chunk:
    """One call's updates: ``k`` batches (inputs, targets, labels concatenated) and their rates
    (``k`` is 1 but for a compiled run's chunk)."""

    k: int
    x: torch.Tensor
    t: torch.Tensor
    y: torch.Tensor
    lrs: list[float]


class Took(NamedTuple):
    """What a call's updates gave: each update's loss, the outputs of all its batches, and their
    loss summed over the examples (a tensor: summing stays on the device)."""

    losses: Sequence[torch.Tensor]
    out: torch.Tensor
    loss_total: torch.Tensor


class Updater(ABC):
    """Takes a chunk's updates: ``updater(chunk)``; ``per_call(batch)``: how many updates its
    next call takes when the pass is at ``batch`` (1 unless it updates in chunks)."""

    compiled = False  # what run summaries report as "compiled"

    def per_call(self, batch: int) -> int:
        return 1

    @abstractmethod
    def __call__(self, chunk: Chunk) -> Took: ...


class EagerUpdate(Updater):
    """Forward, backward, then the optimizer's step, one batch at a time: the lecture's update
    ``w ← w − η ∂E/∂w`` (for SGD; lecnn.manual.optim holds the others)."""

    def __init__(self, engine: Engine, optimizer: Optimizer) -> None:
        self.engine, self.optimizer = engine, optimizer

    def __call__(self, chunk: Chunk) -> Took:
        engine, opt = self.engine, self.optimizer
        opt.lr = chunk.lrs[0]
        loss, out = engine.train_step(chunk.x, chunk.t)  # a_j forward, Δ_j backward, ∂E/∂w
        opt.step(engine.params(), engine.grads())  # the weights change here
        # no tensor op on the per-example hot path but the loss's scaling
        return Took((loss,), out, engine.spec.loss_total(loss, len(chunk.y)))

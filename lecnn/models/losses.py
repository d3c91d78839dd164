"""Every loss a model spec can name, once: its hand-written form and its autograd twin side by
side. Whether a loss sums over the examples (LeNet-1 and LeNet-4's) or averages them is a fact of the
manual loss (``Loss.sums_examples``); everything else asks it through ``sums_examples``."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TypeVar

import torch

from lecnn import manual as M
from lecnn import nn as lnn

#: a loss value: a tensor, or a number
Total = TypeVar("Total", torch.Tensor, float)

#: spec loss name → (the manual loss, its autograd twin)
LOSSES: dict[str, tuple[Callable[[], M.Loss], Callable[[], torch.nn.Module]]] = {
    "mse": (lambda: M.MSELoss("mean"), lambda: torch.nn.MSELoss(reduction="mean")),
    "mse-sum": (lambda: M.MSELoss("sum"), lambda: torch.nn.MSELoss(reduction="sum")),
    "mse-half": (lambda: M.MSELoss("half"), lnn.HalfSquaredError),
    "cross-entropy": (M.SoftmaxCrossEntropy, torch.nn.CrossEntropyLoss),
    "rbf": (M.RBFLoss, lnn.RBFLoss),
}


def make_loss(name: str, impl: str) -> M.Loss | torch.nn.Module:
    """The loss ``name``, manual (``forward``/``backward``/``curvature``) or autograd (a module)."""
    manual, autograd = LOSSES[name]
    return manual() if impl == "manual" else autograd()


@cache
def sums_examples(name: str) -> bool:
    """Whether the loss ``name`` adds its examples up instead of averaging them."""
    return LOSSES[name][0]().sums_examples


def loss_total(name: str, loss: Total, n: int) -> Total:
    """The loss ``name`` summed over the ``n`` examples it was computed on (a tensor or a
    number): ``loss`` itself for a summed loss, ``n`` times it for an averaged one."""
    return loss if sums_examples(name) else loss * n

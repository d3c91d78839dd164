"""Run a manual layer's hand-written backward inside autograd, so ``torch.autograd.gradcheck``
can verify it and manual layers can sit in autograd graphs. It lives with the checks, outside
``lecnn.manual``: the hand-written layers call no part of autograd, this carrier does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from lecnn.manual import Layer, Loss


def as_function(layer: Layer) -> Callable[..., torch.Tensor]:
    """Wrap ``layer`` as ``f(x, *params) -> y`` backed by a ``torch.autograd.Function``.

    ``params`` are the layer's parameters in the order of ``f.keys`` (default: the layer's own
    tensors). The backward pass is the layer's ``backward``; autograd is only the carrier. The
    forward is re-run in backward from the saved inputs, because gradcheck calls the function
    many times before it asks for gradients.
    """
    keys = list(layer.params)

    def load(params: Sequence[torch.Tensor]) -> None:
        for k, p in zip(keys, params):
            layer.params[k] = p

    class ManualFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x, *params)
            load(params)
            return layer.forward(x).clone()

        @staticmethod
        def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
            x, *params = ctx.saved_tensors
            with torch.no_grad():
                load(params)
                layer.needs_input_grad = True
                layer.forward(x)
                dx = layer.backward(dy.contiguous())
            return (dx, *(layer.grads[k] for k in keys))

    def apply(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        if not params:
            params = tuple(layer.params[k] for k in keys)
        out: torch.Tensor = ManualFunction.apply(x, *params)
        return out

    apply.keys = keys  # type: ignore[attr-defined]
    return apply


def as_loss_function(loss: Loss) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Wrap a manual loss as ``f(pred, target) -> scalar`` whose backward is ``loss.backward()``."""

    class ManualLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(pred, target)
            return loss.forward(pred, target).clone()

        @staticmethod
        def backward(ctx: Any, dloss: torch.Tensor) -> tuple[torch.Tensor, None]:
            pred, target = ctx.saved_tensors
            with torch.no_grad():
                loss.forward(pred, target)
                dpred = loss.backward() * dloss
            return dpred, None

    apply: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = ManualLoss.apply
    return apply

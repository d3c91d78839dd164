"""A manual network called with a given set of parameters: the hand-written counterpart of
``torch.func.functional_call``. The network lends its layers for the call and gets them back as
they were: its own parameters, gradients and curvature, and none of the call's forward caches.
That makes a training step a function of (parameters, batch), which is what mapping one step
over many runs' stacked parameters (``torch.func.vmap``) needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from lecnn.manual.base import Layer, Loss, Sequential


def _leaves(net: Sequential, prefix: str = "") -> Iterator[tuple[str, Layer]]:
    """(name prefix, layer) for every layer that is not a Sequential, as ``named()`` names them."""
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Sequential):
            yield from _leaves(layer, f"{prefix}{i}.")
        else:
            yield f"{prefix}{i}.", layer


def _snapshot(layer: Layer) -> dict[str, Any]:
    """Everything on the layer, its dicts copied (the passes replace their entries)."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in vars(layer).items()}


@contextmanager
def using(net: Sequential, params: dict[str, torch.Tensor]) -> Iterator[Sequential]:
    """``net`` with ``params`` (keyed like ``net.named_params()``, all of them) in place of its
    own for the block. Afterwards every layer holds exactly what it held before: what the
    block's passes kept (``saved`` caches, ``grads``, ``hess``) is gone with the block."""
    expected = set(net.named_params())
    if set(params) != expected:
        missing, extra = sorted(expected - set(params)), sorted(set(params) - expected)
        raise KeyError(f"parameters do not fit the network: missing {missing}, unexpected {extra}")
    leaves = list(_leaves(net))
    before = [_snapshot(layer) for _, layer in leaves]
    flag = net.needs_input_grad
    try:
        for prefix, layer in leaves:
            for k in layer.params:
                layer.params[k] = params[prefix + k]
        yield net
    finally:
        for (_, layer), state in zip(leaves, before):
            vars(layer).clear()
            vars(layer).update(state)
        net.needs_input_grad = flag


def functional_call(
    net: Sequential, params: dict[str, torch.Tensor], x: torch.Tensor
) -> torch.Tensor:
    """``net``'s forward pass on ``x`` with ``params``."""
    with using(net, params):
        return net.forward(x)


def functional_grads(
    net: Sequential,
    loss: Loss,
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    target: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One forward and backward pass with ``params``: (loss, outputs, ∂loss/∂params keyed like
    ``params``). ``net`` is left as it was; the input gradient is not computed."""
    with using(net, params):
        net.needs_input_grad = False
        out = net.forward(x)
        value = loss.forward(out, target)
        net.backward(loss.backward())
        return value, out, net.named_grads()

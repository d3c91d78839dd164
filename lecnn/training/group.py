"""Many runs as one program, the first piece: S runs of one model, their parameters (and so their
optimizer state) stacked along a leading run axis, one forward and backward pass for all of them
through ``torch.func.vmap`` over the engine's own functional step (``Engine.grads_at``:
``lecnn.manual.functional_grads``, or ``torch.func.functional_call`` for the autograd twins), and
one optimizer update applied to the stacked tensors — the optimizers' formulas are elementwise, so
the same code updates S runs at once. Nothing of the layers' or optimizers' math is copied.

Each run brings its own batch (its own data order), so a run in a group takes the steps it takes
alone (tests/test_group.py). Dropout masks come in with the batch, each run's drawn from its own
generator beforehand (``masks``), as the run alone would draw them. The training loop's use of it:
``lecnn.training.grouped``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lecnn.manual.dropout import draw_mask, supplied
from lecnn.training.engine import Engine

Tensors = dict[str, torch.Tensor]


def stack(runs: Sequence[Tensors]) -> Tensors:
    """The runs' tensors stacked along a new leading run axis, key by key."""
    return {k: torch.stack([r[k] for r in runs]) for k in runs[0]}


def unstack(group: Tensors, i: int) -> Tensors:
    """Run ``i``'s tensors out of a stacked dict."""
    return {k: v[i] for k, v in group.items()}


class GroupStep:
    """``step(params, xs, ts)``: for S runs' stacked ``params`` and their batches ``xs`` (S×B×…)
    and targets ``ts`` (S×B…), each run's loss (S), outputs (S×B×K) and gradients (stacked like
    ``params``), in one program: the engine's own gradient step (``Engine.grads_at``) mapped
    over the runs by ``torch.func.vmap``. ``engine`` lends its network as the template; its own
    weights are never read, each call brings the runs'."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dropout = bool(engine.random_layers())
        self._step = torch.func.vmap(self._one)
        self._shapes: dict[tuple[int, ...], list[tuple[tuple[int, ...], float]]] = {}

    def _one(self, params: Tensors, x: torch.Tensor, t: torch.Tensor, masks: list):
        with supplied(list(masks)):
            return self.engine.grads_at(params, x, t)

    def masks(self, x: torch.Tensor, generators: Sequence[torch.Generator | None]) -> list:
        """The dropout masks for one batch shaped like ``x`` (one run's), each run's drawn from its
        own generator in the order its network alone draws them, stacked along the run axis."""
        if not self.dropout:
            return []
        key = tuple(x.shape)
        if key not in self._shapes:  # what the layers draw for such a batch: a probe, once
            with supplied(None) as probe, torch.no_grad():
                self.engine.net(x)
            self._shapes[key] = probe.shapes
        drawn = [
            [draw_mask(shape, p, g, x.device, x.dtype) for shape, p in self._shapes[key]]
            for g in generators
        ]
        return [torch.stack(per_run) for per_run in zip(*drawn, strict=True)]

    def __call__(
        self, params: Tensors, xs: torch.Tensor, ts: torch.Tensor, masks: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, Tensors]:
        """``masks``: from ``masks`` (needed when the model has dropout)."""
        return self._step(params, xs, ts, masks or [])

"""Many runs as one program, the first piece: S runs of one model, their parameters (and so their
optimizer state) stacked along a leading run axis, one forward and backward pass for all of them
through ``torch.func.vmap`` over the functional step each implementation already has
(``lecnn.manual.functional_grads``; ``torch.func.functional_call`` for the autograd twins), and
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

from lecnn import manual as M
from lecnn.manual.dropout import draw_mask, supplied
from lecnn.models import ModelSpec, build, build_loss

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
    ``params``), in one program."""

    def __init__(
        self, spec: ModelSpec, impl: str, device: torch.device, dtype: torch.dtype
    ) -> None:
        # a template network: its own weights are never used, each call brings the runs'
        self.net = build(spec, impl, generator=torch.Generator(), device=device, dtype=dtype)
        self.loss = build_loss(spec, impl)
        self.dropout = any(layer.kind == "dropout" for layer in spec.layers)
        one = self._manual if impl == "manual" else self._autograd
        self._step = torch.func.vmap(one)
        self._shapes: dict[tuple[int, ...], list[tuple[tuple[int, ...], float]]] = {}

    def _manual(self, params: Tensors, x: torch.Tensor, t: torch.Tensor, masks: list):
        assert isinstance(self.net, M.Sequential) and isinstance(self.loss, M.Loss)
        with supplied(list(masks)):
            return M.functional_grads(self.net, self.loss, params, x, t)

    def _autograd(self, params: Tensors, x: torch.Tensor, t: torch.Tensor, masks: list):
        assert isinstance(self.net, torch.nn.Module)
        net = self.net

        def loss_of(p: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
            out = torch.func.functional_call(net, p, (x,))
            return self.loss(out, t), out.detach()

        with supplied(list(masks)):
            grads, (value, out) = torch.func.grad_and_value(loss_of, has_aux=True)(params)
        return value.detach(), out, grads

    def masks(self, x: torch.Tensor, generators: Sequence[torch.Generator | None]) -> list:
        """The dropout masks for one batch shaped like ``x`` (one run's), each run's drawn from its
        own generator in the order its network alone draws them, stacked along the run axis."""
        if not self.dropout:
            return []
        key = tuple(x.shape)
        if key not in self._shapes:  # what the layers draw for such a batch: a probe, once
            with supplied(None) as probe, torch.no_grad():
                self.net(x)
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

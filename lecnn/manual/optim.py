"""Optimizers that update ``params`` from ``grads`` (dicts with the same keys).

They work on any dict of tensors, so the same optimizer drives a manual network
(``Sequential.named_params()``/``named_grads()``) and an autograd one (parameters and their
``.grad``); the arithmetic follows ``torch.optim`` exactly, and tests hold them equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

Tensors = dict[str, torch.Tensor]
#: a rate or step count: a Python number in eager training, a 0-d tensor inside a compiled update
#: (so a schedule's new rate is new data, not a new program)
Scalar = float | torch.Tensor


def add_scaled_(ws: list[torch.Tensor], gs: list[torch.Tensor], a: Scalar) -> None:
    """``w ← w + a·g`` for each pair; ``a`` a number (one fused call) or a 0-d tensor."""
    if isinstance(a, torch.Tensor):
        torch._foreach_add_(ws, torch._foreach_mul(gs, a))
    else:
        torch._foreach_add_(ws, gs, alpha=a)


class Optimizer:
    """Updates ``params`` in place from ``grads``. ``step`` counts the update and applies
    ``update(params, grads, lr, t)``, the formula itself, with this update's rate ``lr`` and its
    number ``t`` (from 1); a compiled update (``lecnn.training.compiled``) calls ``update`` with
    both as tensors, so eager and compiled training run the same arithmetic code."""

    #: examples ``start_pass``'s curvature is estimated on (0: the optimizer uses none)
    samples = 0

    def __init__(self, lr: float) -> None:
        self.lr = float(lr)
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        self.steps = 0

    def step(self, params: Tensors, grads: Tensors) -> None:
        """One update of ``params`` in place from ``grads``, at the rate ``lr``."""
        self.steps += 1
        self.update(params, grads, self.lr, self.steps)

    def update(self, params: Tensors, grads: Tensors, lr: Scalar, t: Scalar) -> None:
        """The formula: update number ``t`` (from 1) at rate ``lr``, numbers or 0-d tensors."""
        raise NotImplementedError

    def start_pass(self, curvature: Callable[[], Tensors], fresh: bool, epoch: int = 0) -> None:
        """Called before each pass (``fresh``; ``epoch`` its number, from 0) and when a run
        resumes mid-pass; ``curvature()`` estimates ∂²E/∂w² on the pass's first examples, for
        optimizers that need it."""

    def state_dict(self) -> dict[str, Any]:
        """Rate, step count and per-parameter state (a checkpoint's part)."""
        return {"lr": self.lr, "steps": self.steps, "state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The state ``state_dict`` gave, restored."""
        self.lr, self.steps = float(state["lr"]), int(state["steps"])
        self.state = {k: dict(v) for k, v in state["state"].items()}


class SGD(Optimizer):
    """Gradient descent, the lecture's update ``w_ij ← w_ij + α a_i Δ_j``, i.e. ``w ← w − α ∂L/∂w``.

    With ``weight_decay`` λ: ``g = ∂L/∂w + λ w``; with ``momentum`` μ: ``v ← μ v + g`` (v = g on the
    first step) and ``w ← w − α v`` — the same arithmetic as ``torch.optim.SGD``.
    """

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    @torch.no_grad()
    def update(self, params: Tensors, grads: Tensors, lr: Scalar, t: Scalar) -> None:
        if not self.momentum and not self.weight_decay:
            # plain w ← w − α g: one fused call, since per-example SGD is bound by op launches
            keys = list(params)
            add_scaled_([params[k] for k in keys], [grads[k] for k in keys], -lr)
            return
        for k, w in params.items():
            g = grads[k]
            if self.weight_decay:
                g = g + self.weight_decay * w
            if self.momentum:
                buf = self.state.get(k, {}).get("momentum")
                if buf is None:
                    buf = g.clone()
                    self.state[k] = {"momentum": buf}
                else:
                    buf.mul_(self.momentum).add_(g)
                g = buf
            add_scaled_([w], [g], -lr)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with bias correction, as ``torch.optim.Adam``; ``decoupled=True`` gives
    AdamW's weight decay ``w ← w (1 − α λ)`` instead of adding ``λ w`` to the gradient.

    ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g²``,
    ``w ← w − (α / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)``
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        super().__init__(lr)
        self.betas, self.eps = betas, float(eps)
        self.weight_decay, self.decoupled = float(weight_decay), decoupled

    @torch.no_grad()
    def update(self, params: Tensors, grads: Tensors, lr: Scalar, t: Scalar) -> None:
        b1, b2 = self.betas
        c1 = 1 - b1**t
        c2_sqrt = (1 - b2**t).sqrt() if isinstance(t, torch.Tensor) else math.sqrt(1 - b2**t)
        keys = list(params)
        for k in keys:
            if k not in self.state:
                p = params[k]
                self.state[k] = {"m": torch.zeros_like(p), "v": torch.zeros_like(p)}
        # one fused call per formula over all tensors: with small networks the step is bound by
        # kernel launches, and the per-element arithmetic is the same as a loop over tensors
        w = [params[k] for k in keys]
        g = [grads[k] for k in keys]
        m = [self.state[k]["m"] for k in keys]
        v = [self.state[k]["v"] for k in keys]
        if self.weight_decay and self.decoupled:
            torch._foreach_mul_(w, 1 - lr * self.weight_decay)
        elif self.weight_decay:
            g = list(torch._foreach_add(g, w, alpha=self.weight_decay))
        torch._foreach_lerp_(m, g, 1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, g, g, value=1 - b2)
        denom = list(torch._foreach_sqrt(v))
        torch._foreach_div_(denom, c2_sqrt)
        torch._foreach_add_(denom, self.eps)
        if isinstance(lr, torch.Tensor):  # w += m / (denom / s), the step size s as a tensor
            torch._foreach_div_(denom, -lr / c1)
            torch._foreach_addcdiv_(w, m, denom)
        else:
            # c1 is a tensor only in a compiled update, where lr is one too (the branch above)
            torch._foreach_addcdiv_(w, m, denom, value=-lr / c1)  # type: ignore[arg-type]


class SDLM(Optimizer):
    """Stochastic diagonal Levenberg–Marquardt (LeCun et al. 1998, Appendix C): each parameter
    takes its own step ``ε_k = η / (μ + h_kk)``, ``w_k ← w_k − ε_k ∂E/∂w_k``, where ``h_kk`` is a
    Gauss–Newton estimate of ``∂²E/∂w_k²`` (``lecnn.manual.hessian``) re-estimated on a few hundred
    examples before each pass (or every ``every`` passes) and passed in with ``set_hessian``; μ
    keeps steps bounded where the curvature is small. η is the schedule's rate (``lr``). The paper:
    μ = 0.02, 500 ``samples``, every pass; the authors' Lush code run by the QMNIST authors: 1,000
    samples before each set of 10 passes (``every=10``), ε = 1/(h + μ) (barak/lush
    packages/gblearn2/gb-trainers.lsh:261–273, gb-params.lsh:434–437).
    """

    def __init__(self, lr: float, mu: float = 0.02, samples: int = 500, every: int = 1) -> None:
        super().__init__(lr)
        self.mu = float(mu)
        self.samples = int(samples)
        self.every = int(every)

    def set_hessian(self, hessian: Tensors) -> None:
        """Take ``h_kk`` per parameter (``∂²E/∂w²`` estimates) and the steps ``1/(μ + h_kk)``."""
        fresh = {k: {"h": h.clone(), "scale": 1.0 / (self.mu + h)} for k, h in hessian.items()}
        if self.state.keys() == fresh.keys():
            # in place: a compiled or captured update keeps reading the same tensors
            for k, new in fresh.items():
                for name, t in new.items():
                    self.state[k][name].copy_(t)
        else:
            self.state = fresh

    def start_pass(self, curvature: Callable[[], Tensors], fresh: bool, epoch: int = 0) -> None:
        """Re-estimate h_kk at the start of every ``every``-th pass (and when resumed without
        it)."""
        if (fresh and epoch % self.every == 0) or not self.state:
            self.set_hessian(curvature())

    def step(self, params: Tensors, grads: Tensors) -> None:
        if not self.state:
            raise RuntimeError("SDLM needs set_hessian() before its first step")
        super().step(params, grads)

    @torch.no_grad()
    def update(self, params: Tensors, grads: Tensors, lr: Scalar, t: Scalar) -> None:
        keys = list(params)
        w, g = [params[k] for k in keys], [grads[k] for k in keys]
        scale = [self.state[k]["scale"] for k in keys]
        if isinstance(lr, torch.Tensor):
            add_scaled_(w, list(torch._foreach_mul(g, scale)), -lr)
        else:
            torch._foreach_addcmul_(w, g, scale, value=-lr)


# -- schedules: the step size α for a given pass (epoch, from 0) and update (step, from 0) ---------

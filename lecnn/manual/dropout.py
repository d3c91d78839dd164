"""Dropout (a modern addition: used by the 1989 net's "modern" variant)."""

from __future__ import annotations

import torch

from lecnn.manual.base import Layer


class Dropout(Layer):
    """Inverted dropout: in training each unit is kept with probability 1 − p and scaled by
    1/(1 − p); in evaluation it is the identity.

    Forward   ``y = x · mask``, ``mask ∈ {0, 1/(1 − p)}`` drawn per unit (training)
    Backward  ``dx = dy · mask``
    Curvature ``d2x = d2y · mask²``
    Shapes: any → same.

    The masks are drawn from ``generator`` (the run's own, on the data's device; torch's default
    one when None), so a run's masks are its own whatever else the process draws.
    """

    kind = "dropout"
    saved = ("mask",)

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = dropout_probability(p)
        self.training = True
        self.generator = generator

    def train(self, mode: bool = True) -> None:
        self.training = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        self.mask = dropout_mask(x, self.p, self.generator)
        return x * self.mask

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy if self.mask is None else dy * self.mask

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        self.hess = {}
        return d2y if self.mask is None else d2y * self.mask * self.mask


def dropout_mask(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout's mask for ``x``: 1/(1 − p) where a uniform draw is ≥ p, else 0 (one draw
    per unit, from ``generator``). The autograd twin draws the same mask."""
    device = generator.device if generator is not None else x.device
    keep = torch.rand(x.shape, generator=generator, device=device, dtype=x.dtype) >= p
    return keep.to(device=x.device, dtype=x.dtype) / (1.0 - p)


def dropout_probability(p: float) -> float:
    """``p`` as a float, checked: dropout drops with a probability in [0, 1)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), not {p}")
    return float(p)

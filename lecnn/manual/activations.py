"""Activation functions g and their derivatives g' (each written once, in ``slope``)."""

from __future__ import annotations

from abc import abstractmethod

import torch

from lecnn.manual.base import Layer

LECUN_A = 1.7159
LECUN_S = 2.0 / 3.0


class Activation(Layer):
    """A unit's squashing function ``a_j = g(in_j)``, shape kept. A subclass writes ``forward``
    and ``slope`` (g'(in) from what forward saved); the passes back follow from them:

    Backward   ``dx = dy · g'(in)``            (the lecture's Δ_j = g'(in_j) Σ_k w_jk Δ_k, the
               sum arriving as dy)
    Curvature  ``d2x = d2y · g'(in)²``         (LeCun 1998, eq. 24, the g'' term dropped)
    """

    @abstractmethod
    def slope(self) -> torch.Tensor:
        """``g'(in)`` for the last forward's input, from what forward saved."""

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        """``dx = dy · g'(in)``."""
        return dy * self.slope()

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        slope = self.slope()
        return d2y * slope * slope


class Sigmoid(Activation):
    """The lecture's logistic unit: ``g(in) = 1 / (1 + e^{−in})``, ``g'(in) = a (1 − a)``."""

    kind = "sigmoid"
    saved = ("a",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a = torch.sigmoid(x)
        return self.a

    def slope(self) -> torch.Tensor:
        return self.a * (1.0 - self.a)


class Tanh(Activation):
    """Hyperbolic tangent: ``g(in) = tanh(in)``, ``g'(in) = 1 − a²``."""

    kind = "tanh"
    saved = ("a",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a = torch.tanh(x)
        return self.a

    def slope(self) -> torch.Tensor:
        return 1.0 - self.a * self.a


class ScaledTanh(Activation):
    """LeCun's squashing function (1998, Appendix A): ``g(z) = A·tanh(S·z)``, A = 1.7159, S = 2/3,
    chosen so that g(±1) = ±1 and g'' is largest at ±1;
    ``g'(z) = A·S·(1 − tanh²(S z)) = (S/A)(A² − a²)``."""

    kind = "scaled_tanh"
    saved = ("a",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a = LECUN_A * torch.tanh(LECUN_S * x)
        return self.a

    def slope(self) -> torch.Tensor:
        return (LECUN_S / LECUN_A) * (LECUN_A * LECUN_A - self.a * self.a)


class ReLU(Activation):
    """Rectified linear unit: ``g(in) = max(0, in)``, ``g'(in) = [in > 0]`` (0 at exactly 0, as
    PyTorch takes it)."""

    kind = "relu"
    saved = ("active",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(x)
        # [in > 0] as x's dtype, 1 or 0: sign(max(0, in)); a float mask, since arithmetic with a
        # bool one is several times slower on the CPU (a third of a LeNet-5 update's time)
        self.active = torch.sign(a)
        return a

    def slope(self) -> torch.Tensor:
        return self.active


class LeakyReLU(Activation):
    """Leaky rectifier: ``g(in) = in`` for in > 0, else ``negative_slope · in``;
    ``g'(in) = 1`` for in > 0, else ``negative_slope`` (at exactly 0 the negative slope, as
    PyTorch takes it)."""

    kind = "leaky_relu"
    saved = ("g1",)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # g'(in) per unit, in x's dtype: 1 where in > 0, the negative slope elsewhere
        self.g1 = torch.where(x > 0, torch.ones_like(x), torch.full_like(x, self.negative_slope))
        return x * self.g1

    def slope(self) -> torch.Tensor:
        return self.g1

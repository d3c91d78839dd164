"""Activation functions g and their derivatives g'."""

from __future__ import annotations

import torch

from lecnn.manual.base import Layer

LECUN_A = 1.7159
LECUN_S = 2.0 / 3.0


class Sigmoid(Layer):
    """The lecture's logistic unit.

    Forward  ``a_j = g(in_j) = 1 / (1 + e^{−in_j})``             (any shape → same shape)
    Backward ``dx = dy · g'(in_j)`` with ``g'(z) = g(z)(1 − g(z))``, computed from the saved a_j
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a = torch.sigmoid(x)
        return self.a

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        a = self.a
        return dy * a * (1.0 - a)


class Tanh(Layer):
    """Hyperbolic tangent. Forward ``a = tanh(in)``; backward ``dx = dy · (1 − a²)``. Shape kept."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a = torch.tanh(x)
        return self.a

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * (1.0 - self.a * self.a)


class ScaledTanh(Layer):
    """LeCun's squashing function (1998, Appendix A): ``g(z) = A·tanh(S·z)``, A = 1.7159, S = 2/3,
    chosen so that g(±1) = ±1 and g'' is largest at ±1.

    Forward  ``a = A tanh(S in)``
    Backward ``dx = dy · g'(in)`` with ``g'(z) = A·S·(1 − tanh²(S z)) = (S/A)(A² − a²)``. Shape kept.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a = LECUN_A * torch.tanh(LECUN_S * x)
        return self.a

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * ((LECUN_S / LECUN_A) * (LECUN_A * LECUN_A - self.a * self.a))


class ReLU(Layer):
    """Rectified linear unit. Forward ``a = max(0, in)``; backward ``dx = dy · [in > 0]``.

    At exactly ``in = 0`` the derivative is taken as 0, as PyTorch does. Shape kept.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.active = x > 0
        return x * self.active

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * self.active

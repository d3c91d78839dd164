"""LeNet-5's output layer of Euclidean radial basis function units."""

from __future__ import annotations

import torch

from lecnn.manual.base import Counts, Layer


class RBFOutput(Layer):
    """LeNet-5's output layer: one Euclidean radial basis function unit per class,
    with fixed prototypes ``w_i`` (LeCun et al. 1998, eq. 7).

    Forward  ``y_i = Σ_j (x_j − w_ij)²``   (x N×J → y N×I; the smallest y_i is the prediction)
    Backward ``dx_j = Σ_i dy_i · 2 (x_j − w_ij)``
    Curvature ``d2x_j = Σ_i 4 (x_j − w_ij)² d2y_i`` plus the units' own curvature (below)
    The prototypes are a buffer (``weight``, I×J), not trained, as in the paper.
    """

    kind = "rbf"
    saved = ("x",)

    def __init__(self, prototypes: torch.Tensor) -> None:
        super().__init__()
        self.buffers["weight"] = prototypes.clone().float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.x = x
        w = self.buffers["weight"]
        # ‖x − w_i‖² expanded so no N×I×J tensor is made
        return (x * x).sum(1, keepdim=True) - 2.0 * x @ w.T + (w * w).sum(1)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return 2.0 * (dy.sum(1, keepdim=True) * self.x - dy @ self.buffers["weight"])

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        # y_i = Σ_j (x_j − w_ij)²: ∂y_i/∂x_j = 2 (x_j − w_ij), ∂²y_i/∂x_j² = 2. With LeNet-5's
        # criterion the Gauss–Newton term alone vanishes once the penalties are large (its
        # ∂²E/∂y² ≈ 0), so the units' own curvature Σ_i ∂E/∂y_i · 2 is kept (≥ 0 for that loss;
        # clipped at 0 otherwise to keep the estimate positive).
        diff2 = (self.x.unsqueeze(1) - self.buffers["weight"].unsqueeze(0)) ** 2
        d2x = 4 * (d2y.unsqueeze(2) * diff2).sum(1)
        if dy is not None:
            d2x = d2x + 2 * dy.sum(1, keepdim=True).clamp(min=0)
        return d2x

    def counts(self, x: torch.Tensor, y: torch.Tensor) -> Counts:
        return Counts(y.numel(), 0, y.numel() * x.numel())  # fixed prototypes: no free parameters

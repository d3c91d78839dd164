"""Fully connected layer and Flatten."""

from __future__ import annotations

import math

import torch

from lecnn.manual.base import Counts, Layer


class Linear(Layer):
    """Fully connected units: the lecture's weighted input sum.

    Forward  ``in_j = Σ_i w_ij a_i + b_j``                      (x: N×in → y: N×out)
    Backward ``∂L/∂w_ij = Σ_n a_i dy_j``  (the lecture's update term a_i Δ_j, summed over the batch)
             ``∂L/∂b_j  = Σ_n dy_j``
             ``dx_i     = Σ_j w_ij dy_j`` (what the hidden-delta rule Δ_i = g'(in_i) Σ_j w_ij Δ_j
             sums before the activation multiplies in g')

    Curvature ``∂²E/∂w_ij² ≈ Σ_n a_i² d2y_j``, ``∂²E/∂b_j² ≈ Σ_n d2y_j``, ``d2x_i = Σ_j w_ij² d2y_j``

    ``weight`` is out×in and ``bias`` out, as ``torch.nn.Linear``, initialised the same way
    (U(±1/√in)).
    """

    kind = "linear"
    saved = ("a",)

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.params["weight"] = torch.empty(out_features, in_features).uniform_(-bound, bound)
        if bias:
            self.params["bias"] = torch.empty(out_features).uniform_(-bound, bound)
        self.zero_grad()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a = x  # a_i, the activations feeding the layer
        w = self.params["weight"]
        in_ = x @ w.T
        if "bias" in self.params:
            in_ += self.params["bias"]
        return in_

    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        self.grads["weight"] = dy.T @ self.a
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(0)
        return dy @ self.params["weight"] if self.needs_input_grad else None

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        a, w = self.a, self.params["weight"]
        self.hess = {"weight": d2y.T @ (a * a)}
        if "bias" in self.params:
            self.hess["bias"] = d2y.sum(0)
        return d2y @ (w * w)

    def counts(self, x: torch.Tensor, y: torch.Tensor) -> Counts:
        bias = "bias" in self.params
        weights = sum(p.numel() for p in self.params.values())
        return Counts(y.numel(), weights, y.numel() * (x.numel() + bias))


class Flatten(Layer):
    """Flatten all but the batch dimension. x: N×C×H×W → y: N×(C·H·W); backward (and the
    curvature pass) reshape back."""

    kind = "flatten"
    saved = ("shape",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy.reshape(self.shape)

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        self.hess = {}
        return d2y.reshape(self.shape)

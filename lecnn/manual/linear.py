"""Fully connected layer and Flatten."""

from __future__ import annotations

import math

import torch

from lecnn.manual.base import Counts, Layer, WeightedLayer
from lecnn.manual.init import check_scheme, fan_in_weights, uniform


class Linear(WeightedLayer):
    """Fully connected units: the lecture's weighted input sum.

    Forward  ``in_j = Σ_i w_ij a_i + b_j``                      (x: N×in → y: N×out)
    Backward ``∂L/∂w_ij = Σ_n a_i dy_j``  (the lecture's update term a_i Δ_j, summed over the batch)
             ``∂L/∂b_j  = Σ_n dy_j``
             ``dx_i     = Σ_j w_ij dy_j`` (the sum of the hidden-delta rule
             Δ_j = g'(in_j) Σ_k w_jk Δ_k, one layer down: there this layer's inputs i are the j
             and its outputs j the k; the activation below multiplies in g')

    Curvature ``∂²E/∂w_ij² ≈ Σ_n a_i² d2y_j``, ``∂²E/∂b_j² ≈ Σ_n d2y_j``, ``d2x_i = Σ_j w_ij² d2y_j``

    ``weight`` is out×in and ``bias`` out, as ``torch.nn.Linear``, initialised the same way
    (U(±1/√in)) from ``generator`` (torch's default one when None).
    """

    kind = "linear"
    saved = ("a",)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.params["weight"] = torch.empty(out_features, in_features)
        if bias:
            self.params["bias"] = torch.empty(out_features)
        self.reset_parameters("torch", generator)

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        """``torch``: weights and bias U(±1/√in); the papers' schemes: weights U(±2.4/√in) (or
        /in), bias 0 (``lecnn.manual.init``)."""
        check_scheme(scheme)
        w = self.params["weight"]
        if scheme == "torch":
            bound = 1.0 / math.sqrt(w.shape[1])
            for p in self.params.values():
                p.copy_(uniform(p.shape, bound, generator))
        else:
            fan_in_weights(w, torch.full((w.shape[0],), float(w.shape[1])), scheme, generator)
            if "bias" in self.params:
                self.params["bias"].zero_()
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
        return d2y.reshape(self.shape)

"""BACK-PROP-LEARNING, the lecture's algorithm (AIMA Fig. 18.24), as written: one example at a
time, forward, output deltas, hidden deltas layer by layer back to the input, then the update."""

from __future__ import annotations

import torch

from lecnn.manual.activations import Sigmoid
from lecnn.manual.base import Sequential
from lecnn.manual.linear import Linear


def logistic_layers(network: Sequential) -> list[Linear]:
    """The Linear layers of a network made of (Linear, Sigmoid) pairs; raises otherwise."""
    layers = network.layers
    ok = len(layers) % 2 == 0 and all(
        isinstance(lin, Linear) and isinstance(g, Sigmoid)
        for lin, g in zip(layers[::2], layers[1::2])
    )
    if not ok or not layers:
        raise ValueError("back_prop_learning needs a Sequential of (Linear, Sigmoid) pairs")
    return [lin for lin in layers[::2] if isinstance(lin, Linear)]


@torch.no_grad()
def propagate_forward(linear: list[Linear], x: torch.Tensor) -> list[torch.Tensor]:
    """``a_i ← x_i`` for the input layer, then ``in_j ← Σ_i w_ij a_i``, ``a_j ← g(in_j)`` for
    each later layer: every layer's activations, ``a[0]`` the input."""
    a = [x]
    for layer in linear:
        w, b = layer.params["weight"], layer.params["bias"]
        in_j = w @ a[-1] + b
        a.append(torch.sigmoid(in_j))
    return a


def back_prop_learning(
    examples: tuple[torch.Tensor, torch.Tensor],
    network: Sequential,
    alpha: float,
    epochs: int = 1,
) -> Sequential:
    """Train a layered network of logistic units by back-propagation, one example per update.

    ``examples`` is (X, Y): X N×n_in inputs, Y N×n_out targets in [0, 1]; ``network`` a
    Sequential of (Linear, Sigmoid) pairs, whose weights are updated in place (w_ij is
    ``weight[j, i]``; the bias is the weight from a unit fixed at a_0 = 1). For each example:

    - ``a_i ← x_i`` for the input layer;
    - ``in_j ← Σ_i w_ij a_i``, ``a_j ← g(in_j)`` for each later layer (i a unit of the layer below,
      j one of the layer above);
    - ``Δ_k ← Err_k · g'(in_k)``, ``Err_k = y_k − a_k``, for each output unit k;
    - ``Δ_j ← g'(in_j) Σ_k w_jk Δ_k`` for each hidden unit j (k the units of the layer above it),
      from the last hidden layer back;
    - ``w_ij ← w_ij + α a_i Δ_j`` for every weight.

    It is gradient descent on ``½ Σ_k (y_k − a_k)²`` per example, so it equals ``SGD(lr=α/2)`` on
    ``MSELoss("sum")`` with batch size 1 (tested).
    """
    linear = logistic_layers(network)
    X, Y = examples
    for _ in range(epochs):
        for x, y in zip(X, Y):
            a = propagate_forward(linear, x)
            # g'(in) = g(in)(1 − g(in)) = a (1 − a); the output deltas Δ_k first
            delta = [torch.empty(0)] * len(linear)
            a_out = a[-1]
            delta[-1] = a_out * (1 - a_out) * (y - a_out)
            for l in range(len(linear) - 2, -1, -1):
                w_next = linear[l + 1].params["weight"]  # w_jk: this layer's j to the next's k
                a_l = a[l + 1]
                delta[l] = a_l * (1 - a_l) * (w_next.T @ delta[l + 1])
            for l, layer in enumerate(linear):
                layer.params["weight"] += alpha * torch.outer(delta[l], a[l])
                layer.params["bias"] += alpha * delta[l]
    return network

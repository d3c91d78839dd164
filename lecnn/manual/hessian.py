"""The diagonal Gauss–Newton second-derivative pass of LeCun et al. 1998 (Appendix C), used by
stochastic diagonal Levenberg–Marquardt (``SDLM``).

It runs back through the network like the gradient pass, carrying ``d2y ≈ ∂²E/∂y²`` per unit and
dropping every off-diagonal term and every term in g'' (which keeps the estimates positive):

- through an activation:  ``∂²E/∂in² ≈ g'(in)² · ∂²E/∂a²``
- through weights:        ``∂²E/∂w_ij² ≈ a_i² · ∂²E/∂in_j²``, ``∂²E/∂a_i² ≈ Σ_j w_ij² ∂²E/∂in_j²``

``backward_hessian(layer, d2y)`` returns ``d2x`` and fills ``layer.hess`` (same keys as ``params``),
summed over the batch. Call it after a ``forward`` on the same batch.
"""

from __future__ import annotations

import torch

from lecnn.manual.activations import LECUN_A, LECUN_S, ReLU, ScaledTanh, Sigmoid, Tanh
from lecnn.manual.base import Layer, Loss, Sequential
from lecnn.manual.conv import Conv2d
from lecnn.manual.dropout import Dropout
from lecnn.manual.linear import Flatten, Linear
from lecnn.manual.losses import MSELoss, RBFLoss, RBFOutput, SoftmaxCrossEntropy
from lecnn.manual.pooling import AvgPool2d, MaxPool2d, Subsampling


def loss_hessian(loss: Loss) -> torch.Tensor:
    """``∂²E/∂pred²`` (diagonal) of the loss after its ``forward``."""
    if isinstance(loss, MSELoss):
        scale = 2.0 / loss.err.numel() if loss.reduction == "mean" else 2.0
        return torch.full_like(loss.err, scale)
    if isinstance(loss, SoftmaxCrossEntropy):
        return loss.p * (1 - loss.p) / len(loss.target)
    if isinstance(loss, RBFLoss):
        return loss.q * (1 - loss.q) / len(loss.target)
    raise TypeError(f"no second derivative for {type(loss).__name__}")


def _activation_slope(layer: Layer) -> torch.Tensor:
    """g'(in) from the layer's saved output."""
    if isinstance(layer, Sigmoid):
        return layer.a * (1 - layer.a)
    if isinstance(layer, Tanh):
        return 1 - layer.a * layer.a
    if isinstance(layer, ScaledTanh):
        return (LECUN_S / LECUN_A) * (LECUN_A * LECUN_A - layer.a * layer.a)
    raise TypeError(type(layer).__name__)


def backward_hessian(
    layer: Layer, d2y: torch.Tensor, dy: torch.Tensor | None = None
) -> torch.Tensor:
    """One layer of the second-derivative pass; see the module docstring. ``dy`` (∂E/∂y) is used
    by an RBF output layer only, whose own curvature ∂²y_i/∂x_j² = 2 is kept."""
    if isinstance(layer, Sequential):
        for i, inner in enumerate(reversed(layer.layers)):
            d2y = backward_hessian(inner, d2y, dy if i == 0 else None)
        return d2y
    layer.hess = {}
    if isinstance(layer, (Sigmoid, Tanh, ScaledTanh)):
        slope = _activation_slope(layer)
        return d2y * slope * slope
    if isinstance(layer, ReLU):
        return d2y * layer.active
    if isinstance(layer, Dropout):
        return d2y if layer.mask is None else d2y * layer.mask * layer.mask
    if isinstance(layer, Flatten):
        return d2y.reshape(layer.shape)
    if isinstance(layer, Linear):
        a, w = layer.a, layer.params["weight"]
        layer.hess["weight"] = d2y.T @ (a * a)
        if "bias" in layer.params:
            layer.hess["bias"] = d2y.sum(0)
        return d2y @ (w * w)
    if isinstance(layer, Conv2d):
        return _conv_hessian(layer, d2y)
    if isinstance(layer, Subsampling):
        w = layer.params["weight"].view(1, -1, 1, 1)
        layer.hess["weight"] = (d2y * layer.m * layer.m).sum((0, 2, 3))
        layer.hess["bias"] = d2y.sum((0, 2, 3))
        # each input feeds one unit with slope w/4
        return layer.pool.backward(d2y * w * w) / 4
    if isinstance(layer, AvgPool2d):
        kh, kw = layer.kernel_size
        return layer.backward(d2y) / (kh * kw)
    if isinstance(layer, MaxPool2d):
        return layer.backward(d2y)  # slope 1 at the winner, 0 elsewhere
    if isinstance(layer, RBFOutput):
        # y_i = Σ_j (x_j − w_ij)²: ∂y_i/∂x_j = 2 (x_j − w_ij), ∂²y_i/∂x_j² = 2. With LeNet-5's
        # criterion the Gauss–Newton term alone vanishes once the penalties are large (its
        # ∂²E/∂y² ≈ 0), so the units' own curvature Σ_i ∂E/∂y_i · 2 is kept (≥ 0 for that loss;
        # clipped at 0 otherwise to keep the estimate positive).
        diff2 = (layer.x.unsqueeze(1) - layer.buffers["weight"].unsqueeze(0)) ** 2
        d2x = 4 * (d2y.unsqueeze(2) * diff2).sum(1)
        if dy is not None:
            d2x = d2x + 2 * dy.sum(1, keepdim=True).clamp(min=0)
        return d2x
    raise TypeError(f"no second-derivative pass for {type(layer).__name__}")


def _conv_hessian(layer: Conv2d, d2y: torch.Tensor) -> torch.Tensor:
    n, c_out, hout, wout = d2y.shape
    d = d2y.transpose(0, 1).reshape(c_out, -1)
    fields = layer.columns()
    w = layer._weight()
    layer.hess["weight"] = (d @ (fields * fields).T).view_as(w) * layer.mask
    if layer.bias_mode is not None:
        layer.hess["bias"] = layer.bias_sum(d2y)
    return layer.unpad(layer.back_to_input(d, w * w, n, hout, wout))


@torch.no_grad()
def diagonal_hessian(
    net: Sequential, loss: Loss, x: torch.Tensor, target: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Gauss–Newton estimates of ``∂²E/∂w²`` for every parameter of ``net`` on the batch
    (x, target), keyed like ``net.named_params()``; with a loss averaged over the batch this is
    the per-example average the paper uses."""
    loss.forward(net.forward(x), target)
    backward_hessian(net, loss_hessian(loss), loss.backward())
    out = {}
    for i, layer in enumerate(net.layers):
        for k in layer.params:
            out[f"{i}.{k}"] = layer.hess[k]
    return out

"""Build a model from its spec, as hand-written layers (``impl="manual"``) or ``torch.nn``
modules (``impl="autograd"``). The manual network is built and initialised first and the
autograd one loads its state dict, so both start from the same weights for the same seed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as tnn

from lecnn import manual as M
from lecnn import nn as lnn
from lecnn.errors import LecnnError
from lecnn.models.spec import MODELS, ModelSpec

IMPLS = ("autograd", "manual")
INPUT_SIZE = {"mnist28": 28, "lenet32": 32, "zip16": 16}

MANUAL = {
    "linear": M.Linear,
    "conv": M.Conv2d,
    "sigmoid": M.Sigmoid,
    "tanh": M.Tanh,
    "scaled_tanh": M.ScaledTanh,
    "relu": M.ReLU,
    "flatten": M.Flatten,
    "maxpool": M.MaxPool2d,
    "avgpool": M.AvgPool2d,
    "subsampling": M.Subsampling,
    "rbf": M.RBFOutput,
    "dropout": M.Dropout,
}
AUTOGRAD = {
    "linear": tnn.Linear,
    "conv": lnn.Conv2d,
    "sigmoid": tnn.Sigmoid,
    "tanh": tnn.Tanh,
    "scaled_tanh": lnn.ScaledTanh,
    "relu": tnn.ReLU,
    "flatten": tnn.Flatten,
    "maxpool": tnn.MaxPool2d,
    "avgpool": tnn.AvgPool2d,
    "subsampling": lnn.Subsampling,
    "rbf": lnn.RBFOutput,
    "dropout": tnn.Dropout,
}


def get_spec(name: str | ModelSpec) -> ModelSpec:
    if isinstance(name, ModelSpec):
        return name
    if name not in MODELS:
        raise LecnnError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def check_impl(impl: str) -> None:
    if impl not in IMPLS:
        raise LecnnError(f"unknown implementation {impl!r}; choose autograd or manual")


@torch.no_grad()
def initialize(net: M.Sequential, scheme: str) -> None:
    """Apply a paper's initialisation to a manual network in place.

    - ``torch``: keep the ``torch.nn`` defaults the layers were built with.
    - ``lecun1989``: weights U(±2.4/√F), F the unit's fan-in, biases 0 (as the 1989 reproduction).
    - ``lenet5``: the same. The 1998 paper prints U(±2.4/F), but taken literally that shrinks the
      weighted sums layer after layer (about 10⁻³ at C5) and leaves the sigmoids' operating range
      the paper says it aims for; with √F the sums stay in that range, so √F is used (a departure
      the reproduction report states).
    """
    if scheme == "torch":
        return
    if scheme not in ("lecun1989", "lenet5"):
        raise ValueError(f"unknown init scheme {scheme!r}")
    for layer in net.layers:
        if isinstance(layer, (M.Linear, M.Conv2d)):
            w = layer.params["weight"]
            if isinstance(layer, M.Conv2d):
                fan_in = layer.fan_in().to(w).view(-1, 1, 1, 1)
            else:
                fan_in = torch.full((w.shape[0], 1), float(w.shape[1]), dtype=w.dtype)
            bound = 2.4 / fan_in.sqrt()
            w.copy_((torch.rand_like(w) * 2 - 1) * bound)
            if isinstance(layer, M.Conv2d):
                w.mul_(layer.mask)
            if "bias" in layer.params:
                layer.params["bias"].zero_()


def build_manual(spec: ModelSpec) -> M.Sequential:
    net = M.Sequential(*(MANUAL[layer.kind](**layer.kwargs) for layer in spec.layers))
    initialize(net, spec.init)
    return net


def build_autograd(spec: ModelSpec) -> tnn.Sequential:
    return tnn.Sequential(*(AUTOGRAD[layer.kind](**layer.kwargs) for layer in spec.layers))


def build(
    name: str | ModelSpec,
    impl: str = "autograd",
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> M.Sequential | tnn.Sequential:
    """The network ``name`` as a manual ``Sequential`` or an ``nn.Sequential``, same weights for
    the same ``seed``."""
    spec = get_spec(name)
    check_impl(impl)
    if seed is not None:
        torch.manual_seed(seed)
    net = build_manual(spec)
    if impl == "manual":
        return net.to(device=device, dtype=dtype)
    twin = build_autograd(spec)
    twin.load_state_dict(net.state_dict())
    return twin.to(device=device, dtype=dtype)


def build_loss(spec: ModelSpec, impl: str):
    """The spec's loss, manual (``forward``/``backward``) or autograd (a callable)."""
    if impl == "manual":
        return {
            "mse": lambda: M.MSELoss("mean"),
            "mse-sum": lambda: M.MSELoss("sum"),
            "cross-entropy": M.SoftmaxCrossEntropy,
            "rbf": M.RBFLoss,
        }[spec.loss]()
    return {
        "mse": lambda: tnn.MSELoss(),
        "mse-sum": lambda: tnn.MSELoss(reduction="sum"),
        "cross-entropy": tnn.CrossEntropyLoss,
        "rbf": lnn.RBFLoss,
    }[spec.loss]()


@dataclass(frozen=True)
class Counts:
    units: int
    parameters: int
    connections: int

    def __str__(self) -> str:
        return (
            f"{self.units:,} units, {self.parameters:,} trainable parameters, "
            f"{self.connections:,} connections"
        )


@torch.no_grad()
def count(name: str | ModelSpec) -> Counts:
    """Units (inputs and every computing layer's outputs), free parameters (connected weights,
    biases, coefficients; fixed RBF prototypes excluded) and connections (weighted inputs, biases
    included, summed over all units), as LeCun's papers count them."""
    spec = get_spec(name)
    net = build_manual(spec)
    size = INPUT_SIZE[spec.input]
    x = torch.zeros(1, 1, size, size)
    units, params, connections = x.numel(), 0, 0
    for layer in net.layers:
        y = layer.forward(x)
        if isinstance(layer, M.Linear):
            params += layer.params["weight"].numel() + layer.params["bias"].numel()
            connections += y.numel() * (x.numel() + 1)
            units += y.numel()
        elif isinstance(layer, M.Conv2d):
            fan_in = layer.fan_in()
            bias = layer.params.get("bias")
            params += int(fan_in.sum()) + (bias.numel() if bias is not None else 0)
            per_map = y.shape[2] * y.shape[3]
            connections += per_map * int((fan_in + (1 if bias is not None else 0)).sum())
            units += y.numel()
        elif isinstance(layer, M.Subsampling):
            params += 2 * layer.params["weight"].numel()
            connections += y.numel() * 5  # four inputs and a bias
            units += y.numel()
        elif isinstance(layer, (M.MaxPool2d, M.AvgPool2d)):
            connections += y.numel() * math.prod(layer.kernel_size)
            units += y.numel()
        elif isinstance(layer, M.RBFOutput):
            connections += y.numel() * x.numel()
            units += y.numel()
        x = y
    return Counts(units, params, connections)

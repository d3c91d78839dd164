"""Proof that the hand-written layers equal autograd: the cases, the comparison and the checks.

Used by the test suite and by ``lecnn gradcheck``. For each case a manual layer and its autograd
twin are built with the same (non-trivial, random) parameters; a random input and a random
upstream gradient (not ones) go through both, and the outputs, ``dx`` and every parameter gradient
are compared. The error of a tensor is reported as max absolute error and max relative error,
the latter being max|manual − reference| / max|reference|.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as tnn
import torch.nn.functional as F

from lecnn import nn as lnn
from lecnn.checks.bridge import as_function, as_loss_function
from lecnn.manual import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Layer,
    Linear,
    Loss,
    MaxPool2d,
    MSELoss,
    RBFLoss,
    RBFOutput,
    ReLU,
    ScaledTanh,
    Sigmoid,
    SoftmaxCrossEntropy,
    Subsampling,
    Tanh,
)
from lecnn.manual.activations import LeakyReLU
from lecnn.models.tables import LENET5_C3, ZIP_H2


@dataclass
class Row:
    case: str
    tensor: str
    max_abs: float
    max_rel: float


def compare(case: str, tensor: str, got: torch.Tensor | None, ref: torch.Tensor | None) -> Row:
    """Max absolute and relative error of ``got`` against ``ref`` (a missing one is a failure)."""
    if got is None or ref is None:
        raise AssertionError(f"{case}/{tensor}: {'got' if got is None else 'reference'} is missing")
    if got.shape != ref.shape:
        raise AssertionError(f"{case}/{tensor}: shape {tuple(got.shape)} != {tuple(ref.shape)}")
    diff = (got.double() - ref.double()).abs().max().item() if got.numel() else 0.0
    scale = ref.double().abs().max().item() if ref.numel() else 0.0
    return Row(case, tensor, diff, diff / scale if scale > 0 else diff)


@dataclass
class LayerCase:
    name: str
    make: Callable[[], Layer]
    twin: Callable[[Any], tnn.Module]  # built from the case's manual layer
    shape: tuple[int, ...]
    #: input with values on a kink (ReLU at 0, max-pool ties) for the parity test
    kink_input: Callable[[tuple[int, ...], torch.Generator], torch.Tensor] | None = None


@dataclass
class LossCase:
    name: str
    make: Callable[[], Loss]
    twin: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    shape: tuple[int, int]
    target: str  # "index" or "dense"


def _conv_twin(layer: Conv2d) -> tnn.Module:
    return lnn.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        pad_value=layer.pad_value,
        connection_table=layer.connection_table,
        bias=layer.bias_mode,
        input_size=layer.input_size,
    )


def _ties(shape, g):
    return torch.randint(0, 3, shape, generator=g).double()


def _zeros_mixed(shape, g):
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    x[x.abs() < 0.5] = 0.0  # many exact zeros
    return x


def prototypes(n: int = 10, j: int = 84, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, j), generator=g).float() * 2 - 1


def layer_cases() -> list[LayerCase]:
    """Every manual layer on several shapes: batch 1, odd sizes, non-square kernels, stride 2,
    padding, pad_value −1, connection tables, channel and per-unit biases."""
    C = LayerCase
    return [
        C("Linear", lambda: Linear(7, 5), lambda m: tnn.Linear(7, 5), (3, 7)),
        C("Linear/batch1", lambda: Linear(4, 3), lambda m: tnn.Linear(4, 3), (1, 4)),
        C("Sigmoid", Sigmoid, lambda m: tnn.Sigmoid(), (2, 3, 5, 4)),
        C("Tanh", Tanh, lambda m: tnn.Tanh(), (3, 7)),
        C("ScaledTanh", ScaledTanh, lambda m: lnn.ScaledTanh(), (2, 9)),
        C("ReLU", ReLU, lambda m: tnn.ReLU(), (2, 3, 5, 4), _zeros_mixed),
        C(
            "LeakyReLU",
            lambda: LeakyReLU(0.1),
            lambda m: tnn.LeakyReLU(m.negative_slope),
            (2, 3, 5, 4),
            _zeros_mixed,
        ),
        C("Conv2d", lambda: Conv2d(3, 4, 3), _conv_twin, (2, 3, 7, 6)),
        C("Conv2d/batch1", lambda: Conv2d(1, 2, 5), _conv_twin, (1, 1, 9, 9)),
        C(
            "Conv2d/3x2,stride2,pad1",
            lambda: Conv2d(2, 3, (3, 2), stride=2, padding=1),
            _conv_twin,
            (2, 2, 9, 8),
        ),
        C(
            "Conv2d/pad-1,unit-bias",
            lambda: Conv2d(1, 4, 5, 2, 2, pad_value=-1, bias="unit", input_size=(9, 7)),
            _conv_twin,
            (2, 1, 9, 7),
        ),
        C(
            "Conv2d/table(LeNet-5 C3)",
            lambda: Conv2d(6, 16, 5, connection_table=LENET5_C3),
            _conv_twin,
            (2, 6, 9, 9),
        ),
        C(
            "Conv2d/table,pad-1,unit(1989 H2)",
            lambda: Conv2d(
                12,
                12,
                5,
                2,
                2,
                pad_value=-1,
                connection_table=ZIP_H2,
                bias="unit",
                input_size=(8, 8),
            ),
            _conv_twin,
            (2, 12, 8, 8),
        ),
        C("Conv2d/no-bias", lambda: Conv2d(2, 2, 3, bias=None), _conv_twin, (1, 2, 5, 5)),
        C(
            "Conv2d/conv kernels,stride2,pad-1",
            lambda: Conv2d(2, 3, 3, 2, 1, pad_value=-1, method="conv"),
            _conv_twin,
            (2, 2, 8, 9),
        ),
        C("Subsampling", lambda: Subsampling(3), lambda m: lnn.Subsampling(3), (2, 3, 6, 8)),
        C("Subsampling/odd", lambda: Subsampling(2), lambda m: lnn.Subsampling(2), (1, 2, 7, 5)),
        C(
            "Subsampling/sum",
            lambda: Subsampling(3, "sum", 0.3),
            lambda m: lnn.Subsampling(3, "sum", 0.3),
            (2, 3, 6, 8),
        ),
        C(
            "Subsampling/pairs",
            lambda: Subsampling(2, "sum", 0.4, copies=2),
            lambda m: lnn.Subsampling(2, "sum", 0.4, copies=2),
            (2, 2, 6, 4),
        ),
        C("AvgPool2d", lambda: AvgPool2d(2), lambda m: tnn.AvgPool2d(2), (2, 3, 6, 6)),
        C(
            "AvgPool2d/3,stride2",
            lambda: AvgPool2d(3, 2),
            lambda m: tnn.AvgPool2d(3, 2),
            (2, 2, 7, 8),
        ),
        C("MaxPool2d", lambda: MaxPool2d(2), lambda m: tnn.MaxPool2d(2), (2, 3, 6, 6)),
        C(
            "MaxPool2d/ties",
            lambda: MaxPool2d(2),
            lambda m: tnn.MaxPool2d(2),
            (2, 3, 6, 6),
            _ties,
        ),
        C(
            "MaxPool2d/3,stride2,ties",
            lambda: MaxPool2d(3, 2),
            lambda m: tnn.MaxPool2d(3, 2),
            (2, 2, 7, 9),
            _ties,
        ),
        C(
            "MaxPool2d/fields,3,stride2,ties",
            lambda: MaxPool2d(3, 2, method="fields"),
            lambda m: tnn.MaxPool2d(3, 2),
            (2, 2, 7, 9),
            _ties,
        ),
        C(
            "MaxPool2d/fields,ties",
            lambda: MaxPool2d(2, method="fields"),
            lambda m: tnn.MaxPool2d(2),
            (2, 3, 6, 6),
            _ties,
        ),
        C("Flatten", Flatten, lambda m: tnn.Flatten(), (2, 3, 4, 5)),
        C(
            "RBFOutput",
            lambda: RBFOutput(prototypes()),
            lambda m: lnn.RBFOutput(prototypes()),
            (3, 84),
        ),
    ]


def loss_cases() -> list[LossCase]:
    return [
        LossCase("MSELoss/mean", lambda: MSELoss("mean"), F.mse_loss, (4, 10), "dense"),
        LossCase(
            "MSELoss/sum",
            lambda: MSELoss("sum"),
            lambda p, t: F.mse_loss(p, t, reduction="sum"),
            (3, 10),
            "dense",
        ),
        LossCase("MSELoss/half", lambda: MSELoss("half"), lnn.HalfSquaredError(), (3, 10), "dense"),
        LossCase("SoftmaxCrossEntropy", SoftmaxCrossEntropy, F.cross_entropy, (5, 10), "index"),
        LossCase(
            "SoftmaxCrossEntropy/batch1", SoftmaxCrossEntropy, F.cross_entropy, (1, 10), "index"
        ),
        LossCase("RBFLoss", lambda: RBFLoss(0.1), lnn.RBFLoss(0.1), (4, 10), "index"),
    ]


def randomize(layer: Layer, g: torch.Generator) -> None:
    """Give every parameter non-trivial random values (unconnected conv weights stay 0)."""
    for k, p in layer.params.items():
        new = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p) * 0.7
        if isinstance(layer, Conv2d) and k == "weight":
            new = new * layer.mask
        layer.params[k] = new
    layer.zero_grad()


def build_pair(case: LayerCase, device, dtype, seed: int = 0) -> tuple[Layer, tnn.Module]:
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # their own initial weights are replaced below
        layer, twin = case.make(), None
        randomize(layer, g)
        layer.to(device=device, dtype=dtype)
        twin = case.twin(layer).to(device=device, dtype=dtype)
    twin.load_state_dict(layer.state_dict())
    return layer, twin


def layer_parity(case: LayerCase, device="cpu", dtype=torch.float64, seed: int = 0) -> list[Row]:
    """Manual vs autograd: output, dx and every parameter gradient, with a random upstream dy."""
    layer, twin = build_pair(case, device, dtype, seed)
    g = torch.Generator().manual_seed(seed + 1)
    make_x = case.kink_input or (
        lambda shape, g: torch.randn(shape, generator=g, dtype=torch.float64)
    )
    x = make_x(case.shape, g).to(device=device, dtype=dtype)
    y = layer.forward(x)
    dy = torch.randn(y.shape, generator=g, dtype=torch.float64).to(y)
    dx = layer.backward(dy)

    xt = x.clone().requires_grad_(True)
    yt = twin(xt)
    yt.backward(dy)
    rows = [compare(case.name, "y", y, yt.detach()), compare(case.name, "dx", dx, xt.grad)]
    for name, p in twin.named_parameters():
        rows.append(compare(case.name, f"d{name}", layer.grads[name], p.grad))
    return rows


def loss_parity(case: LossCase, device="cpu", dtype=torch.float64, seed: int = 0) -> list[Row]:
    g = torch.Generator().manual_seed(seed)
    n, k = case.shape
    pred = torch.randn(case.shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    if case.target == "index":
        target = torch.randint(0, k, (n,), generator=g).to(device)
    else:
        target = torch.randn(case.shape, generator=g, dtype=torch.float64).to(pred)
    loss = case.make()
    value = loss.forward(pred, target)
    dpred = loss.backward()
    pt = pred.clone().requires_grad_(True)
    ref = case.twin(pt, target)
    ref.backward()
    return [
        compare(case.name, "loss", value, ref.detach()),
        compare(case.name, "dpred", dpred, pt.grad),
    ]


def layer_gradcheck(case: LayerCase, seed: int = 0) -> bool:
    """``torch.autograd.gradcheck`` of the hand-written backward, run through ``as_function``."""
    layer, _ = build_pair(case, "cpu", torch.float64, seed)
    g = torch.Generator().manual_seed(seed + 3)
    x = torch.randn(case.shape, generator=g, dtype=torch.float64).requires_grad_(True)
    f = as_function(layer)
    params = tuple(p.clone().requires_grad_(True) for p in layer.params.values())  # f's order
    return torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-8, rtol=1e-6)


def loss_gradcheck(case: LossCase, seed: int = 0) -> bool:
    g = torch.Generator().manual_seed(seed)
    n, k = case.shape
    pred = torch.randn(case.shape, generator=g, dtype=torch.float64).requires_grad_(True)
    if case.target == "index":
        target = torch.randint(0, k, (n,), generator=g)
    else:
        target = torch.randn(case.shape, generator=g, dtype=torch.float64)
    f = as_loss_function(case.make())
    return torch.autograd.gradcheck(lambda p: f(p, target), (pred,), eps=1e-6, atol=1e-8)

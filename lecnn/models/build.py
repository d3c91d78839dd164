"""Build a model from its spec, as hand-written layers (``impl="manual"``) or ``torch.nn``
modules (``impl="autograd"``). The manual network is built and initialised first and the
autograd one loads its state dict, so both start from the same weights for the same seed."""

from __future__ import annotations

from functools import partial

import torch

from lecnn import manual as M
from lecnn import nn as lnn
from lecnn.errors import LecnnError
from lecnn.manual.base import Counts
from lecnn.models.spec import MODELS, WITH_OPTIONS, ModelSpec
from lecnn.options import call, canonical, split

IMPLS = ("autograd", "manual")
INPUT_SIZE = {"mnist28": 28, "lenet32": 32, "lenet28": 28, "zip16": 16}

#: spec kind → layer class, each registered by its own file (``kind = ...``)
MANUAL = M.LAYERS
AUTOGRAD = lnn.TWINS


def get_spec(name: str | ModelSpec) -> ModelSpec:
    """The spec named ``name``, or built with options: ``lenet5:init=printed,subsampling=sum``."""
    if isinstance(name, ModelSpec):
        return name
    base, options = split(name)
    if options and base in WITH_OPTIONS:
        return call(partial(WITH_OPTIONS[base], name=canonical(name)), name)
    if options:
        takes = ", ".join(WITH_OPTIONS)
        raise LecnnError(f"model {base!r} takes no options (models with options: {takes})")
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
      weighted sums layer after layer (about 10⁻³ at C5, with averaging subsampling) and leaves the
      sigmoids' operating range the paper says it aims for; with √F the sums stay in that range,
      so √F is used (a departure the reproduction report states).
    - ``lenet5-printed``: the printed U(±2.4/F) (``--model lenet5:init=printed``).
    """
    if scheme == "torch":
        return
    if scheme not in ("lecun1989", "lenet5", "lenet5-printed"):
        raise ValueError(f"unknown init scheme {scheme!r}")
    for layer in net.layers:
        if isinstance(layer, (M.Linear, M.Conv2d)):
            w = layer.params["weight"]
            if isinstance(layer, M.Conv2d):
                fan_in = layer.fan_in().to(w).view(-1, 1, 1, 1)
            else:
                fan_in = torch.full((w.shape[0], 1), float(w.shape[1]), dtype=w.dtype)
            bound = 2.4 / (fan_in if scheme == "lenet5-printed" else fan_in.sqrt())
            w.copy_((torch.rand_like(w) * 2 - 1) * bound)
            if isinstance(layer, M.Conv2d):
                w.mul_(layer.mask)
            if "bias" in layer.params:
                layer.params["bias"].zero_()


def build_manual(spec: ModelSpec) -> M.Sequential:
    net = M.Sequential(*(MANUAL[layer.kind](**layer.kwargs) for layer in spec.layers))
    initialize(net, spec.init)
    return net


def build_autograd(spec: ModelSpec) -> torch.nn.Sequential:
    return torch.nn.Sequential(*(AUTOGRAD[layer.kind](**layer.kwargs) for layer in spec.layers))


def build(
    name: str | ModelSpec,
    impl: str = "autograd",
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> M.Sequential | torch.nn.Sequential:
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
        "mse": lambda: torch.nn.MSELoss(),
        "mse-sum": lambda: torch.nn.MSELoss(reduction="sum"),
        "cross-entropy": torch.nn.CrossEntropyLoss,
        "rbf": lnn.RBFLoss,
    }[spec.loss]()


@torch.no_grad()
def count(name: str | ModelSpec) -> Counts:
    """Units (inputs and every computing layer's outputs), free parameters (connected weights,
    biases, coefficients; fixed RBF prototypes excluded) and connections (weighted inputs, biases
    included, summed over all units), as LeCun's papers count them: each layer counts its own."""
    spec = get_spec(name)
    size = INPUT_SIZE[spec.input]
    return build_manual(spec).counts(torch.zeros(1, 1, size, size))

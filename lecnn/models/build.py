"""Build a model from its spec, as hand-written layers (``impl="manual"``) or ``torch.nn``
modules (``impl="autograd"``). The manual network is built and initialised first and the
autograd one loads its state dict, so both start from the same weights for the same seed."""

from __future__ import annotations

from functools import partial
from typing import Literal, overload

import torch

from lecnn import manual as M
from lecnn import nn as lnn
from lecnn.errors import LecnnError
from lecnn.manual.base import Counts
from lecnn.models.losses import make_loss
from lecnn.models.spec import MODELS, WITH_OPTIONS, L, ModelSpec
from lecnn.options import call, canonical, split

IMPLS = ("autograd", "manual")
INPUT_SIZE = {"mnist28": 28, "lenet32": 32, "lush32": 32, "lenet28": 28, "zip16": 16}

#: spec kind → layer class, each registered by its own file (``kind = ...``)
MANUAL = M.LAYERS
AUTOGRAD = lnn.TWINS


def get_spec(name: str | ModelSpec) -> ModelSpec:
    """The spec named ``name``, or built with options: ``lenet5:init=printed,subsampling=sum``."""
    if isinstance(name, ModelSpec):
        return name
    base, options = split(name)
    if options and base in WITH_OPTIONS:
        spec: ModelSpec = call(partial(WITH_OPTIONS[base], name=canonical(name)), name)
        return spec
    if options:
        takes = ", ".join(WITH_OPTIONS)
        raise LecnnError(f"model {base!r} takes no options (models with options: {takes})")
    if name not in MODELS:
        raise LecnnError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def check_impl(impl: str) -> None:
    if impl not in IMPLS:
        raise LecnnError(f"unknown implementation {impl!r}; choose autograd or manual")


def make_layer(layer: L, generator: torch.Generator | None) -> M.Layer:
    """The manual layer ``layer`` names, its weights (if any) drawn from ``generator``."""
    cls = MANUAL[layer.kind]
    if issubclass(cls, M.WeightedLayer):  # its constructor draws its weights from generator=
        return cls(**layer.kwargs, generator=generator)
    return cls(**layer.kwargs)


def build_manual(spec: ModelSpec, generator: torch.Generator | None = None) -> M.Sequential:
    """The spec as hand-written layers, every weight drawn from ``generator``: each layer first
    takes ``torch.nn``'s default, then, for a paper's scheme, that scheme's weights (so a seed
    gives the weights it has always given)."""
    net = M.Sequential(*(make_layer(layer, generator) for layer in spec.layers))
    if spec.init != "torch":
        net.reset_parameters(spec.init, generator)
    return net


def build_autograd(spec: ModelSpec) -> torch.nn.Sequential:
    """The spec as ``torch.nn`` modules, with their own default weights (``build`` replaces them
    with the manual network's); torch's default generator is left as it was."""
    with torch.random.fork_rng(devices=[]):
        return torch.nn.Sequential(*(AUTOGRAD[layer.kind](**layer.kwargs) for layer in spec.layers))


@overload
def build(
    name: str | ModelSpec,
    impl: Literal["manual"],
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> M.Sequential: ...
@overload
def build(
    name: str | ModelSpec,
    impl: Literal["autograd"] = "autograd",
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.nn.Sequential: ...
@overload
def build(
    name: str | ModelSpec,
    impl: str,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> M.Sequential | torch.nn.Sequential: ...
def build(
    name: str | ModelSpec,
    impl: str = "autograd",
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> M.Sequential | torch.nn.Sequential:
    """The network ``name`` as a manual ``Sequential`` or an ``nn.Sequential``, its weights drawn
    from ``generator`` (a CPU one), or from a new one seeded with ``seed``; the same weights for
    the same seed in both implementations. With neither, from torch's default generator, as
    ``torch.nn`` draws."""
    spec = get_spec(name)
    check_impl(impl)
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(seed)
    net = build_manual(spec, generator)
    if impl == "manual":
        return net.to(device=device, dtype=dtype)
    twin = build_autograd(spec)
    twin.load_state_dict(net.state_dict())
    return twin.to(device=device, dtype=dtype)


@overload
def build_loss(spec: ModelSpec, impl: Literal["manual"]) -> M.Loss: ...
@overload
def build_loss(spec: ModelSpec, impl: Literal["autograd"]) -> torch.nn.Module: ...
@overload
def build_loss(spec: ModelSpec, impl: str) -> M.Loss | torch.nn.Module: ...
def build_loss(spec: ModelSpec, impl: str) -> M.Loss | torch.nn.Module:
    """The spec's loss, manual (``forward``/``backward``) or autograd (a callable)."""
    return make_loss(spec.loss, impl)


@torch.no_grad()
def count(name: str | ModelSpec) -> Counts:
    """Units (inputs and every computing layer's outputs), free parameters (connected weights,
    biases, coefficients; fixed RBF prototypes excluded) and connections (weighted inputs, biases
    included, summed over all units), as LeCun's papers count them: each layer counts its own."""
    spec = get_spec(name)
    size = INPUT_SIZE[spec.input]
    # the weights do not change the counts: drawn from a generator of their own; evaluation
    # mode, so dropout draws nothing
    net = build_manual(spec, torch.Generator())
    net.train(False)
    return net.counts(torch.zeros(1, 1, size, size))

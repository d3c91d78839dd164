"""The curvature pass SDLM uses (``lecnn.manual.hessian``) against the exact Gauss–Newton
diagonal Σ_n (∂out_n/∂θ)² · ∂²E/∂out², computed with autograd. On chains where every layer has a
single unit the paper's per-unit approximation drops nothing but g'', so the two must be equal."""

from __future__ import annotations

import torch

from lecnn import manual as M
from lecnn.checks.parity import Row, compare
from lecnn.manual.hessian import diagonal_hessian
from lecnn.models.build import build_autograd, make_layer
from lecnn.models.spec import L, ModelSpec, TrainDefaults


def _conv(k: int, **kw) -> L:
    return L("conv", {"in_channels": 1, "out_channels": 1, "kernel_size": k, **kw})


#: name -> (layers, input shape); each ends in one output unit
CHAINS: dict[str, tuple[list[L], tuple[int, ...]]] = {
    "linear": ([L("linear", {"in_features": 3, "out_features": 1})], (3, 3)),
    "linear-tanh-linear-scaledtanh": (
        [
            L("linear", {"in_features": 3, "out_features": 1}),
            L("tanh"),
            L("linear", {"in_features": 1, "out_features": 1}),
            L("scaled_tanh"),
        ],
        (3, 3),
    ),
    "conv-unit-bias-sigmoid": (
        [
            _conv(3, bias="unit", input_size=(3, 3)),
            L("flatten"),
            L("linear", {"in_features": 1, "out_features": 1}),
            L("sigmoid"),
        ],
        (3, 1, 3, 3),
    ),
    "padded-conv-pad-1": ([_conv(3, padding=1, pad_value=-1.0), L("scaled_tanh")], (2, 1, 1, 1)),
    # the second convolution is not the first layer: the pass goes back through its input
    "conv-tanh-conv": ([_conv(3), L("tanh"), _conv(1), L("sigmoid")], (3, 1, 3, 3)),
    "conv-scaledtanh-conv-padded": (
        [_conv(2, stride=2), L("scaled_tanh"), _conv(3, padding=1)],
        (4, 1, 2, 2),
    ),
    "subsampling": (
        [
            L("subsampling", {"channels": 1}),
            L("flatten"),
            L("linear", {"in_features": 1, "out_features": 1}),
        ],
        (3, 1, 2, 2),
    ),
}


def chain_spec(layers: list[L]) -> ModelSpec:
    return ModelSpec(
        "chain", "", "mnist28", tuple(layers), "mse-sum", "pm1", "torch",
        TrainDefaults("sdlm", 0.01, 1, 1),
    )  # fmt: skip


def exact_gauss_newton(spec: ModelSpec, state: dict, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Σ_n (∂out_n/∂θ)² · 2 for a network with one output unit and the summed squared error."""
    net = build_autograd(spec).to(x.dtype)
    net.load_state_dict(state)
    params = dict(net.named_parameters())
    gn = {k: torch.zeros_like(p) for k, p in params.items()}
    for xn in x:
        out = net(xn.unsqueeze(0)).sum()  # the single output unit
        grads = torch.autograd.grad(out, list(params.values()))
        for k, g in zip(params, grads):
            gn[k] += g * g * 2.0  # ∂²E/∂out² of the summed squared error
    return gn


def chain_estimates(name: str, dtype: torch.dtype = torch.float64):
    """The hand-written estimates and the exact diagonal of chain ``name`` (random weights)."""
    layers, shape = CHAINS[name]
    g = torch.Generator().manual_seed(1)
    net = M.Sequential(*(make_layer(layer, g) for layer in layers)).to(dtype=dtype)
    for layer in net.layers:
        for k, p in layer.params.items():
            layer.params[k] = torch.randn(p.shape, generator=g, dtype=dtype)
    x = torch.randn(shape, generator=g, dtype=dtype)
    target = torch.randn(shape[0], 1, generator=g, dtype=dtype)
    flat = M.Sequential(*net.layers, M.Flatten()) if len(shape) == 4 else net
    hess = diagonal_hessian(flat, M.MSELoss("sum"), x, target)
    return hess, exact_gauss_newton(chain_spec(layers), net.state_dict(), x)


def curvature_rows(dtype: torch.dtype = torch.float64) -> list[Row]:
    """One row per chain and parameter (on the CPU: the exact reference loops over examples)."""
    rows = []
    for name in CHAINS:
        hess, exact = chain_estimates(name, dtype)
        rows += [compare(f"curvature {name}", k, hess[k], exact[k]) for k in exact]
    return rows

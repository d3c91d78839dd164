"""The diagonal Gauss–Newton pass (LeCun 1998, Appendix C) and SDLM.

Where every layer has a single unit the paper's per-unit approximation drops nothing but g'', so
it must equal the exact Gauss–Newton diagonal Σ_n (∂out_n/∂θ)² · ∂²E/∂out², computed here with
autograd."""

from __future__ import annotations

import pytest
import torch

from lecnn import manual as M
from lecnn import nn as lnn
from lecnn.checks.curvature import CHAINS, chain_estimates
from lecnn.manual.hessian import diagonal_hessian

D = torch.float64


@pytest.mark.parametrize("name", list(CHAINS))
def test_single_unit_chains_equal_exact_gauss_newton(name):
    hess, exact = chain_estimates(name)
    assert set(hess) == set(exact)
    for k in exact:
        assert torch.allclose(hess[k], exact[k], rtol=1e-10, atol=1e-12), (k, hess[k], exact[k])
        assert (hess[k] >= 0).all()


def test_rbf_output_keeps_its_own_curvature_exactly():
    """Linear → one RBF unit → LeNet-5's criterion: each weight moves one x_j and y's Hessian in x
    is 2·I, so the estimate must equal the exact Hessian diagonal (no Gauss–Newton gap)."""
    torch.manual_seed(0)
    proto = torch.tensor([[0.5, -1.0]], dtype=D)
    layer, rbf = M.Linear(3, 2).to(dtype=D), M.RBFOutput(proto).to(dtype=D)
    x = torch.randn(1, 3, dtype=D)
    target = torch.zeros(1, dtype=torch.long)
    hess = diagonal_hessian(M.Sequential(layer, rbf), M.RBFLoss(0.1), x, target)
    b = layer.params["bias"]
    crit = lnn.RBFLoss(0.1)

    def energy(wflat):
        out = x @ wflat.view(2, 3).T + b
        return crit(((out - proto) ** 2).sum(1, keepdim=True), target)

    exact = torch.autograd.functional.hessian(energy, layer.params["weight"].flatten())
    assert torch.allclose(hess["0.weight"], exact.diagonal().view(2, 3), rtol=1e-10)
    assert (hess["0.weight"] > 0).all()


def test_linear_layer_hessian_is_exact():
    torch.manual_seed(0)
    layer = M.Linear(4, 2).to(dtype=D)
    x = torch.randn(5, 4, dtype=D)
    t = torch.randn(5, 2, dtype=D)
    hess = diagonal_hessian(M.Sequential(layer), M.MSELoss("mean"), x, t)
    w = layer.params["weight"].clone()

    def loss(wflat):
        return torch.nn.functional.mse_loss(x @ wflat.view(2, 4).T + layer.params["bias"], t)

    exact = torch.autograd.functional.hessian(loss, w.flatten()).diagonal().view(2, 4)
    assert torch.allclose(hess["0.weight"], exact, rtol=1e-12)


def test_sdlm_steps_are_eta_over_mu_plus_h():
    opt = M.SDLM(0.1, mu=0.02)
    w = {"w": torch.tensor([1.0, 1.0], dtype=D)}
    opt.set_hessian({"w": torch.tensor([0.0, 0.98], dtype=D)})
    opt.step(w, {"w": torch.tensor([1.0, 1.0], dtype=D)})
    assert torch.allclose(w["w"], torch.tensor([1 - 0.1 / 0.02, 1 - 0.1 / 1.0], dtype=D))
    with pytest.raises(RuntimeError, match="set_hessian"):
        M.SDLM(0.1).step(w, w)


@pytest.mark.parametrize("model", ["lenet5", "lecun1989"])
def test_every_estimate_of_a_whole_network_is_non_negative(model, mnist):
    """Many units per layer (the off-diagonal terms dropped): every estimate stays ≥ 0 and the
    convolutions deep in the net get positive curvature, as SDLM's steps η/(μ + h) need."""
    from lecnn.data import prepare
    from lecnn.models import build, build_loss, get_spec
    from lecnn.training.engine import encode_targets

    spec = get_spec(model)
    data = prepare(mnist, spec.input, torch.device("cpu"), dtype=D)
    net = build(spec, "manual", seed=0, dtype=D)
    x, y = data.train.x[:64], data.train.y[:64]
    hess = diagonal_hessian(net, build_loss(spec, "manual"), x, encode_targets(y, spec.target, D))
    for k, h in hess.items():
        assert (h >= 0).all(), k
    convs = [k for k, h in hess.items() if k.endswith("weight") and h.dim() == 4]
    assert all(hess[k].sum() > 0 for k in convs[1:])


def _layer_cases():
    from lecnn.checks import parity

    # every layer but the RBF output, whose own curvature (∂²y/∂x² = 2) is added on purpose
    return [c for c in parity.layer_cases() if c.name != "RBFOutput"]


@pytest.mark.parametrize("case", _layer_cases(), ids=lambda c: c.name)
def test_each_layers_curvature_step_is_its_exact_squared_jacobian(case):
    """For one layer, ``d2x_i = Σ_j (∂y_j/∂x_i)² d2y_j`` and ``hess_w = Σ_j (∂y_j/∂w)² d2y_j``
    exactly (the pass drops only cross terms between layers' units and g''): checked against
    autograd's Jacobian of the twin, so a wrong scale or a w for a w² anywhere is caught, deep in
    a network or not."""
    from torch.func import functional_call, jacrev

    from lecnn.checks import parity

    layer, twin = parity.build_pair(case, "cpu", D)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(case.shape, generator=g, dtype=D)
    y = layer.forward(x)
    d2y = torch.rand(y.shape, generator=g, dtype=D)
    d2x = layer.backward_curvature(d2y)
    params = {k: v.detach() for k, v in twin.named_parameters()}

    def out(p, v):
        return functional_call(twin, p, (v,))

    jx = jacrev(out, argnums=1)(params, x).reshape(y.numel(), x.numel())
    exact_x = (jx * jx * d2y.reshape(-1, 1)).sum(0).view_as(x)
    assert torch.allclose(d2x, exact_x, rtol=1e-10, atol=1e-12)
    if params:
        jp = jacrev(out, argnums=0)(params, x)
        for k, p in params.items():
            j = jp[k].reshape(y.numel(), p.numel())
            exact = (j * j * d2y.reshape(-1, 1)).sum(0).view_as(p)
            assert torch.allclose(layer.hess[k], exact, rtol=1e-10, atol=1e-12), k


@pytest.mark.parametrize("impl", ["manual", "autograd"])
def test_sdlm_curvature_is_a_per_example_average_for_a_summed_loss_too(impl, mnist):
    """lenet1 sums its squared error over the batch (as LeNet-1/4 were trained); SDLM's estimate is
    still the average over the samples, so the same example twice gives the estimate of one, and
    the evaluation's loss is the mean per example."""
    from lecnn.data import prepare
    from lecnn.models import get_spec
    from lecnn.training.engine import encode_targets, make_engine
    from lecnn.training.evaluate import evaluate

    spec = get_spec("lenet1")
    assert spec.loss == "mse-sum"
    engine = make_engine(spec, impl, seed=0, device=torch.device("cpu"), dtype=D)
    data = prepare(mnist, "lenet28", "cpu", dtype=D)
    x, y = data.test.x[:6], data.test.y[:6]
    t = encode_targets(y, spec.target, D)
    one = engine.curvature(x[:1], t[:1])
    twice = engine.curvature(x[:1].repeat(2, 1, 1, 1), t[:1].repeat(2, 1))
    for k in one:
        assert torch.allclose(twice[k], one[k], rtol=1e-12), k
    ev = evaluate(engine, data.test.head(6), batch_size=4)
    per_example = [float(((engine.outputs(x[i : i + 1]) - t[i]) ** 2).sum()) for i in range(6)]
    assert ev.loss == pytest.approx(sum(per_example) / 6, rel=1e-12)


def test_the_curvature_pass_walks_nested_sequentials_as_named_params_does():
    """A network split into nested ``Sequential``s gives the same estimates as the flat one, under
    the nested names ``named_params()`` gives (the curvature pass and the names walk one tree)."""
    from lecnn.manual.hessian import diagonal_hessian
    from lecnn.models import build

    flat = build("lenet5", "manual", seed=0, dtype=torch.float64)
    layers = flat.layers
    nested = M.Sequential(M.Sequential(*layers[:4]), M.Sequential(*layers[4:]))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1, 32, 32, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (3,), generator=g)
    a = diagonal_hessian(flat, M.RBFLoss(), x, y, per_example=True)
    b = diagonal_hessian(nested, M.RBFLoss(), x, y, per_example=True)
    assert list(b) == list(nested.named_params()) and len(a) == len(b) > 0
    assert all(k.count(".") == 2 for k in b)  # "0.1.weight": the nested names
    for (ka, va), (kb, vb) in zip(a.items(), b.items()):
        assert torch.equal(va, vb), (ka, kb)

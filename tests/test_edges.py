"""Edges that mutation testing found unguarded in lecnn/manual: each loss's curvature against the
exact Hessian diagonal, schedules' formulas at their ends, defaults that the models rely on, the
constructors' checks, and state dicts crossing dtypes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lecnn import manual as M
from lecnn import nn as lnn
from lecnn.checks import parity
from lecnn.training import schedules

D = torch.float64


@pytest.mark.parametrize(
    "loss, twin, target",
    [
        (M.MSELoss("mean"), F.mse_loss, "dense"),
        (M.MSELoss("sum"), lambda p, t: F.mse_loss(p, t, reduction="sum"), "dense"),
        (M.SoftmaxCrossEntropy(), F.cross_entropy, "index"),
        (M.RBFLoss(0.1), lnn.RBFLoss(0.1), "index"),
    ],
    ids=["mse-mean", "mse-sum", "cross-entropy", "rbf"],
)
def test_loss_curvature_is_the_exact_hessian_diagonal(loss, twin, target):
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(5, 10, generator=g, dtype=D)
    t = (
        torch.randint(0, 10, (5,), generator=g)
        if target == "index"
        else torch.randn(5, 10, generator=g, dtype=D)
    )
    loss.forward(pred, t)
    exact = torch.autograd.functional.hessian(lambda p: twin(p, t), pred)
    diagonal = exact.reshape(50, 50).diagonal().view(5, 10)
    assert torch.allclose(loss.curvature(), diagonal, rtol=1e-12, atol=1e-15)


def test_mse_defaults_to_the_mean_as_torch():
    p, t = torch.randn(4, 3, dtype=D), torch.randn(4, 3, dtype=D)
    assert torch.allclose(M.MSELoss().forward(p, t), F.mse_loss(p, t))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'half'"):
        M.MSELoss("max")


def test_passlinear_rates_by_pass():
    s = schedules.PassLinear(0.3, 0.25, epochs=5)
    assert [s(e, 0) for e in range(5)] == pytest.approx(
        [0.3 * (1 - e / 4 * 0.75) for e in range(5)]
    )
    assert s(4, 999) == pytest.approx(0.3 * 0.25)  # the last pass ends at end·lr
    assert schedules.PassLinear(0.3, 0.25, epochs=1)(0, 0) == 0.3  # one pass: the first rate


def test_linear_decay_reaches_zero_at_its_total_even_for_one_update():
    assert schedules.LinearDecay(1.0, 1)(0, 0) == 1.0 and schedules.LinearDecay(1.0, 1)(0, 1) == 0.0
    assert schedules.LinearDecay(2.0, 4)(0, 2) == pytest.approx(1.0)


def test_steps_need_a_pair():
    with pytest.raises(ValueError, match="Steps needs at least one"):
        schedules.Steps([])


def test_sdlm_default_mu_is_the_papers():
    w, g = {"w": torch.ones(2, dtype=D)}, {"w": torch.ones(2, dtype=D)}
    opt = M.SDLM(0.1)
    opt.set_hessian({"w": torch.zeros(2, dtype=D)})
    opt.step(w, g)
    assert torch.allclose(w["w"], torch.full((2,), 1 - 0.1 / 0.02, dtype=D))  # μ = 0.02


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_refuses_a_probability_outside_0_to_1(p):
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        M.Dropout(p)


def test_dropout_defaults_to_half_and_zero_is_the_identity():
    torch.manual_seed(0)
    x = torch.ones(20000, dtype=D)
    assert abs((M.Dropout().forward(x) > 0).double().mean().item() - 0.5) < 0.02
    assert torch.equal(M.Dropout(0.0).forward(x), x)


def test_a_subclass_does_not_take_its_parents_kind():
    class Variant(M.ReLU):
        pass

    assert M.LAYERS["relu"] is M.ReLU and Variant not in M.LAYERS.values()


def test_state_dict_takes_the_layers_dtype_and_device():
    layer = M.Linear(3, 2).to(dtype=D)
    layer.load_state_dict({k: v.float() for k, v in layer.state_dict().items()})
    assert all(p.dtype == D and p.device.type == "cpu" for p in layer.params.values())


def test_rbf_output_counts_no_free_parameters():
    protos = torch.randint(0, 2, (10, 84)).float() * 2 - 1
    rbf, x = M.RBFOutput(protos), torch.zeros(1, 84)
    counts = rbf.counts(x, rbf.forward(x))
    assert counts == M.Counts(units=10, parameters=0, connections=840)


def test_leaky_relu_defaults_to_torchs_slope():
    x = torch.linspace(-3, 3, 13, dtype=D)
    assert torch.equal(M.LeakyReLU().forward(x), F.leaky_relu(x))  # 0.01 unless told


@pytest.mark.parametrize(
    "case", [c for c in parity.layer_cases() if c.shape[0] > 1], ids=lambda c: c.name
)
def test_the_curvature_pass_treats_examples_independently(case):
    """A batch's ``d2x`` rows equal each example's alone, and a weight's estimate is the sum of the
    examples' (the loss scales its ``d2y``): a sum over the wrong axis, which one example cannot
    show, is caught. ``dy`` goes in too (the RBF units add their own curvature from it)."""
    layer, _ = parity.build_pair(case, "cpu", D)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(case.shape, generator=g, dtype=D)
    y = layer.forward(x)
    d2y, dy = torch.rand(y.shape, generator=g, dtype=D), torch.rand(y.shape, generator=g, dtype=D)
    d2x = layer.backward_curvature(d2y, dy)
    hess = {k: v.clone() for k, v in layer.hess.items()}
    total = {k: torch.zeros_like(v) for k, v in hess.items()}
    for n in range(len(x)):
        layer.forward(x[n : n + 1])
        one = layer.backward_curvature(d2y[n : n + 1], dy[n : n + 1])
        assert torch.allclose(d2x[n : n + 1], one, rtol=1e-12, atol=1e-12), n
        for k in total:
            total[k] += layer.hess[k]
    for k in hess:
        assert torch.allclose(hess[k], total[k], rtol=1e-12, atol=1e-12), k


def test_sdlm_estimates_its_curvature_at_a_pass_start_and_keeps_it_on_a_resume():
    calls = []

    def curvature():
        calls.append(1)
        return {"w": torch.full((2,), float(len(calls)), dtype=D)}

    opt = M.SDLM(0.1)
    opt.start_pass(curvature, fresh=False)  # resumed without a saved estimate: make one
    opt.start_pass(curvature, fresh=False)  # resumed mid-pass with one: keep it
    assert len(calls) == 1 and opt.state["w"]["h"][0] == 1
    opt.start_pass(curvature, fresh=True)  # every new pass re-estimates
    assert len(calls) == 2 and opt.state["w"]["h"][0] == 2

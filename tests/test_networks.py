"""Whole networks: manual and autograd give the same loss, gradients and weights after SGD; the
optimizers equal torch.optim; BACK-PROP-LEARNING is gradient descent on ½Σ(y − a)²."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES

from lecnn import manual as M
from lecnn.checks.parity import compare
from lecnn.models.build import build, build_loss
from lecnn.models.spec import L, ModelSpec, TrainDefaults
from lecnn.models.tables import rbf_prototypes
from lecnn.training import schedules
from lecnn.training.engine import encode_targets

TABLE = torch.tensor(
    [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 0], [1, 1, 1, 1]]
)
TRUNK = (
    L("conv", {"in_channels": 1, "out_channels": 4, "kernel_size": 3}),
    L("scaled_tanh"),
    L("subsampling", {"channels": 4}),
    L("conv", {"in_channels": 4, "out_channels": 6, "kernel_size": 2, "connection_table": TABLE}),
    L("scaled_tanh"),
    L("maxpool", {"kernel_size": 2}),
    L("flatten"),
)
HEADS = {
    "mse": (L("linear", {"in_features": 24, "out_features": 10}), L("tanh")),
    "cross-entropy": (L("linear", {"in_features": 24, "out_features": 10}),),
    "rbf": (
        L("linear", {"in_features": 24, "out_features": 84}),
        L("scaled_tanh"),
        L("rbf", {"prototypes": rbf_prototypes()}),
    ),
}
TARGET = {"mse": "pm1", "cross-entropy": "index", "rbf": "index"}


def small_cnn(loss: str) -> ModelSpec:
    return ModelSpec(
        name=f"small-{loss}",
        description="",
        input="mnist28",
        layers=TRUNK + HEADS[loss],
        loss=loss,
        target=TARGET[loss],
        init="torch",
        defaults=TrainDefaults("sgd", 0.1, 4, 1),
        predict_min=loss == "rbf",
    )


def logistic_mlp() -> ModelSpec:
    layers = (
        L("flatten"),
        L("linear", {"in_features": 144, "out_features": 20}),
        L("sigmoid"),
        L("linear", {"in_features": 20, "out_features": 10}),
        L("sigmoid"),
    )
    return ModelSpec(
        "mlp-small",
        "",
        "mnist28",
        layers,
        "mse-sum",
        "onehot01",
        "torch",
        TrainDefaults("sgd", 0.1, 4, 1),
    )


SPECS = [logistic_mlp(), small_cnn("mse"), small_cnn("cross-entropy"), small_cnn("rbf")]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_network_loss_gradients_and_sgd_steps_match(spec, device):
    dt = torch.float64
    man = build(spec, "manual", seed=3, device=device, dtype=dt)
    auto = build(spec, "autograd", seed=3, device=device, dtype=dt)
    man_loss, auto_loss = build_loss(spec, "manual"), build_loss(spec, "autograd")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 1, 12, 12, generator=g, dtype=dt).to(device)
    labels = torch.randint(0, 10, (5,), generator=g).to(device)
    target = encode_targets(labels, spec.target, dt)
    opt_m, opt_a = M.SGD(0.05, momentum=0.9), M.SGD(0.05, momentum=0.9)
    params_a = dict(auto.named_parameters())
    for step in range(4):
        value_m = man_loss.forward(man.forward(x), target)
        man.backward(man_loss.backward())
        grads_m = man.named_grads()
        for p in params_a.values():
            p.grad = None
        value_a = auto_loss(auto(x), target)
        value_a.backward()
        rows = [compare(spec.name, "loss", value_m, value_a.detach())]
        rows += [compare(spec.name, f"d{k}", grads_m[k], p.grad) for k, p in params_a.items()]
        worst = max(r.max_rel for r in rows)
        assert worst <= 1e-10, f"step {step}: " + "; ".join(
            f"{r.tensor} abs {r.max_abs:.1e} rel {r.max_rel:.1e}" for r in rows
        )
        opt_m.step(man.named_params(), grads_m)
        opt_a.step(
            {k: p.data for k, p in params_a.items()}, {k: p.grad for k, p in params_a.items()}
        )
    for k, p in params_a.items():
        r = compare(spec.name, k, man.named_params()[k], p.detach())
        assert r.max_rel <= 1e-10, f"{k} after 4 SGD steps: abs {r.max_abs:.1e} rel {r.max_rel:.1e}"
    assert float(value_m) < float(
        man_loss.forward(build(spec, "manual", seed=3, dtype=dt).forward(x.cpu()), target.cpu())
    )


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: M.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
        (
            lambda: M.SGD(0.1, momentum=0.9, weight_decay=0.01),
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        ),
        (lambda: M.Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
        (
            lambda: M.Adam(0.01, weight_decay=0.1, decoupled=True),
            lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
        ),
        (
            lambda: M.Adam(0.01, weight_decay=0.1),
            lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
        ),
    ],
    ids=["sgd", "momentum+wd", "adam", "adamw", "adam+l2"],
)
def test_optimizers_equal_torch_optim(ours, theirs):
    g = torch.Generator().manual_seed(0)
    w0 = {
        "a": torch.randn(3, 4, generator=g, dtype=torch.float64),
        "b": torch.randn(4, generator=g, dtype=torch.float64),
    }
    mine = {k: v.clone() for k, v in w0.items()}
    ref = {k: v.clone().requires_grad_(True) for k, v in w0.items()}
    opt, topt = ours(), theirs(list(ref.values()))
    for _ in range(5):
        grads = {k: torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in w0.items()}
        opt.step(mine, grads)
        for k, p in ref.items():
            p.grad = grads[k].clone()
        topt.step()
    for k in w0:
        assert torch.allclose(mine[k], ref[k].detach(), rtol=1e-12, atol=1e-14), k
        assert not torch.equal(mine[k], w0[k])


def test_schedules():
    assert schedules.InverseTime(0.5, 10)(0, 0) == 0.5
    assert schedules.InverseTime(0.5, 10)(0, 10) == pytest.approx(0.25)
    steps = schedules.Steps([(2, 5e-4), (3, 2e-4), (3, 1e-4), (4, 5e-5), (1, 1e-5)])
    assert [steps(e, 0) for e in (0, 1, 2, 4, 5, 8, 11, 12, 19)] == [
        5e-4,
        5e-4,
        2e-4,
        2e-4,
        1e-4,
        5e-5,
        5e-5,
        1e-5,
        1e-5,
    ]
    assert schedules.Cosine(1.0, 100)(0, 50) == pytest.approx(0.5)
    assert schedules.LinearDecay(1.0, 100)(0, 75) == pytest.approx(0.25)


def _logistic_net(sizes, seed):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [M.Linear(a, b), M.Sigmoid()]
    return M.Sequential(*layers).to(dtype=torch.float64)


def test_back_prop_learning_is_sgd_on_half_squared_error():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(6, 5, generator=g, dtype=torch.float64)
    Y = (torch.rand(6, 3, generator=g) > 0.5).double()
    a, b = _logistic_net([5, 4, 3, 3], 1), _logistic_net([5, 4, 3, 3], 1)
    alpha = 0.7
    M.back_prop_learning((X, Y), a, alpha, epochs=2)
    loss, opt = M.MSELoss("sum"), M.SGD(alpha / 2)
    for _ in range(2):
        for x, y in zip(X, Y):
            loss.forward(b.forward(x[None]), y[None])
            b.backward(loss.backward())
            opt.step(b.named_params(), b.named_grads())
    for k, w in a.named_params().items():
        assert torch.allclose(w, b.named_params()[k], rtol=1e-12, atol=1e-14), k


def test_back_prop_learning_solves_xor_where_one_unit_cannot():
    X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float64)
    Y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float64)
    # seed 0 reaches a global minimum (seed 2, say, stalls in a local one: the lecture's w_B)
    net = M.back_prop_learning((X, Y), _logistic_net([2, 2, 1], 0), alpha=2.0, epochs=3000)
    assert ((net.forward(X) > 0.5).double() == Y).all()
    single = M.back_prop_learning((X, Y), _logistic_net([2, 1], 0), alpha=2.0, epochs=3000)
    assert ((single.forward(X) > 0.5).double() == Y).sum() < 4


def test_back_prop_learning_rejects_other_networks():
    with pytest.raises(ValueError, match="Linear, Sigmoid"):
        M.back_prop_learning(
            (torch.zeros(1, 2), torch.zeros(1, 1)), M.Sequential(M.Linear(2, 1), M.ReLU()), 0.1
        )

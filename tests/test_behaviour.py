"""Checks of behaviour that small planted bugs used to slip past (issue: mutation testing):
dropout's backward, the per-update learning rates, the augmentations' distributions, the papers'
connection tables entry by entry, resume with dropout and augmentation, and network-level steps
against torch.optim on the autograd side."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lecnn import manual as M
from lecnn.models import build, build_loss, get_spec
from lecnn.models.tables import LENET5_C3, ZIP_H2
from lecnn.training import augment
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.engine import encode_targets
from lecnn.training.loop import Trainer, load_data

D = torch.float64

# -- dropout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout_backward_scales_by_the_kept_mask(p):
    layer = M.Dropout(p)
    x = torch.randn(4000, dtype=D) + 3.0  # no zeros: y / x recovers the mask
    y = layer.forward(x)
    mask = y / x
    kept = 1.0 / (1.0 - p)
    assert ((mask == 0) | ((mask - kept).abs() < 1e-12)).all()  # {0, 1/(1 − p)}
    assert abs((mask > 0).double().mean().item() - (1 - p)) < 0.03  # kept with probability 1 − p
    dy = torch.randn_like(x)
    assert torch.allclose(layer.backward(dy), dy * mask)
    layer.training = False
    assert torch.equal(layer.forward(x), x) and torch.equal(layer.backward(dy), dy)


def test_dropout_with_torchs_mask_equals_autograd_and_finite_differences():
    p, g = 0.25, torch.Generator().manual_seed(0)
    x = torch.randn(6, 9, generator=g, dtype=D, requires_grad=True)
    dy = torch.randn(6, 9, generator=g, dtype=D)
    torch.manual_seed(7)
    y_ref = F.dropout(x, p, training=True)
    y_ref.backward(dy)
    layer = M.Dropout(p)
    layer.forward(x.detach())
    layer.mask = (y_ref / x).detach()  # the fixed mask torch drew under the same seed
    assert torch.allclose(layer.backward(dy), x.grad, rtol=1e-12)

    def f(v: torch.Tensor) -> torch.Tensor:  # the layer with its RNG reseeded: a fixed mask
        torch.manual_seed(3)
        return (M.Dropout(p).forward(v) * dy).sum()

    torch.manual_seed(3)
    d = M.Dropout(p)
    d.forward(x.detach())
    dx = d.backward(dy)
    eps, fd = 1e-6, torch.zeros_like(dx)
    for i in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=D)
        e[i] = eps
        e = e.view_as(x)
        fd.view(-1)[i] = (f(x.detach() + e) - f(x.detach() - e)) / (2 * eps)
    assert torch.allclose(dx, fd, atol=1e-8)


# -- learning rates the loop actually used -----------------------------------------------------


@pytest.fixture(scope="module")
def data28(mnist_dir):
    return load_data(TrainConfig(data_dir=str(mnist_dir)), torch.device("cpu"), torch.float32)


def _rates(data, tmp_path, **kw) -> tuple[list[float], int]:
    cfg = TrainConfig(device="cpu", limit=640, batch_size=64, logdir=str(tmp_path), **kw)
    trainer = Trainer(cfg, data=data, progress_bar=False)
    rates: list[float] = []
    trainer.run(on_step=lambda step, loss: rates.append(trainer.setup.optimizer.lr))
    return rates, trainer.setup.batches


def test_cosine_rates_follow_the_global_step(data28, tmp_path):
    rates, per_pass = _rates(data28, tmp_path, epochs=3, lr=0.01, schedule="cosine")
    total = 3 * per_pass
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * t / total)) for t in range(total)]
    assert rates == pytest.approx(expected, rel=1e-12)  # no restart at each pass


def test_step_schedule_rates_change_by_pass(data28, tmp_path):
    rates, per_pass = _rates(data28, tmp_path, epochs=3, schedule="steps:1x0.02,1x0.005")
    assert rates == [0.02] * per_pass + [0.005] * (2 * per_pass)


# -- augmentations ---------------------------------------------------------------------------


def test_shift1_moves_pixels_by_each_of_the_nine_shifts():
    n, g = 2000, torch.Generator().manual_seed(0)
    x = torch.zeros(n, 1, 8, 8)
    x[:, 0, 3, 5] = 1.0
    x[:, 0, 6, 1] = 0.5  # a second pixel: the whole image moves together
    out = augment.random_shift(x, g)
    seen = set()
    for img, moved in zip(x, out):
        (r, c) = (moved[0] == 1.0).nonzero()[0].tolist()
        dy, dx = r - 3, c - 5
        assert dy in (-1, 0, 1) and dx in (-1, 0, 1)
        assert torch.equal(moved, torch.roll(img, (dy, dx), dims=(1, 2)))
        seen.add((dy, dx))
    assert len(seen) == 9


def test_affine_parameters_stay_in_range(monkeypatch):
    thetas = []
    real = F.affine_grid

    def spy(theta, size, align_corners):
        thetas.append(theta.clone())
        return real(theta, size, align_corners=align_corners)

    monkeypatch.setattr(augment.F, "affine_grid", spy)
    x = torch.rand(4000, 1, 28, 28, dtype=D)
    out = augment.random_affine(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    theta = thetas[0]
    a, t = theta[:, :, :2], theta[:, :, 2]
    angle = torch.atan2(a[:, 1, 0], a[:, 0, 0]) * 180 / math.pi
    det = torch.linalg.det(a)  # sx · sy
    assert angle.abs().max() <= 10 + 1e-9 and angle.abs().max() > 9.5
    assert t.abs().max() <= 0.2 + 1e-12 and t.abs().max() > 0.19
    assert det.min() >= 0.81 - 1e-9 and det.max() <= 1.21 + 1e-9
    assert len(torch.unique(angle)) == len(angle)  # each image its own map
    # undo the rotation: what is left is shear · scale = [[sx, sh·sy], [0, sy]]
    c, s = torch.cos(-angle * math.pi / 180), torch.sin(-angle * math.pi / 180)
    unrotate = torch.stack([torch.stack([c, -s], 1), torch.stack([s, c], 1)], 1)
    b = unrotate @ a
    assert b[:, 1, 0].abs().max() < 1e-9
    sx, sy, sh = b[:, 0, 0], b[:, 1, 1], b[:, 0, 1] / b[:, 1, 1]
    for scale in (sx, sy):
        assert scale.min() >= 0.9 - 1e-9 and scale.max() <= 1.1 + 1e-9
        assert scale.min() < 0.91 and scale.max() > 1.09
    assert sh.abs().max() <= 0.15 + 1e-9 and sh.min() < -0.14 and sh.max() > 0.14


# -- the papers' connection tables -----------------------------------------------------------

# LeCun et al. 1998, Table I as printed: rows are S2 maps 0-5, columns C3 maps 0-15
TABLE_I = """
X...XXX..XXXX.XX
XX...XXX..XXXX.X
XXX...XXX..X.XXX
.XXX..XXXX..X.XX
..XXX..XXXX.XX.X
...XXX..XXXX.XXX
"""


def test_c3_table_is_table_one_entry_by_entry():
    rows = TABLE_I.split()
    printed = torch.tensor([[c == "X" for c in row] for row in rows])
    assert torch.equal(LENET5_C3, printed.T)  # stored as [C3 map, S2 map]


def test_1989_h2_table_is_the_public_reproductions():
    """The 1989 paper says each H2 map sees 8 of the 12 H1 maps without listing them; the public
    reproduction uses three groups of four maps reading H1 0-7, 4-11 and 0-3 with 8-11."""
    groups = [set(range(0, 8)), set(range(4, 12)), {0, 1, 2, 3, 8, 9, 10, 11}]
    for out in range(12):
        assert set(ZIP_H2[out].nonzero().flatten().tolist()) == groups[out // 4]


# -- resume with dropout and augmentation ------------------------------------------------------


@pytest.fixture(scope="module")
def data16(mnist_dir):
    cfg = TrainConfig(model="lecun1989-modern", data_dir=str(mnist_dir))
    return load_data(cfg, torch.device("cpu"), torch.float32)


@pytest.mark.parametrize("batch", [1, 16], ids=["per-example", "batched"])
def test_resume_with_dropout_and_shifts_equals_straight_run(batch, data16, tmp_path):
    base = dict(
        model="lecun1989-modern", device="cpu", epochs=2, limit=160, batch_size=batch,
        deterministic=True,
    )  # fmt: skip
    cfg = TrainConfig(**base, logdir=str(tmp_path / "straight"))
    losses_a: list[float] = []
    t = Trainer(cfg, data=data16, progress_bar=False)
    t.run(on_step=lambda s, loss: losses_a.append(float(loss)))
    stop_at = 160 // batch + 3  # inside the second pass
    cfg = TrainConfig(**base, logdir=str(tmp_path / "resumed"))
    losses_b: list[float] = []
    t1 = Trainer(cfg, data=data16, progress_bar=False)
    r = t1.run(on_step=lambda s, loss: losses_b.append(float(loss)) or s == stop_at)
    assert r.status == "interrupted"
    t2 = Trainer(TrainConfig(), data=data16, resume=tmp_path / "resumed", progress_bar=False)
    t2.run(on_step=lambda s, loss: losses_b.append(float(loss)))
    assert losses_b == losses_a
    wa, wb = t.engine.state_dict(), t2.engine.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# -- network-level steps against torch.optim ---------------------------------------------------


@pytest.mark.parametrize(
    "model, optimizer, torch_optim",
    [
        ("lenet5-modern", "adam", lambda p, lr, wd: torch.optim.AdamW(p, lr, weight_decay=wd)),
        (
            "lecun1989",
            "momentum",
            lambda p, lr, wd: torch.optim.SGD(p, lr, momentum=0.9, weight_decay=wd),
        ),
        ("mlp", "sgd", lambda p, lr, wd: torch.optim.SGD(p, lr, weight_decay=wd)),
    ],
)
def test_manual_network_with_lecnn_optimizer_equals_autograd_with_torch_optim(
    model, optimizer, torch_optim, data28, data16
):
    spec = get_spec(model)
    data = data16 if spec.input == "zip16" else data28
    cfg = TrainConfig(model=model, optimizer=optimizer, weight_decay=0.01).resolved()
    net = build(spec, "manual", seed=0, dtype=D)
    twin = build(spec, "autograd", seed=0, dtype=D)
    loss_m, loss_a = build_loss(spec, "manual"), build_loss(spec, "autograd")
    opt_m = make_optimizer(cfg)
    opt_a = torch_optim(twin.parameters(), cfg.lr, 0.01)
    params = dict(twin.named_parameters())
    for i in range(20):
        x = data.train.x[i * 8 : (i + 1) * 8].to(D)
        t = encode_targets(data.train.y[i * 8 : (i + 1) * 8], spec.target, D)
        lm = loss_m.forward(net.forward(x), t)
        net.backward(loss_m.backward())
        opt_m.step(net.named_params(), net.named_grads())
        opt_a.zero_grad()
        la = loss_a(twin(x), t)
        la.backward()
        opt_a.step()
        assert float(lm) == pytest.approx(float(la.detach()), rel=1e-9)
    for k, w in net.named_params().items():
        assert torch.allclose(w, params[k].detach(), rtol=1e-9, atol=1e-12), k


# -- lecnn gradcheck: every piece of hand-written math -----------------------------------------


def test_gradcheck_rows_cover_curvature_and_optimizers_and_fail_on_a_bug(monkeypatch, capsys):
    from lecnn.cli import main

    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for row in ("curvature conv-tanh-conv", "curvature subsampling", "optimizer AdamW"):
        assert row in out
    assert "0 failed" in out.splitlines()[-1]

    real = M.Conv2d.backward_curvature
    monkeypatch.setattr(M.Conv2d, "backward_curvature", lambda *a: real(*a) * 1.5)
    assert main(["gradcheck"]) == 1
    assert "FAIL" in capsys.readouterr().out

    monkeypatch.undo()
    real_step = M.Adam.step

    def perturbed_step(self, params, grads):
        real_step(self, params, grads)
        for w in params.values():
            w.mul_(1 + 1e-6)

    monkeypatch.setattr(M.Adam, "step", perturbed_step)
    assert main(["gradcheck"]) == 1
    fails = [line for line in capsys.readouterr().out.splitlines() if "FAIL" in line]
    assert fails and all(line.startswith("optimizer Adam") for line in fails)

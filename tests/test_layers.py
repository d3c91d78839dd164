"""Every hand-written layer and loss against autograd, finite differences and gradcheck."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import DEVICES
from torch.utils._python_dispatch import TorchDispatchMode

from lecnn.checks import parity
from lecnn.manual import Conv2d, MaxPool2d, ReLU
from lecnn.manual.conv import KERNELS_FROM, METHODS
from lecnn.models import MODELS, get_spec
from lecnn.models.build import INPUT_SIZE
from lecnn.training.engine import encode_targets, make_engine

TOL = 1e-10
LAYERS = parity.layer_cases()
LOSSES = parity.loss_cases()


def finite_difference(
    f: Callable[[], torch.Tensor], t: torch.Tensor, idx: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Central differences ``(f(t + ε e_i) − f(t − ε e_i)) / 2ε`` of scalar ``f`` at flat indices."""
    flat = t.view(-1)
    out = torch.empty(len(idx), dtype=torch.float64)
    for n, i in enumerate(idx.tolist()):
        old = flat[i].item()
        flat[i] = old + eps
        plus = f().item()
        flat[i] = old - eps
        minus = f().item()
        flat[i] = old
        out[n] = (plus - minus) / (2 * eps)
    return out


def layer_finite_difference(
    case: parity.LayerCase, seed: int = 0, coords: int = 24
) -> list[parity.Row]:
    """Hand-written gradients of ``L = Σ y·dy`` against central differences (float64, CPU), on up to
    ``coords`` random coordinates of the input and of each parameter."""
    layer, _ = parity.build_pair(case, "cpu", torch.float64, seed)
    g = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(case.shape, generator=g, dtype=torch.float64)
    dy = torch.randn(layer.forward(x).shape, generator=g, dtype=torch.float64)
    dx = layer.backward(dy)
    analytic = {"dx": (x, dx), **{f"d{k}": (layer.params[k], layer.grads[k]) for k in layer.params}}

    def loss() -> torch.Tensor:
        return (layer.forward(x) * dy).sum()

    rows = []
    for name, (t, grad) in analytic.items():
        idx = torch.randperm(t.numel(), generator=g)[:coords]
        numeric = finite_difference(loss, t, idx)
        assert grad is not None, f"{case.name}: no gradient for {name}"
        rows.append(
            parity.compare(case.name, f"{name} vs FD", grad.reshape(-1)[idx].double(), numeric)
        )
    return rows


def _assert_rows(rows, tol=TOL):
    worst = max(rows, key=lambda r: r.max_rel)
    report = "; ".join(f"{r.tensor}: abs {r.max_abs:.2e} rel {r.max_rel:.2e}" for r in rows)
    assert worst.max_rel <= tol, f"{worst.case}: {report}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", LAYERS, ids=[c.name for c in LAYERS])
def test_layer_matches_autograd(case, device):
    rows = parity.layer_parity(case, device, torch.float64)
    assert {r.tensor for r in rows} >= {"y", "dx"}
    _assert_rows(rows)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", LOSSES, ids=[c.name for c in LOSSES])
def test_loss_matches_autograd(case, device):
    _assert_rows(parity.loss_parity(case, device, torch.float64))


@pytest.mark.parametrize("case", LAYERS, ids=[c.name for c in LAYERS])
def test_layer_finite_differences(case):
    _assert_rows(layer_finite_difference(case), tol=1e-6)


@pytest.mark.parametrize("case", LAYERS, ids=[c.name for c in LAYERS])
def test_layer_gradcheck_through_bridge(case):
    assert parity.layer_gradcheck(case)


@pytest.mark.parametrize("case", LOSSES, ids=[c.name for c in LOSSES])
def test_loss_gradcheck_through_bridge(case):
    assert parity.loss_gradcheck(case)


def test_parity_detects_a_wrong_gradient():
    """The comparison can fail: a ReLU whose backward lets gradient through at 0 is caught."""

    class LeakyAtZero(ReLU):
        def backward(self, dy):
            return dy * ((self.active > 0) | (self.x_in == 0))

        def forward(self, x):
            self.x_in = x
            return super().forward(x)

    case = next(c for c in LAYERS if c.name == "ReLU")
    case = parity.LayerCase("ReLU/wrong", LeakyAtZero, case.twin, case.shape, case.kink_input)
    rows = parity.layer_parity(case)
    assert max(r.max_rel for r in rows) > 0.1


CONV_CONFIGS = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=2, padding=1),
    dict(
        in_channels=1,
        out_channels=4,
        kernel_size=5,
        stride=2,
        padding=2,
        pad_value=-1.0,
        bias="unit",
        input_size=(9, 9),
    ),
    dict(in_channels=6, out_channels=16, kernel_size=5, connection_table=parity.LENET5_C3),
]


@pytest.mark.parametrize("col2im", ["fold", "taps"])
@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=range(len(CONV_CONFIGS)))
def test_loop_and_unfold_convolutions_agree(cfg, col2im):
    torch.manual_seed(0)
    fast = Conv2d(**cfg, method="unfold").to(dtype=torch.float64)
    fast.col2im_taps_from = 0 if col2im == "taps" else 1 << 62
    slow = Conv2d(**cfg, method="loop").to(dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    parity.randomize(fast, g)
    slow.load_state_dict(fast.state_dict())
    size = cfg.get("input_size", (9, 9))
    x = torch.randn(2, cfg["in_channels"], *size, dtype=torch.float64)
    y_fast, y_slow = fast.forward(x), slow.forward(x)
    dy = torch.randn_like(y_fast)
    dx_fast, dx_slow = fast.backward(dy), slow.backward(dy)
    rows = [
        parity.compare("conv", "y", y_slow, y_fast),
        parity.compare("conv", "dx", dx_slow, dx_fast),
        *(parity.compare("conv", f"d{k}", slow.grads[k], fast.grads[k]) for k in fast.grads),
    ]
    _assert_rows(rows, tol=1e-12)


def test_relu_gradient_at_exact_zero_follows_pytorch():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    layer = ReLU()
    layer.forward(x)
    dx = layer.backward(torch.ones(3, dtype=torch.float64))
    xt = x.clone().requires_grad_(True)
    torch.relu(xt).sum().backward()
    assert dx.tolist() == xt.grad.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("method", MaxPool2d.METHODS)
def test_maxpool_tie_goes_to_first_in_row_major_order(method):
    x = torch.tensor([[[[1.0, 3.0], [3.0, 3.0]]]], dtype=torch.float64)
    layer = MaxPool2d(2, method=method)
    layer.forward(x)
    dx = layer.backward(torch.ones(1, 1, 1, 1, dtype=torch.float64))
    xt = x.clone().requires_grad_(True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    assert dx.flatten().tolist() == xt.grad.flatten().tolist() == [0.0, 1.0, 0.0, 0.0]


def test_gradcheck_command_prints_table_and_passes(capsys):
    from lecnn.cli import main

    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "Conv2d/table(LeNet-5 C3)" in out and "max rel err" in out
    assert " FAIL" not in out and " 0 failed" in out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "cfg",
    [*CONV_CONFIGS, dict(in_channels=2, out_channels=3, kernel_size=3, stride=2)],  # odd rest
    ids=range(len(CONV_CONFIGS) + 1),
)
def test_three_convolution_backwards_agree(cfg, device):
    """loop (the equations), im2col and the framework's convolution kernels (dx a transposed
    convolution, dw a correlation): outputs and gradients within 1e-12 in float64."""
    layers = {m: Conv2d(**cfg, method=m).to(device=device, dtype=torch.float64) for m in METHODS}
    parity.randomize(layers["loop"], torch.Generator().manual_seed(1))
    for layer in layers.values():
        layer.load_state_dict(layers["loop"].state_dict())
    size = cfg.get("input_size", (9, 10))
    x = torch.randn(3, cfg["in_channels"], *size, dtype=torch.float64, device=device)
    ys = {m: layer.forward(x) for m, layer in layers.items()}
    dy = torch.randn_like(ys["loop"])
    dxs = {m: layer.backward(dy) for m, layer in layers.items()}
    for m in ("unfold", "conv"):
        for name, got, ref in [
            ("y", ys[m], ys["loop"]),
            ("dx", dxs[m], dxs["loop"]),
            *[(f"d{k}", layers[m].grads[k], layers["loop"].grads[k]) for k in layers[m].grads],
        ]:
            row = parity.compare(m, name, got, ref)
            assert row.max_rel < 1e-12, row


@pytest.mark.parametrize("batch", [1, KERNELS_FROM])
def test_auto_convolution_picks_by_batch_and_agrees(batch):
    """``method="auto"``: im2col for a few examples, the framework's kernels for many; the same
    sums as the loop either way, and the backward uses the method its forward used."""
    cfg = CONV_CONFIGS[0]
    auto = Conv2d(**cfg).to(dtype=torch.float64)
    loop = Conv2d(**cfg, method="loop").to(dtype=torch.float64)
    parity.randomize(loop, torch.Generator().manual_seed(2))
    auto.load_state_dict(loop.state_dict())
    x = torch.randn(batch, cfg["in_channels"], *cfg.get("input_size", (9, 10)), dtype=torch.float64)
    y, y_ref = auto.forward(x), loop.forward(x)
    assert auto.method == "auto" and auto.used == ("conv" if batch >= KERNELS_FROM else "unfold")
    dy = torch.randn_like(y)
    dx, dx_ref = auto.backward(dy), loop.backward(dy)
    for name, got, ref in [
        ("y", y, y_ref),
        ("dx", dx, dx_ref),
        ("dweight", auto.grads["weight"], loop.grads["weight"]),
    ]:
        row = parity.compare("auto", name, got, ref)
        assert row.max_rel < 1e-12, row


class Recorded(TorchDispatchMode):
    """Every operator the framework runs while the mode is on, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(str(func.overloadpacket.__name__))
        return func(*args, **(kwargs or {}))


def test_the_recorder_sees_a_derivative_kernel():
    """What the next test relies on: autograd's own backward shows up in the recorded ops."""
    x = torch.randn(2, 1, 8, 8, requires_grad=True)
    with Recorded() as seen:
        torch.nn.functional.conv2d(x, torch.randn(3, 1, 3, 3)).relu().sum().backward()
    assert {"convolution_backward", "threshold_backward"} <= seen.ops


@pytest.mark.parametrize("model", list(MODELS))
def test_a_manual_update_runs_no_derivative_kernel(model):
    """One manual update and one curvature pass of every model, per example and batched (the
    convolution's im2col and framework-op forms), both layouts: every operator the framework ran
    is a forward one — nothing named ``*_backward``, no autograd graph."""
    spec = get_spec(model)
    side = INPUT_SIZE[spec.input]
    for batch, channels_last in ((1, False), (64, False), (64, True)):
        engine = make_engine(spec, "manual", seed=0, device=torch.device("cpu"),
                             channels_last=channels_last)  # fmt: skip
        g = torch.Generator().manual_seed(0)
        x = torch.rand(batch, 1, side, side, generator=g)
        y = torch.randint(0, 10, (batch,), generator=g)
        target = encode_targets(y, spec.target, x.dtype)
        with Recorded() as seen:
            loss, out = engine.train_step(x, target)
            engine.curvature(x, target)
        assert not [op for op in seen.ops if "backward" in op], (model, batch, seen.ops)
        assert loss.grad_fn is None and out.grad_fn is None
        assert {"mm", "addmm", "convolution"} & seen.ops  # the recorder saw the layers' work

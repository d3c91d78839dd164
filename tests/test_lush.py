"""LeNet-5 as its authors' own code trains it (``lenet5-lush``, ``lecnn reproduce lenet5
--variant authors-code``), checked piece by piece against what the code does: barak/lush
packages/gblearn2 (net-lenet5.lsh, net-cscscf.lsh, gb-modules-nn.lsh, gb-modules.lsh,
gb-trainers.lsh, gb-params.lsh, demos/lenet5.lsh, demos/dsource-mnist.lsh) and the QMNIST
authors' schedule (facebookresearch/qmnist making_qmnist/lenet5.lsh.patch)."""

from __future__ import annotations

import math

import pytest
import torch

from lecnn import manual as M
from lecnn.data import load_mnist, prepare
from lecnn.manual.hessian import diagonal_hessian
from lecnn.models import LENET5_C3, build, count, get_spec
from lecnn.models.build import build_loss
from lecnn.repro.protocols import PROTOCOLS
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.engine import encode_targets

D = torch.float64
SPEC = get_spec("lenet5-lush")


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return load_mnist(str(mnist_dir))


def test_the_network_has_the_codes_51046_parameters_and_no_f6_or_rbf():
    """net-cscscf: C1, S2, C3, S4, C5 and one full layer to the 10 outputs; 156 + 12 + 1,516 +
    32 + 48,120 + 1,210 parameters."""
    assert count(SPEC).parameters == 51_046
    auto = build(SPEC, "autograd", seed=0)
    unconnected = int((~torch.as_tensor(LENET5_C3)).sum()) * 25  # C3's, held at 0: 90 × 5×5
    assert sum(p.numel() for p in auto.parameters()) - unconnected == 51_046
    kinds = [layer.kind for layer in SPEC.layers]
    assert "rbf" not in kinds and kinds.count("linear") == 1
    # the squashing function after every layer with weights, subsampling and output included
    weighted = [i for i, layer in enumerate(SPEC.layers) if layer.name]
    assert all(SPEC.layers[i + 1].kind == "scaled_tanh" for i in weighted)
    assert SPEC.layers[-1].kind == "scaled_tanh"


def test_the_input_field_is_the_digit_at_two_two_in_zeros_times_a_hundredth(digits):
    """dsource-mnist with bias 0 and coefficient 0.01: 0 background, 2.55 for a white pixel."""
    x = prepare(digits, "lush32").train.x[:50]
    raw = digits.train_images[:50].double()
    assert x.shape == (50, 1, 32, 32)
    torch.testing.assert_close(x[:, 0, 2:30, 2:30].double(), raw * 0.01, rtol=0, atol=1e-6)
    field = x.clone()
    field[:, :, 2:30, 2:30] = 0
    assert torch.count_nonzero(field) == 0  # the margin is 0
    assert x.min() == 0 and x.max() == pytest.approx(2.55)


def test_initial_weights_are_uniform_over_one_over_root_fan_in_per_map():
    """forget 1 2: U(±1/√F) with F the map's fan-in (C1 25: ±0.2; C3 75/100/150 for maps
    reading 3/4/6 maps: ±0.115/±0.1/±0.082; C5 400: ±0.05; output 120), biases 0, the
    subsampling coefficients 0.5."""
    net = build(SPEC, "manual", seed=0)
    params = net.named_params()
    connected = torch.as_tensor(LENET5_C3).sum(1)
    bounds = {
        "0.weight": torch.full((6,), 1 / 5.0),
        "4.weight": 1 / (25.0 * connected).sqrt(),
        "8.weight": torch.full((120,), 1 / 20.0),
        "11.weight": torch.full((10,), 1 / math.sqrt(120)),
    }
    assert sorted({round(float(b), 3) for b in bounds["4.weight"]}) == [0.082, 0.1, 0.115]
    for name, bound in bounds.items():
        w = params[name].abs().flatten(1).max(1).values
        assert torch.all(w <= bound + 1e-7), name
        assert torch.all(w >= 0.8 * bound), name  # the draws reach near the bound in every map
    for name in ("0.bias", "4.bias", "8.bias", "11.bias", "2.bias", "6.bias"):
        assert torch.count_nonzero(params[name]) == 0, name
    assert torch.all(params["2.weight"] == 0.5) and torch.all(params["6.weight"] == 0.5)


def test_the_cost_is_half_the_squared_distance_with_curvature_one():
    """edist-cost: ½‖out − t‖²; its bbprop sets the outputs' second derivative to 1."""
    loss = build_loss(SPEC, "manual")
    g = torch.Generator().manual_seed(0)
    out, t = torch.randn(3, 10, generator=g, dtype=D), torch.randn(3, 10, generator=g, dtype=D)
    assert float(loss.forward(out, t)) == pytest.approx(0.5 * float(((out - t) ** 2).sum()))
    torch.testing.assert_close(loss.backward(), out - t)
    assert torch.all(loss.curvature() == 1)
    targets = encode_targets(torch.tensor([3]), SPEC.target, D)
    assert targets[0, 3] == 1 and (targets[0].sum() == -8)  # +1 for the label, −1 elsewhere


def _net_and_batch(digits, n: int, seed: int = 0):
    net = build(SPEC, "manual", seed=seed, dtype=D)
    data = prepare(digits, "lush32", dtype=D).train
    return net, data.x[:n], encode_targets(data.y[:n], SPEC.target, D)


def test_the_output_layers_curvature_is_the_exact_gauss_newton_diagonal(digits):
    """For the last layer the diagonal Gauss–Newton term is exact: each weight reaches one output,
    ∂²E/∂w_kj² ≈ Σ_n (f'(s_k) a_j)² · 1 (the squasher's bbprop squares f', gb-modules.lsh:380)."""
    net, x, t = _net_and_batch(digits, 7)
    hess = diagonal_hessian(net, build_loss(SPEC, "manual"), x, t, per_example=True)
    auto = build(SPEC, "autograd", seed=0, dtype=D)
    auto.load_state_dict(net.state_dict())
    w, b = auto[11].weight, auto[11].bias
    exact_w, exact_b = torch.zeros_like(w), torch.zeros_like(b)
    for xn in x:
        out = auto(xn.unsqueeze(0))[0]
        for k in range(10):  # the Gauss–Newton diagonal: Σ_k (∂out_k/∂w)², the cost's H = I
            gw, gb = torch.autograd.grad(out[k], (w, b), retain_graph=True)
            exact_w += gw * gw
            exact_b += gb * gb
    torch.testing.assert_close(hess["11.weight"], exact_w / len(x), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(hess["11.bias"], exact_b / len(x), rtol=1e-10, atol=1e-14)


def test_the_batched_curvature_is_the_codes_example_by_example_average(digits):
    """compute-diaghessian adds ddx/n example by example (gb-trainers.lsh:261–273); lecnn runs
    the n examples as one batch: the same average."""
    net, x, t = _net_and_batch(digits, 6)
    loss = build_loss(SPEC, "manual")
    batched = diagonal_hessian(net, loss, x, t, per_example=True)
    single = [diagonal_hessian(net, loss, x[i : i + 1], t[i : i + 1]) for i in range(6)]
    for k, h in batched.items():
        torch.testing.assert_close(h, sum(s[k] for s in single) / 6, rtol=1e-12, atol=1e-15)


def test_the_steps_lie_between_one_over_max_h_plus_mu_and_one_over_mu(digits):
    """ε = 1/(h + μ) (compute-epsilons, gb-params.lsh:434), μ = 0.02: within [1/(max h + μ),
    1/μ] for every parameter, on the curvature of the first 100 training digits."""
    net, x, t = _net_and_batch(digits, 100)
    hess = diagonal_hessian(net, build_loss(SPEC, "manual"), x, t, per_example=True)
    opt = make_optimizer(TrainConfig(model="lenet5-lush").resolved())
    assert isinstance(opt, M.SDLM) and opt.mu == 0.02 and opt.samples == 1000 and opt.every == 10
    opt.set_hessian(hess)
    eps = torch.cat([opt.state[k]["scale"].flatten() for k in hess])
    h_max = max(float(h.max()) for h in hess.values())
    assert float(eps.min()) >= 1 / (h_max + 0.02) * (1 - 1e-12)
    assert float(eps.max()) <= 1 / 0.02 * (1 + 1e-12)


def test_the_curvature_is_estimated_before_each_set_of_ten_passes():
    """do-mnist: for each η, compute-diaghessian, then 10 passes (lenet5.lsh.patch)."""
    estimates = []

    def curvature():
        estimates.append(1)
        return {"w": torch.ones(2, dtype=D)}

    opt = M.SDLM(1e-4, samples=1000, every=10)
    for epoch in range(30):
        opt.start_pass(curvature, fresh=True, epoch=epoch)
    assert len(estimates) == 3
    opt.start_pass(curvature, fresh=False, epoch=13)  # resumed mid-set with its estimate: kept
    assert len(estimates) == 3


def test_the_protocol_is_the_codes_schedule_in_file_order():
    proto = PROTOCOLS["lenet5/authors-code"]
    cfg = TrainConfig(**proto.config).resolved()
    assert (cfg.model, cfg.batch_size, cfg.epochs, cfg.order) == ("lenet5-lush", 1, 30, "fixed")
    assert cfg.schedule == "steps:10x0.0001,10x0.00001,10x0.000001" and not cfg.augment
    assert proto.published[0].test_error == 0.0082
    assert any("generator" in d for d in proto.departures)


def test_each_option_takes_one_of_the_paper_protocols_choices_instead_of_the_codes():
    from lecnn.errors import LecnnError

    code = get_spec("lenet5-lush")
    assert (code.input, code.init) == ("lush32", "lush")
    assert get_spec("lenet5-lush:input=lenet32").input == "lenet32"
    assert get_spec("lenet5-lush:init=sqrt").init == "lenet5"  # U(±2.4/√F)
    mean = get_spec("lenet5-lush:subsampling=mean,coefficient=1")
    s2 = next(layer for layer in mean.layers if layer.name == "S2")
    assert s2.kwargs["mode"] == "mean" and s2.kwargs["coefficient"] == 1.0
    s2_code = next(layer for layer in code.layers if layer.name == "S2")
    assert s2_code.kwargs["mode"] == "sum" and s2_code.kwargs["coefficient"] == 0.5
    # one option changes one thing: the rest of the network is the code's
    for name in ("lenet5-lush:input=lenet32", "lenet5-lush:init=sqrt"):
        assert get_spec(name).layers == code.layers and count(name).parameters == 51046
    with pytest.raises(LecnnError, match="choose lush32 or lenet32"):
        get_spec("lenet5-lush:input=zip16")

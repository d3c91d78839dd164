"""Architectures: the papers' sizes, and state dicts that interchange between implementations."""

from __future__ import annotations

import pytest
import torch

from lecnn.errors import LecnnError
from lecnn.models import LENET5_C3, MODELS, ZIP_H2, build, count, get_spec, rbf_prototypes
from lecnn.models.build import INPUT_SIZE
from lecnn.models.losses import LOSSES, make_loss, sums_examples
from lecnn.models.tables import LENET1_C3, LENET4_C3


def test_lecun1989_matches_the_paper():
    c = count("lecun1989")
    assert (c.units, c.parameters, c.connections) == (1256, 9760, 64660)


def test_lenet5_matches_the_paper():
    c = count("lenet5")
    assert c.parameters == 60000
    assert c.connections == 340908  # the paper's figure, RBF layer included


def test_lenet1_matches_the_papers_counts():
    # LeCun et al. 1990: 98,442 connections and 2,578 independent parameters (4,635 units there,
    # one more than counted here: the paper does not say what it counted as a unit)
    c = count("lenet1")
    assert (c.parameters, c.connections) == (2578, 98442)


def test_lenet4_has_the_papers_connections_and_layout():
    # LeCun et al. 1998: "about 260,000 connections"; its "about 17,000 free parameters" cannot
    # hold with a 120-unit layer fully connected to 16 maps of 5×5 (48,120 weights alone)
    c = count("lenet4")
    assert abs(c.connections - 260_000) < 5_000 and c.parameters == 50698
    net = build("lenet4", "autograd", seed=0)
    x = torch.randn(1, 1, 32, 32)
    shapes = []
    for layer in net:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[0] == (4, 28, 28) and shapes[2] == (8, 14, 14) and shapes[4] == (16, 10, 10)
    assert shapes[6] == (16, 5, 5) and shapes[9] == (120,) and shapes[-1] == (10,)


def test_lenet5_trainable_tensors_are_60000_connected_weights():
    net = build("lenet5", "autograd", seed=0)
    masked = net[4].mask.sum().item()  # C3: only connected kernels are free
    total = sum(p.numel() for p in net.parameters()) - (net[4].weight.numel() - masked)
    assert total == 60000
    assert sum(b.numel() for n, b in net.named_buffers() if n.endswith("weight")) == 840


def test_connection_tables():
    assert LENET5_C3.shape == (16, 6) and LENET5_C3.sum() == 60
    assert LENET5_C3.sum(1).tolist() == [3] * 6 + [4] * 9 + [6]
    assert ZIP_H2.shape == (12, 12) and ZIP_H2.sum(1).tolist() == [8] * 12
    assert LENET1_C3.shape == (12, 4) and LENET1_C3.sum(1).tolist() == [1] * 4 + [2] * 8
    assert LENET1_C3.sum(0).tolist() == [5, 5, 5, 5]  # every S2 map read by five C3 maps
    assert LENET4_C3.shape == (16, 8) and LENET4_C3.sum(1).tolist() == [3] * 16
    assert LENET4_C3.sum(0).tolist() == [6] * 8


def test_rbf_prototypes_are_distinct_pm1_bitmaps():
    p = rbf_prototypes()
    assert p.shape == (10, 84) and set(p.unique().tolist()) == {-1.0, 1.0}
    d = torch.cdist(p, p) + torch.eye(10) * 1e9
    assert d.min() > 2.0


def _eval(net):
    """Dropout off, as in evaluation."""
    for layer in net.layers:
        layer.training = False
    return net


@pytest.mark.parametrize("name", list(MODELS))
def test_state_dicts_interchange_both_ways(name):
    size = INPUT_SIZE[get_spec(name).input]
    x = torch.randn(4, 1, size, size, dtype=torch.float64)
    manual = _eval(build(name, "manual", seed=1, dtype=torch.float64))
    auto = build(name, "autograd", seed=2, dtype=torch.float64).eval()  # different weights
    assert not torch.allclose(manual.forward(x), auto(x).detach())
    auto.load_state_dict(manual.state_dict())
    assert torch.allclose(manual.forward(x), auto(x).detach(), rtol=1e-12, atol=1e-12)
    other = _eval(build(name, "manual", seed=3, dtype=torch.float64))
    other.load_state_dict(auto.state_dict())
    assert torch.allclose(other.forward(x), auto(x).detach(), rtol=1e-12, atol=1e-12)


def test_same_seed_same_initial_weights_across_implementations():
    m, a = build("lenet5", "manual", seed=7), build("lenet5", "autograd", seed=7)
    for k, v in a.state_dict().items():
        assert torch.equal(m.state_dict()[k], v), k


def test_lecun1989_init_bounds():
    net = build("lecun1989", "manual", seed=0)
    h3 = net.layers[5].params["weight"]  # fan-in 192
    assert h3.abs().max() <= 2.4 / 192**0.5 and h3.abs().max() > 0.8 * 2.4 / 192**0.5
    assert torch.all(net.layers[2].params["weight"][~net.layers[2].mask.bool()] == 0)


def test_unknown_model():
    with pytest.raises(LecnnError, match="unknown model"):
        get_spec("alexnet")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_each_loss_states_its_reduction_once_and_both_forms_follow_it(name):
    """``sums_examples`` (read off the manual loss) is what both implementations do: a batch
    given twice doubles a summed loss and leaves an averaged one as it was."""
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(5, 10, generator=g, dtype=torch.float64)
    if name in ("cross-entropy", "rbf"):
        target = torch.randint(0, 10, (5,), generator=g)
    else:
        target = torch.rand(5, 10, generator=g, dtype=torch.float64)
    twice = (torch.cat([pred, pred]), torch.cat([target, target]))
    for impl in ("manual", "autograd"):
        one, two = make_loss(name, impl)(pred, target), make_loss(name, impl)(*twice)
        ratio = float(two / one)
        assert ratio == pytest.approx(2.0 if sums_examples(name) else 1.0), (impl, ratio)
    for spec in MODELS.values():
        assert spec.sums_examples == sums_examples(spec.loss)

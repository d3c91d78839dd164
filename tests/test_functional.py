"""A manual network called with given parameters (``lecnn.manual.functional``): the same numbers
as the network holding them, the network left exactly as it was, and ``torch.func.vmap`` over
stacked parameters equal to a loop over them (what training many runs as one needs)."""

from __future__ import annotations

import pytest
import torch

from lecnn import manual as M
from lecnn.models import build, build_loss, get_spec
from lecnn.models.build import INPUT_SIZE
from lecnn.training.engine import encode_targets

D = torch.float64
MODELS = ["mlp", "lecun1989", "lenet5-modern", "lenet5"]


def _batch(name: str, n: int, seed: int):
    spec = get_spec(name)
    size = INPUT_SIZE[spec.input]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, size, size, generator=g, dtype=D)
    y = torch.randint(0, 10, (n,), generator=g)
    return x, encode_targets(y, spec.target, D)


def _others(net: M.Sequential, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        k: v + 0.05 * torch.randn(v.shape, generator=g, dtype=D)
        for k, v in net.named_params().items()
    }


@pytest.mark.parametrize("name", MODELS)
def test_functional_grads_equal_the_network_holding_those_parameters(name):
    spec = get_spec(name)
    net, loss = build(name, "manual", seed=0, dtype=D), build_loss(spec, "manual")
    own = {k: v.clone() for k, v in net.named_params().items()}
    params = _others(net, 1)
    x, t = _batch(name, 5, 2)
    value, out, grads = M.functional_grads(net, loss, params, x, t)
    # the network is back as it was: its own parameters, no caches of the call
    assert all(torch.equal(own[k], v) for k, v in net.named_params().items())
    assert not any(hasattr(layer, "a") for layer in net.walk() if isinstance(layer, M.Linear))
    # the same pass with the network holding ``params``
    held = build(name, "manual", seed=0, dtype=D)
    held.load_state_dict({**held.state_dict(), **params})
    ref = loss.forward(held.forward(x), t)
    held.backward(loss.backward())
    assert torch.equal(value, ref) and torch.equal(out, held.forward(x))
    ref_grads = held.named_grads()
    assert set(grads) == set(params)
    assert all(torch.equal(grads[k], ref_grads[k]) for k in grads)
    assert torch.equal(M.functional_call(net, params, x), out)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.filterwarnings("ignore:There is a performance drop")  # max-pool's scatter_ under vmap
def test_vmap_over_stacked_parameters_equals_a_loop(name):
    spec = get_spec(name)
    net, loss = build(name, "manual", seed=0, dtype=D), build_loss(spec, "manual")
    runs = [_others(net, s) for s in range(3)]
    stacked = {k: torch.stack([r[k] for r in runs]) for k in runs[0]}
    batches = [_batch(name, 4, 10 + s) for s in range(3)]
    xs, ts = torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])

    def step(p, x, t):
        return M.functional_grads(net, loss, p, x, t)

    values, _, grads = torch.func.vmap(step)(stacked, xs, ts)
    for i, r in enumerate(runs):
        v, _, g = step(r, xs[i], ts[i])
        assert (values[i] - v).abs().item() <= 1e-12 * abs(v.item())
        for k in g:
            rel = (grads[k][i] - g[k]).abs().max() / g[k].abs().max().clamp(min=1e-300)
            assert rel.item() < 1e-10, (k, rel.item())


def test_parameters_that_do_not_fit_are_refused_and_the_network_kept():
    net = build("mlp", "manual", seed=0, dtype=D)
    own = net.named_params()
    params = dict(own)
    params.pop("1.bias")
    with pytest.raises(KeyError, match=r"missing \['1.bias'\]"):
        M.functional_call(net, params, torch.zeros(1, 1, 28, 28, dtype=D))
    assert net.named_params().keys() == own.keys()

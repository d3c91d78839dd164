"""Runs trained as one group (``lecnn.training.group``) take the steps they take alone: real
MNIST, float64, three seeds with their own initial weights and their own data order, SGD and Adam,
both implementations — every update's loss and the final weights within 1e-10 relative."""

from __future__ import annotations

import pytest
import torch

from lecnn.data import make_generator, pass_order
from lecnn.models import get_spec
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.engine import encode_targets, make_engine
from lecnn.training.group import GroupStep, stack, unstack
from lecnn.training.setup import load_data

CPU, D = torch.device("cpu"), torch.float64
SEEDS, UPDATES = (0, 1, 2), 15


@pytest.fixture(scope="module")
def data(mnist_dir):
    out = {}
    for model in ("lecun1989", "lenet5-modern"):
        cfg = TrainConfig(model=model, data_dir=str(mnist_dir))
        out[model] = load_data(cfg, CPU, D)
    return out


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # max-pool's scatter_ under vmap
@pytest.mark.parametrize("impl", ["manual", "autograd"])
@pytest.mark.parametrize(
    "model, settings",
    [("lecun1989", {"batch_size": 1}), ("lenet5-modern", {"batch_size": 8, "lr": 3e-3})],
    ids=["lecun1989-sgd", "lenet5-modern-adam"],
)
def test_a_run_in_a_group_takes_the_steps_it_takes_alone(model, settings, impl, data):
    spec = get_spec(model)
    cfg = TrainConfig(model=model, **settings).resolved()
    train, bs = data[model].train, cfg.batch_size
    targets = encode_targets(train.y, spec.target, D)
    orders = [pass_order(len(train), device=CPU, generator=make_generator(CPU, s)) for s in SEEDS]

    def batch(run: int, step: int):
        idx = orders[run][step * bs : (step + 1) * bs]
        return train.x[idx], targets[idx]

    solo_losses, solo_weights = [], []
    for run, seed in enumerate(SEEDS):
        engine = make_engine(spec, impl, seed=seed, device=CPU, dtype=D)
        opt, losses = make_optimizer(cfg), []
        for step in range(UPDATES):
            loss, _ = engine.train_step(*batch(run, step))
            opt.step(engine.params(), engine.grads())
            losses.append(float(loss))
        solo_losses.append(losses)
        solo_weights.append({k: v.clone() for k, v in engine.params().items()})

    starts = [make_engine(spec, impl, seed=s, device=CPU, dtype=D).params() for s in SEEDS]
    params = {k: v.clone() for k, v in stack(starts).items()}
    template = make_engine(spec, impl, seed=0, device=CPU, dtype=D)  # lends its network
    step_all, opt = GroupStep(template), make_optimizer(cfg)
    group_losses = []
    for step in range(UPDATES):
        xs, ts = (torch.stack(parts) for parts in zip(*(batch(r, step) for r in range(3))))
        values, outs, grads = step_all(params, xs, ts)
        opt.step(params, grads)  # the optimizer's own code, on the stacked tensors
        group_losses.append(values.tolist())
        assert outs.shape[:2] == (3, bs)
    for run in range(3):
        got = [g[run] for g in group_losses]
        rel = max(abs(a - b) / abs(b) for a, b in zip(got, solo_losses[run]))
        assert rel < 1e-10, (run, rel)
        weights = unstack(params, run)
        for k, w in solo_weights[run].items():
            err = ((weights[k] - w).abs().max() / w.abs().max()).item()
            assert err < 1e-10, (run, k, err)
    assert solo_weights[0]["0.weight"].ne(solo_weights[1]["0.weight"]).any()  # runs differ

"""Runs trained as one group through the training loop (``lecnn.training.grouped``) equal the
same runs trained alone: real MNIST, float64, three seeds, dropout drawn from each run's own
generator, SDLM's curvature per run — every pass's loss, the final weights and the test misses."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from lecnn.errors import LecnnError
from lecnn.training.checkpoint import load_checkpoint
from lecnn.training.config import TrainConfig
from lecnn.training.grouped import GroupTrainer, check_fits
from lecnn.training.loop import train


@pytest.mark.filterwarnings("ignore:There is a performance drop")
@pytest.mark.parametrize(
    "model, impl",
    [("lecun1989-modern", "manual"), ("lecun1989-modern", "autograd"), ("lenet5", "manual")],
)
def test_a_run_trained_in_a_group_equals_the_run_alone(model, impl, mnist_dir, tmp_path):
    base = TrainConfig(model=model, impl=impl, dtype="float64", data_dir=str(mnist_dir),
                       limit=120, epochs=2, compile="off")  # fmt: skip
    configs = [replace(base, seed=s, logdir=str(tmp_path / f"g{s}")) for s in range(3)]
    outcomes = GroupTrainer(configs).run()
    for config, outcome in zip(configs, outcomes, strict=True):
        solo = train(replace(config, logdir=str(tmp_path / f"s{config.seed}")), progress_bar=False)
        group = outcome.result.results
        for a, b in zip(group["history"], solo.results["history"], strict=True):
            assert abs(a["train_loss"] - b["train_loss"]) <= 1e-9 * abs(b["train_loss"])
        assert group["final"]["test_misses"] == solo.results["final"]["test_misses"]
        got = load_checkpoint(outcome.run_dir / "checkpoint.pt")["model_state"]
        want = load_checkpoint(solo.run_dir / "checkpoint.pt")["model_state"]
        for k, w in want.items():
            err = ((got[k] - w).abs().max() / w.abs().max()).item()
            assert err < 1e-9, (config.seed, k, err)
    first = [load_checkpoint(o.run_dir / "checkpoint.pt")["model_state"] for o in outcomes]
    key = next(iter(first[0]))
    assert not torch.equal(first[0][key], first[1][key])  # the runs are different runs


def test_runs_that_do_not_fit_one_group_are_named_in_one_line(mnist_dir):
    a = TrainConfig(model="lecun1989", data_dir=str(mnist_dir), batch_size=1)
    with pytest.raises(LecnnError, match="share --batch-size"):
        check_fits([a, replace(a, batch_size=2)])

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

#: the protocols a group must hold equal: per-example SGD (1989), AdamW with dropout and shifts
#: (1989 modern), SDLM per example with the paper's distortions and its curvature re-estimated at
#: the second pass (1998), Adam on batches of 8 (modern LeNet-5)
CASES = {
    "lecun1989-sgd": dict(model="lecun1989"),
    "lecun1989-modern": dict(model="lecun1989-modern"),
    "lenet5-sdlm-distorted": dict(
        model="lenet5", batch_size=1, optimizer="sdlm:samples=50", lr=5e-4, schedule="constant",
        augment=True, augment_kind="paper",
    ),
    "lenet5-modern-adam": dict(model="lenet5-modern", batch_size=8),
}  # fmt: skip


@pytest.mark.filterwarnings("ignore:There is a performance drop")
@pytest.mark.parametrize("impl", ["manual", "autograd"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_run_trained_in_a_group_equals_the_run_alone(case, impl, mnist_dir, tmp_path):
    base = TrainConfig(**CASES[case], impl=impl, dtype="float64", data_dir=str(mnist_dir),
                       limit=120, epochs=2, eval_every=2, compile="off")  # fmt: skip
    lr = base.resolved().lr
    # three runs of their own seeds and their own rates (each run's own optimizer step)
    configs = [
        replace(base, seed=s, lr=lr * (1 + s / 2), logdir=str(tmp_path / f"g{s}")) for s in range(3)
    ]
    outcomes = GroupTrainer(configs).run()
    for config, outcome in zip(configs, outcomes, strict=True):
        solo = train(
            replace(config, logdir=str(tmp_path / f"s{config.logdir[-1]}")), progress_bar=False
        )
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

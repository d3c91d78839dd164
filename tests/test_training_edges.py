"""Edges of lecnn/training that mutation testing found unguarded: what a resume may change, the
engines' modes and reloaded parameters, a checkpoint of another version, and (from the sampled run)
the curves, speeds, orders, option checks, messages and locks a run reports."""

from __future__ import annotations

import os

import pytest
import torch

from lecnn.errors import LecnnError
from lecnn.models import get_spec
from lecnn.training.augment import random_affine
from lecnn.training.checkpoint import FORMAT, load_checkpoint
from lecnn.training.config import OPTIMIZERS, TrainConfig
from lecnn.training.engine import make_engine
from lecnn.training.loop import train
from lecnn.training.resume import resumed_config
from lecnn.training.rundir import RunLock
from lecnn.training.runlog import StepCurve
from lecnn.training.setup import default_run_dir
from lecnn.training.state import Diverged

CPU = torch.device("cpu")


def _saved(tmp_path, epochs_done: int = 3) -> tuple[TrainConfig, dict]:
    saved = TrainConfig(model="lecun1989", epochs=5, logdir=str(tmp_path / "run")).resolved()
    return saved, {"progress": {"epoch": epochs_done}}


def test_resume_takes_the_same_number_of_passes_and_its_own_folder(tmp_path):
    saved, ckpt = _saved(tmp_path)
    # --epochs equal to the passes done is allowed (nothing left to train, not an error)
    assert resumed_config(saved, TrainConfig(epochs=3), ckpt).epochs == 3
    with pytest.raises(LecnnError, match="already done 3 passes"):
        resumed_config(saved, TrainConfig(epochs=2), ckpt)
    # the run's own folder given again is accepted; another is refused
    same = TrainConfig(logdir=str(tmp_path / "run" / ".." / "run"))
    assert resumed_config(saved, same, ckpt).logdir == saved.logdir
    with pytest.raises(LecnnError, match="stays in its own folder"):
        resumed_config(saved, TrainConfig(logdir=str(tmp_path / "other")), ckpt)


def test_resume_relocates_data_device_and_compile(tmp_path):
    saved, ckpt = _saved(tmp_path)
    moved = resumed_config(
        saved, TrainConfig(data_dir="/elsewhere", device="cpu", compile="off"), ckpt
    )
    assert (moved.data_dir, moved.device, moved.compile) == ("/elsewhere", "cpu", "off")
    assert moved.model == saved.model and moved.lr == saved.lr


def test_manual_engine_modes_switch_dropout():
    engine = make_engine(get_spec("lecun1989-modern"), "manual", seed=0, device=CPU)
    x = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    engine.train(True)
    assert not torch.equal(engine.net.forward(x), engine.net.forward(x))  # fresh masks
    engine.train(False)
    assert torch.equal(engine.net.forward(x), engine.net.forward(x))
    engine.train()  # the default is training
    assert not torch.equal(engine.net.forward(x), engine.net.forward(x))


def test_manual_engine_steps_the_loaded_weights():
    spec = get_spec("lecun1989")
    engine = make_engine(spec, "manual", seed=0, device=CPU)
    other = make_engine(spec, "manual", seed=1, device=CPU)
    engine.load_state_dict(other.state_dict())
    params = engine.params()
    assert params is not None and set(params) == set(engine.net.named_params())
    for k, p in params.items():
        assert p is engine.net.named_params()[k]  # the optimizer updates what the net computes with
        assert torch.equal(p, other.state_dict()[k])


def test_a_checkpoint_of_another_version_names_it(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": FORMAT, "version": 99}, path)
    with pytest.raises(LecnnError, match=r"checkpoint version 99 is not supported"):
        load_checkpoint(path)


def test_the_data_seed_picks_the_1989_sized_set(mnist):
    """``data_seed`` decides which 7,291 digits form the 1989 training set (so two seeds differ,
    and the same seed gives the same set)."""
    a = TrainConfig(model="lecun1989").prepare(mnist, CPU)
    b = TrainConfig(model="lecun1989", data_seed=1).prepare(mnist, CPU)
    again = TrainConfig(model="lecun1989").prepare(mnist, CPU)
    assert len(a.train) == len(b.train) == 7291
    assert torch.equal(a.train.x, again.train.x)
    assert not torch.equal(a.train.y, b.train.y)


def test_affine_distortions_come_from_their_generator_alone():
    x = torch.rand(4, 1, 12, 12)
    torch.manual_seed(1)
    a = random_affine(x, torch.Generator().manual_seed(3))
    torch.manual_seed(2)  # the global generator moves on; the run's own does not
    b = random_affine(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x)


@pytest.mark.parametrize(
    "options", [{"mu": 0.0}, {"mu": float("inf")}, {"samples": 0}, {"every": 0}]
)
def test_sdlm_refuses_a_zero_mu_no_samples_or_no_passes_between_estimates(options):
    with pytest.raises(LecnnError, match="μ > 0, samples ≥ 1 and every ≥ 1"):
        OPTIMIZERS["sdlm"](0.1, 0.0, **options)
    assert OPTIMIZERS["sdlm"](0.1, 0.0, mu=1e-6, samples=1).samples == 1


def test_a_models_options_name_its_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = default_run_dir(TrainConfig(model="lenet5:init=printed,subsampling=sum"))
    assert folder.name.startswith("lenet5_init-printed_subsampling-sum-autograd-")


def test_each_pass_reports_its_own_speed(mnist_dir, tmp_path):
    config = TrainConfig(
        model="linear", epochs=2, limit=200, data_dir=str(mnist_dir), logdir=str(tmp_path / "r")
    )
    result = train(config, progress_bar=False)
    assert result.results["description"] == get_spec("linear").description
    first, second = result.results["history"]
    assert first["images_per_s"] == pytest.approx(200 / first["train_seconds"])
    took = second["train_seconds"] - first["train_seconds"]
    assert second["images_per_s"] == pytest.approx(200 / took)


def test_the_step_curve_writes_each_windows_own_mean_loss_and_error():
    class Logger:
        def __init__(self):
            self.points = []

        def metrics(self, split, unit, loss, error, step):
            self.points.append((split, unit, round(loss, 12), round(error, 12), step))

    logger = Logger()
    curve = StepCurve(logger, every=2)
    # per update: (loss, right?) = (4, 1), (2, 0), (1, 1), (3, 1); sums are cumulative
    sums = [(4.0, 1, 1), (6.0, 1, 2), (7.0, 2, 3), (10.0, 3, 4)]
    for step, (loss, correct, seen) in enumerate(sums, 1):
        curve.record(step, torch.tensor(loss), torch.tensor(correct), seen)
    curve.flush()
    assert logger.points == [("train", "step", 3.0, 0.5, 2), ("train", "step", 2.0, 0.0, 4)]
    curve.start()  # a new pass: sums from 0 again
    curve.record(2, torch.tensor(5.0), torch.tensor(0), 2, since=0)
    curve.flush()
    assert logger.points[-1] == ("train", "step", 2.5, 1.0, 2)


@pytest.mark.parametrize("order", ["fixed", "shuffle"])
def test_order_fixed_visits_the_examples_in_the_same_order_every_pass(order, mnist_dir, tmp_path):
    """With a rate so small that the weights stay put, each update's loss names its example: a
    fixed order repeats the first pass's sequence, shuffling reorders the same losses; a pass's
    reported training loss is the mean of its updates'."""
    losses: list[float] = []
    config = TrainConfig(
        model="linear", epochs=2, limit=16, batch_size=1, lr=1e-20, optimizer="sgd",
        order=order, augment=False, data_dir=str(mnist_dir), logdir=str(tmp_path / "run"),
    )  # fmt: skip
    result = train(config, progress_bar=False, on_step=lambda s, loss: losses.append(float(loss)))
    first, second = losses[:16], losses[16:]
    # and each pass reports the mean of its updates' losses
    reported = [h["train_loss"] for h in result.results["history"]]
    assert reported == pytest.approx([sum(first) / 16, sum(second) / 16])
    assert sorted(first) == pytest.approx(sorted(second))
    assert (first == pytest.approx(second)) == (order == "fixed")


def test_a_diverging_run_stops_naming_the_loss_the_pass_and_the_update(mnist_dir, tmp_path):
    config = TrainConfig(
        model="linear", epochs=1, limit=2000, optimizer="sgd", lr=1e38,
        data_dir=str(mnist_dir), logdir=str(tmp_path / "run"),
    )  # fmt: skip
    with pytest.raises(Diverged, match=r"the loss became (nan|inf) at pass 1, update [1-9]"):
        train(config, progress_bar=False)


def test_a_locked_run_folder_names_the_process_holding_it(tmp_path):
    first, second = RunLock(tmp_path), RunLock(tmp_path)
    first.acquire()
    try:  # flock excludes a second open file, in this process too
        with pytest.raises(LecnnError, match=rf"another lecnn process \(pid {os.getpid()}\)"):
            second.acquire()
    finally:
        first.release()
    second.acquire()  # released: free again
    second.release()

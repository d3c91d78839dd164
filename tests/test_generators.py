"""Every random draw of a run comes from a generator the run owns: initial weights (``build``'s
``generator``/``seed``), data order and augmentation (the run's data generator) and dropout masks
(its dropout generator). Torch's global generator is neither read nor moved by training, and the
checkpoint carries the run's generators."""

from __future__ import annotations

import pytest
import torch

from lecnn import manual as M
from lecnn import nn as lnn
from lecnn.models import MODELS, build
from lecnn.training.checkpoint import load_checkpoint, save_checkpoint
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data16(mnist_dir):
    cfg = TrainConfig(model="lecun1989-modern", data_dir=str(mnist_dir))
    return load_data(cfg, CPU, torch.float64)


def _run(data, tmp_path, name, impl="manual", **settings):
    cfg = TrainConfig(
        model="lecun1989-modern", impl=impl, device="cpu", dtype="float64", epochs=1,
        limit=48, batch_size=1, compile="off", logdir=str(tmp_path / name), **settings,
    )  # fmt: skip
    losses: list[float] = []
    trainer = Trainer(cfg, data=data, progress_bar=False)
    trainer.run(on_step=lambda step, loss: losses.append(float(loss)))
    return trainer, losses


@pytest.mark.parametrize("name", sorted(MODELS))
def test_build_draws_from_its_generator_alone(name):
    before = torch.get_rng_state()
    a = build(name, "manual", seed=4).state_dict()
    torch.manual_seed(99)  # the global generator elsewhere: not what the weights depend on
    b = build(name, "autograd", generator=torch.Generator().manual_seed(4)).state_dict()
    torch.set_rng_state(before)
    c = build(name, "manual", seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(torch.get_rng_state(), before)  # build moved nothing
    drawn = [k for k in a if not torch.equal(a[k], c[k])]
    random_init = any(isinstance(m, (M.Linear, M.Conv2d)) for m in build(name, "manual").walk())
    assert bool(drawn) == random_init  # another seed, other weights (where any are drawn)


@pytest.mark.parametrize("impl", ["manual", "autograd"])
def test_a_run_with_dropout_neither_reads_nor_moves_the_global_generator(impl, data16, tmp_path):
    torch.manual_seed(1)
    before = torch.get_rng_state()
    ta, la = _run(data16, tmp_path, "a", impl)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(12345)  # another global state: the same run
    tb, lb = _run(data16, tmp_path, "b", impl)
    assert la == lb
    wa, wb = ta.engine.state_dict(), tb.engine.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    tc, lc = _run(data16, tmp_path, "c", impl, seed=1)  # another seed: other masks and order
    assert lc != la


def test_manual_and_autograd_dropout_draw_the_same_mask_from_the_same_generator():
    x = torch.randn(7, 33, dtype=torch.float64) + 3.0
    manual = M.Dropout(0.3, generator=torch.Generator().manual_seed(8))
    twin = lnn.Dropout(0.3, generator=torch.Generator().manual_seed(8))
    for _ in range(3):  # the generators move on together
        y = manual.forward(x)
        assert torch.equal(y, twin(x)) and (y == 0).any()
    twin.eval()
    assert torch.equal(twin(x), x)


def test_the_checkpoint_carries_the_dropout_generator_and_an_old_one_resumes(data16, tmp_path):
    trainer, _ = _run(data16, tmp_path, "run")
    ckpt = load_checkpoint(tmp_path / "run")
    assert torch.equal(ckpt["dropout_generator_state"], trainer.state.dropout.get_state())
    assert not torch.equal(ckpt["dropout_generator_state"], ckpt["generator_state"])
    # a checkpoint written before runs owned their dropout generator held torch's global state
    old = {
        k: v for k, v in ckpt.items() if k not in ("dropout_generator_state", "format", "version")
    }
    old["torch_rng_state"] = torch.get_rng_state()
    save_checkpoint(tmp_path / "run" / "checkpoint.pt", old)
    resumed = Trainer(
        TrainConfig(epochs=2), data=data16, resume=tmp_path / "run", progress_bar=False
    )
    assert resumed.run().status == "finished"
    assert resumed.progress.epoch == 2

"""``--memory-format``: an engine laid out channels-last computes what the contiguous one does
(float64, both implementations, LeNet-5's connection table and subsampling included), its state
dict loads into either implementation in either layout, and ``auto`` takes channels-last only for
batched float32 updates on the CPU."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from lecnn.checks import parity
from lecnn.models import get_spec
from lecnn.training.config import TrainConfig
from lecnn.training.engine import encode_targets, lay_out, make_engine, use_channels_last
from lecnn.training.loop import Trainer, load_data

CPU, D, TOL = torch.device("cpu"), torch.float64, 1e-10
CL = torch.channels_last


def _batch(spec, n: int = 16):
    g = torch.Generator().manual_seed(0)
    size = 32 if spec.input.endswith("32") else 28
    x = torch.randn(n, 1, size, size, generator=g, dtype=D)
    return x, encode_targets(torch.randint(0, 10, (n,), generator=g), spec.target, D)


def _conv_weights(engine) -> dict[str, torch.Tensor]:
    return {k: p for k, p in engine.params().items() if p.dim() == 4 and p.shape[1] > 1}


@pytest.mark.parametrize("impl", ["manual", "autograd"])
@pytest.mark.parametrize("model", ["lenet5-modern", "lenet5"])
def test_a_channels_last_engine_computes_what_the_contiguous_one_does(impl, model):
    spec = get_spec(model)
    x, t = _batch(spec)
    plain = make_engine(spec, impl, seed=0, device=CPU, dtype=D)
    last = make_engine(spec, impl, seed=0, device=CPU, dtype=D)
    last.channels_last()
    assert _conv_weights(last) and all(
        w.is_contiguous(memory_format=CL) and not w.is_contiguous()
        for w in _conv_weights(last).values()
    )
    if impl == "manual":  # the connection masks travel with the weights (``carried``)
        masks = [m.mask for m in last.net.walk() if hasattr(m, "mask") and m.mask.shape[1] > 1]
        assert masks and all(m.is_contiguous(memory_format=CL) and m.dtype == D for m in masks)
    loss, out = plain.train_step(x, t)
    loss_last, out_last = last.train_step(x, t)
    rows = [parity.compare("loss", "loss", loss_last, loss)]
    rows.append(parity.compare("out", "out", out_last, out))
    grads = plain.grads()
    rows += [parity.compare(k, f"d{k}", g, grads[k]) for k, g in last.grads().items()]
    bad = [r for r in rows if r.max_rel > TOL]
    assert not bad, bad
    assert torch.equal(last.outputs(x), last.outputs(x.clone()))  # evaluation is laid out too


def test_state_dicts_interchange_across_layouts_and_loading_keeps_the_layout():
    spec = get_spec("lenet5-modern")
    x, _ = _batch(spec)
    last = make_engine(spec, "manual", seed=1, device=CPU, dtype=D)
    last.channels_last()
    other = make_engine(spec, "autograd", seed=2, device=CPU, dtype=D)  # contiguous, other seed
    other.load_state_dict(last.state_dict())
    assert parity.compare("out", "out", other.outputs(x), last.outputs(x)).max_rel <= TOL
    back = make_engine(spec, "manual", seed=3, device=CPU, dtype=D)
    back.channels_last()
    back.load_state_dict(other.state_dict())  # contiguous tensors into a channels-last net
    assert all(w.is_contiguous(memory_format=CL) for w in _conv_weights(back).values())
    assert parity.compare("out", "out", back.outputs(x), last.outputs(x)).max_rel <= TOL


def test_one_channel_is_laid_out_by_its_strides_alone():
    x = torch.randn(4, 1, 6, 5)
    y = lay_out(x, CL)
    assert y.data_ptr() == x.data_ptr() and torch.equal(y, x)
    assert y.stride() == (30, 1, 5, 1)
    three = lay_out(torch.randn(4, 3, 6, 5), CL)
    assert three.is_contiguous(memory_format=CL) and not three.is_contiguous()
    assert lay_out(x, torch.contiguous_format) is x


@pytest.mark.parametrize(
    ("choice", "dtype", "batch", "device", "impl", "want"),
    [
        ("auto", torch.float32, 256, "cpu", "autograd", True),
        ("auto", torch.float32, 256, "cpu", "manual", False),  # its backward runs faster so
        ("auto", torch.float32, 1, "cpu", "autograd", False),  # per-example: no oneDNN
        ("auto", torch.float64, 256, "cpu", "autograd", False),  # no float64 oneDNN kernels
        ("auto", torch.float32, 256, "cuda", "autograd", False),  # not measured on a GPU
        ("contiguous", torch.float32, 256, "cpu", "autograd", False),
        ("channels-last", torch.float64, 1, "cpu", "manual", True),
    ],
)
def test_auto_takes_channels_last_for_autograds_batched_float32_cpu_updates(
    choice, dtype, batch, device, impl, want
):
    assert use_channels_last(choice, torch.device(device), dtype, batch, impl) is want


@pytest.mark.parametrize(("flags", "want"), [({}, CL), ({"memory_format": "contiguous"}, None),
                                             ({"batch_size": 1}, None)])  # fmt: skip
def test_the_trainer_lays_its_engine_out_as_the_flag_says(mnist_dir, tmp_path, flags, want):
    settings = dict(model="lenet5-modern", device="cpu", epochs=1, limit=64, batch_size=16,
                    logdir=str(tmp_path / "run"))  # fmt: skip
    cfg = TrainConfig(**{**settings, **flags}, data_dir=str(mnist_dir))
    trainer = Trainer(cfg, data=load_data(cfg, CPU, torch.float32), progress_bar=False)
    assert trainer.engine.layout == (want or torch.contiguous_format)
    assert trainer.engine.is_channels_last is (want is not None)
    w = trainer.engine.params()["3.weight"]  # C3: 16×6×5×5
    assert w.is_contiguous(memory_format=CL) is (want is not None)


def test_a_run_resumes_in_the_other_layout(mnist_dir, tmp_path):
    cfg = TrainConfig(model="lenet5-modern", device="cpu", epochs=1, limit=64, batch_size=16,
                      data_dir=str(mnist_dir), logdir=str(tmp_path / "run"))  # fmt: skip
    data = load_data(cfg, CPU, torch.float32)
    Trainer(cfg, data=data, progress_bar=False).run()
    again = replace(cfg, epochs=2, memory_format="contiguous")
    trainer = Trainer(again, data=data, progress_bar=False, resume=tmp_path / "run")
    assert trainer.engine.layout == torch.contiguous_format
    result = trainer.run()
    assert result.results["epochs_done"] == 2


def test_a_state_of_another_shape_is_refused_not_broadcast():
    """Loading copies into the layer's own tensors (to keep their layout); a smaller tensor that
    would broadcast into them is refused, naming the parameter."""
    from lecnn import manual as M

    layer = M.Linear(3, 2)
    state = {**layer.state_dict(), "bias": torch.zeros(1)}
    with pytest.raises(RuntimeError, match=r"bias: the state's shape \(1,\)"):
        layer.load_state_dict(state)

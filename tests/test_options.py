"""Models and optimizers with options (``lenet5:init=printed,subsampling=sum``,
``sdlm:mu=0.1,samples=100``): what each option changes, on real MNIST where it trains."""

from __future__ import annotations

import pytest
import torch

from lecnn import manual as M
from lecnn.errors import LecnnError
from lecnn.models import build, get_spec, rbf_prototypes
from lecnn.options import canonical, split
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.loop import Trainer, load_data

D = torch.float64


def test_split_and_canonical_spelling():
    assert split("lenet5") == ("lenet5", {})
    assert split("lenet5:init=printed, subsampling=sum") == (
        "lenet5",
        {"init": "printed", "subsampling": "sum"},
    )
    assert canonical("lenet5:subsampling=sum,init=printed") == "lenet5:init=printed,subsampling=sum"
    assert get_spec("lenet5:subsampling=sum,init=printed").name == canonical(
        "lenet5:init=printed,subsampling=sum"
    )


def _bound_ratios(net: M.Sequential, power: float) -> list[torch.Tensor]:
    """Per weighted layer and unit: largest |w| over 2.4/F^power (F the unit's fan-in)."""
    out = []
    for layer in net.layers:
        if isinstance(layer, (M.Conv2d, M.Linear)):
            w = layer.params["weight"]
            wmax = w.abs().flatten(1).amax(1)
            fan = layer.fan_in().to(w) if isinstance(layer, M.Conv2d) else w.shape[1]
            out.append(wmax / (2.4 / torch.as_tensor(fan, dtype=w.dtype) ** power))
    return out


def test_printed_init_draws_from_2_4_over_F_the_default_from_2_4_over_root_F():
    for power, name in ((1.0, "lenet5:init=printed"), (0.5, "lenet5")):
        for ratio in _bound_ratios(build(name, "manual", seed=0), power):
            assert ratio.max() <= 1 and ratio.max() > 0.9, (name, ratio)


def test_summing_subsampling_is_four_times_the_average_and_starts_at_its_coefficient():
    x = torch.randn(2, 1, 32, 32, dtype=D, generator=torch.Generator().manual_seed(0))
    mean = build("lenet5", "manual", seed=0, dtype=D)
    summed = build("lenet5:subsampling=sum,coefficient=0.5", "manual", seed=0, dtype=D)
    s2 = [i for i, layer in enumerate(mean.layers) if isinstance(layer, M.Subsampling)][0]
    h_mean = h_sum = x
    for a, b in zip(mean.layers[: s2 + 1], summed.layers[: s2 + 1]):
        h_mean, h_sum = a.forward(h_mean), b.forward(h_sum)
    assert torch.equal(summed.layers[s2].params["weight"], torch.full((6,), 0.5, dtype=D))
    # same C1 weights; S2: w·Σ (w = 0.5) against w·¼Σ (w = 1): twice the average
    assert torch.allclose(h_sum, 2 * h_mean, rtol=1e-12)
    twin = build("lenet5:subsampling=sum,coefficient=0.5", "autograd", seed=0, dtype=D)
    y = twin(x)
    h = x
    for layer in summed.layers:
        h = layer.forward(h)
    assert torch.allclose(y, h, rtol=1e-10)


def test_random_prototypes_are_plus_minus_one_fixed_and_not_the_bitmaps():
    manual = build("lenet5:prototypes=random", "manual", seed=0).layers[-1].buffers["weight"]
    proto_a = build("lenet5:prototypes=random", "autograd", seed=0)[-1].weight
    proto_b = build("lenet5:prototypes=random", "autograd", seed=1)[-1].weight
    assert torch.equal(proto_a, proto_b)  # the same for every run
    assert set(proto_a.unique().tolist()) == {-1.0, 1.0}
    assert not torch.equal(proto_a, rbf_prototypes())
    assert torch.equal(manual, proto_a)


def test_sdlm_options_reach_the_optimizer_and_others_refuse_them():
    opt = make_optimizer(TrainConfig(optimizer="sdlm:mu=0.1,samples=64", lr=0.01))
    assert isinstance(opt, M.SDLM) and (opt.mu, opt.samples, opt.lr) == (0.1, 64, 0.01)
    assert make_optimizer(TrainConfig(optimizer="sdlm", lr=0.01)).samples == 500
    with pytest.raises(LecnnError, match="sgd has no option 'mu'"):
        make_optimizer(TrainConfig(optimizer="sgd:mu=0.1", lr=0.01))


def test_adam_betas_reach_the_optimizer_and_step_as_torch_adam_with_them():
    opt = make_optimizer(TrainConfig(optimizer="adam:beta1=0.7,beta2=0.9", lr=0.01))
    assert isinstance(opt, M.Adam) and opt.betas == (0.7, 0.9)
    assert make_optimizer(TrainConfig(optimizer="adam", lr=0.01)).betas == (0.9, 0.999)
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(5, 3, dtype=D, generator=gen)
    grads = [torch.randn(5, 3, dtype=D, generator=gen) for _ in range(4)]
    ours = {"w": w0.clone()}
    theirs = w0.clone().requires_grad_()
    ref = torch.optim.AdamW([theirs], lr=0.01, betas=(0.7, 0.9), weight_decay=0.0)
    for g in grads:
        opt.step(ours, {"w": g})
        theirs.grad = g.clone()
        ref.step()
    assert torch.allclose(ours["w"], theirs.detach(), rtol=1e-12, atol=0)
    # the default betas step differently: the option is not ignored
    plain = make_optimizer(TrainConfig(optimizer="adam", lr=0.01))
    other = {"w": w0.clone()}
    for g in grads:
        plain.step(other, {"w": g})
    assert (other["w"] - ours["w"]).abs().max() > 1e-4
    for bad in ("adam:beta1=1", "adam:beta2=-0.1"):
        with pytest.raises(LecnnError, match="each β from 0 up to 1"):
            make_optimizer(TrainConfig(optimizer=bad, lr=0.01))


def test_sdlm_estimates_its_curvature_on_samples_examples_each_pass(mnist_dir, tmp_path):
    cfg = TrainConfig(
        model="lenet5:subsampling=sum", impl="manual", optimizer="sdlm:samples=37",
        batch_size=1, epochs=2, limit=40, lr=1e-4, device="cpu", compile="off",
        data_dir=str(mnist_dir), logdir=str(tmp_path / "run"),
    )  # fmt: skip
    data = load_data(cfg, torch.device("cpu"), torch.float32)
    trainer = Trainer(cfg, data=data, progress_bar=False)
    seen: list[int] = []
    curvature = trainer.engine.curvature
    trainer.engine.curvature = lambda x, t: seen.append(len(x)) or curvature(x, t)
    result = trainer.run()
    assert result.status == "finished" and seen == [37, 37]
    # the options survive in the run's config: a resume builds the same model
    resumed = Trainer(TrainConfig(epochs=3), data=data, resume=tmp_path / "run", progress_bar=False)
    assert resumed.config.model == "lenet5:subsampling=sum"
    assert resumed.config.optimizer == "sdlm:samples=37"

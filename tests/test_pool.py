"""The 1998 paper's distortion protocol: a fixed pool of the training digits and 9 distorted copies
of each, made once from the run's seed; each pass draws its patterns from the pool. The same copy
is the same pixels whenever it comes round, about one presentation in ten is an original, and a
run on the pool resumes exactly."""

from __future__ import annotations

import pytest
import torch

from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data
from lecnn.training.pool import DistortionPool

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits(mnist_dir):
    cfg = TrainConfig(model="lenet5-modern", data_dir=str(mnist_dir))
    return load_data(cfg, CPU, torch.float64)


def test_a_pass_draws_distinct_entries_about_one_in_ten_an_original():
    pool = DistortionPool(6000, 32, seed=0, device=CPU)
    assert pool.size == 60000 and pool.theta.shape == (54000, 2, 3)
    assert pool.theta.numel() * pool.theta.element_size() == 54000 * 6 * 4  # 13 MB at 540,000
    g = torch.Generator().manual_seed(1)
    orders = [pool.order(g, CPU) for _ in range(20)]
    for order in orders:
        assert len(order) == 6000 and len(set(order.tolist())) == 6000
        assert 0 <= int(order.min()) and int(order.max()) < 60000
    originals = sum(int((o < 6000).sum()) for o in orders) / (20 * 6000)
    assert originals == pytest.approx(0.1, abs=0.01)
    seen = torch.bincount(torch.cat(orders), minlength=60000)[6000:].double()
    assert seen.mean().item() == pytest.approx(20 * 6000 * 0.9 / 54000, rel=0.02)  # ≈ 2 each


def test_a_copy_is_the_same_pixels_every_time_and_the_pool_comes_from_the_seed(digits):
    x = digits.train.x[:8]
    before = torch.get_rng_state()
    pool = DistortionPool(len(digits.train), 32, seed=3, device=CPU)
    assert torch.equal(torch.get_rng_state(), before)  # its own generator
    n = len(digits.train)
    entries = torch.tensor([0, 1, n + 0, n + 1, 5 * n + 2, 9 * n + 3, 2, 3 * n + 7])
    originals = digits.train.x[entries % n]
    a = pool.render(originals, entries)
    b = pool.render(originals.flip(0), entries.flip(0)).flip(0)  # another batch, same copies
    assert torch.equal(a, b)
    copy = entries >= n
    assert torch.equal(a[~copy], originals[~copy])  # originals as they are
    assert all(not torch.equal(a[i], originals[i]) for i in copy.nonzero().flatten())
    again = DistortionPool(n, 32, seed=3, device=CPU)
    other = DistortionPool(n, 32, seed=4, device=CPU)
    assert torch.equal(again.theta, pool.theta) and not torch.equal(other.theta, pool.theta)
    assert x.shape == a.shape


def test_a_run_on_the_pool_resumes_exactly(digits, tmp_path):
    base = dict(model="lenet5-modern", device="cpu", dtype="float64", epochs=2, limit=160,
                batch_size=16, augment=True, augment_kind="paper-pool", compile="off")  # fmt: skip
    losses_a: list[float] = []
    straight = Trainer(TrainConfig(**base, logdir=str(tmp_path / "a")), data=digits,
                       progress_bar=False)  # fmt: skip
    straight.run(on_step=lambda s, loss: losses_a.append(float(loss)))
    assert straight.setup.pool is not None and straight.setup.pool.size == 1600
    losses_b: list[float] = []
    first = Trainer(TrainConfig(**base, logdir=str(tmp_path / "b")), data=digits,
                    progress_bar=False)  # fmt: skip
    assert first.run(on_step=lambda s, loss: losses_b.append(float(loss)) or s == 13).status == (
        "interrupted"
    )
    rest = Trainer(TrainConfig(), data=digits, resume=tmp_path / "b", progress_bar=False)
    rest.run(on_step=lambda s, loss: losses_b.append(float(loss)))
    assert losses_b == losses_a
    wa, wb = straight.engine.state_dict(), rest.engine.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_pool_options_are_checked():
    from lecnn.errors import LecnnError
    from lecnn.training.augment import augmentation

    augmentation("paper-pool:copies=3,strength=0.5")
    for bad in ("paper-pool:copies=0", "paper-pool:strength=-1", "paper-pool:shear=1"):
        with pytest.raises(LecnnError):
            augmentation(bad)

"""Boosted LeNet-4 (LeCun et al. 1998, §III.C.8, after Drucker, Schapire and Simard): three
LeNet-4s, the second trained on examples the first filters, the third on examples the first two
disagree on; their outputs are added.

- Net 1 is trained the usual way.
- Net 2 sees a stream of distorted training digits filtered by net 1: half that net 1 gets wrong,
  half that it gets right.
- Net 3 sees the distorted digits on which nets 1 and 2 disagree.
MNIST's training set is too easy for net 1 to make enough mistakes on it, so, as the paper did,
the streams are distorted copies (here the paper's affine distortions, ``paper_distortions``;
the paper also varied line thickness, which lecnn does not).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lecnn.data.derived import Prepared, Split
from lecnn.training.augment import paper_distortions
from lecnn.training.config import TrainConfig
from lecnn.training.engine import Engine
from lecnn.training.loop import Trainer, train_apart


@dataclass
class Boosted:
    engines: list[Engine]
    seconds: float  # training time of all three nets, filtering included
    set_sizes: list[int]  # examples nets 2 and 3 were trained on
    single_errors: list[float]  # each net's own test error

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The class with the largest summed output of the three nets."""
        total = self.engines[0].outputs(x)
        for e in self.engines[1:]:
            total = total + e.outputs(x)
        return self.engines[0].predict(total)


@torch.no_grad()
def _predictions(engine: Engine, x: torch.Tensor, batch: int = 5000) -> torch.Tensor:
    engine.train(False)
    out = torch.cat(
        [engine.predict(engine.outputs(x[i : i + batch])) for i in range(0, len(x), batch)]
    )
    engine.train(True)
    return out


def filtered(
    train: Split,
    keep: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    size: int,
    generator: torch.Generator,
    max_digits: int,
    balance: bool = False,
) -> tuple[Split, int]:
    """Distorted copies of ``train`` drawn pass after pass; ``keep(x, y)`` gives each copy's
    class: -1 (drop), 0 or 1. With ``balance`` half the set is of class 1 and half of class 0,
    else every copy of class 1 is kept. Stops at ``size`` examples or after ``max_digits`` drawn.
    Returns the set and how many distorted digits were drawn."""
    want = [size - size // 2, size // 2] if balance else [0, size]
    got: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[], []]
    counts, drawn = [0, 0], 0
    while drawn < max_digits and (counts[0] < want[0] or counts[1] < want[1]):
        for start in range(0, len(train), 10000):
            x = paper_distortions(train.x[start : start + 10000], generator)
            y = train.y[start : start + 10000]
            drawn += len(y)
            cls = keep(x, y)
            for c in (0, 1):
                room = want[c] - counts[c]
                if room > 0:
                    idx = (cls == c).nonzero().flatten()[:room]
                    got[c].append((x[idx], y[idx]))
                    counts[c] += len(idx)
            if drawn >= max_digits or (counts[0] >= want[0] and counts[1] >= want[1]):
                break
    parts = got[0] + got[1]
    xs, ys = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    order = torch.randperm(len(ys), generator=generator, device=generator.device)
    return Split(xs[order.to(xs.device)], ys[order.to(ys.device)]), drawn


def _lenet4(data: Prepared, device: torch.device, seed: int, epochs: int | None) -> Trainer:
    """A LeNet-4 trained on ``data`` with its own protocol (or ``epochs`` passes), its run folder
    thrown away."""
    cfg = TrainConfig(model="lenet4", device=str(device), seed=seed, epochs=epochs, augment=False)
    return train_apart(cfg, data)[0]


def train_boosted(
    data: Prepared,
    device: torch.device,
    seed: int = 0,
    epochs: int | None = None,
    size: int | None = None,
    max_digits: int = 3_000_000,
    log=print,
    first: Trainer | None = None,
) -> Boosted:
    """Three LeNet-4s on ``data`` (the ``lenet32`` form) with the model's own protocol (or
    ``epochs`` passes); nets 2 and 3 get ``size`` filtered examples (default: as many as the
    training set). ``first``: net 1 already trained (the LeNet-4 row's)."""
    size = size or len(data.train)
    g = torch.Generator(device=data.train.x.device).manual_seed(seed + 1000)
    start = time.perf_counter()

    def trained(split: Split, net_seed: int) -> Trainer:
        return _lenet4(Prepared(split, data.test, data.input), device, net_seed, epochs)

    one = first or trained(data.train, seed)
    e1 = one.engine

    def wrong_or_right(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (_predictions(e1, x) != y).long()  # 1: net 1 is wrong

    set2, drawn2 = filtered(data.train, wrong_or_right, size, g, max_digits, balance=True)
    log(f"boosting: net 2's set: {len(set2):,} digits from {drawn2:,} distorted")
    e2 = trained(set2, seed + 1).engine

    def disagree(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (_predictions(e1, x) != _predictions(e2, x)).long()

    set3, drawn3 = filtered(data.train, disagree, size, g, max_digits)
    log(f"boosting: net 3's set: {len(set3):,} digits from {drawn3:,} distorted")
    e3 = trained(set3, seed + 2).engine
    singles = [float((_predictions(e, data.test.x) != data.test.y).double().mean())
               for e in (e1, e2, e3)]  # fmt: skip
    return Boosted([e1, e2, e3], time.perf_counter() - start, [len(set2), len(set3)], singles)

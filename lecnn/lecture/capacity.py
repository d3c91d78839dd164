"""Capacity: more hidden units fit the training set better; past some size the test error stops
improving while the training error keeps falling (overfitting), on a small MNIST training set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from lecnn import manual as M
from lecnn.data import Split
from lecnn.lecture.common import keep_figure, pyplot, writer
from lecnn.lecture.sgd import mlp, sgd_pass
from lecnn.training.engine import encode_targets

SIZES = (1, 2, 5, 10, 30, 100, 300)


@torch.no_grad()
def error(net: M.Sequential, split: Split) -> float:
    """The fraction of ``split``'s digits ``net`` gets wrong."""
    return float((net.forward(split.x).argmax(1) != split.y).double().mean())


@torch.no_grad()
def fit(
    hidden: int, train: Split, passes: int, seed: int, lr: float = 2.0, batch: int = 32
) -> M.Sequential:
    """The lecture's MLP with ``hidden`` units trained by its SGD for ``passes`` passes."""
    net, loss = mlp(hidden, seed, train.x.device, train.x.dtype), M.MSELoss("mean")
    opt = M.SGD(lr)
    targets = encode_targets(train.y, "onehot01", train.x.dtype)
    g = torch.Generator().manual_seed(seed)
    for _ in range(passes):
        for _seen in sgd_pass(net, loss, opt, train.x, targets, batch, g):
            pass
    return net


def run(train: Split, test: Split, logdir: str | None = None, seed: int = 0, passes: int = 60,
        sizes: Sequence[int] = SIZES, log: Callable[[str], object] = print,
        out: Path | None = None) -> list[tuple[int, float, float]]:  # fmt: skip
    """Training and test error for each hidden-layer size; the capacity curve as a picture."""
    tb = writer("capacity", logdir)
    rows = []
    log(f"{len(train):,} training digits, {len(test):,} test digits, {passes} passes each")
    log(f"{'hidden units':>12s} {'train error':>12s} {'test error':>11s}")
    for h in sizes:
        net = fit(h, train, passes, seed)
        tr, te = error(net, train), error(net, test)
        rows.append((h, tr, te))
        tb.add_scalar("capacity/train_error", tr, h)
        tb.add_scalar("capacity/test_error", te, h)
        log(f"{h:12d} {tr:12.2%} {te:11.2%}")
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        hs, trs, tes = zip(*rows)
        ax.plot(hs, [100 * e for e in trs], "o-", label="training error")
        ax.plot(hs, [100 * e for e in tes], "o-", label="test error")
        ax.set_xscale("log")
        ax.set_xlabel("hidden units")
        ax.set_ylabel("error (%)")
        ax.set_title(f"capacity: {len(train):,} training digits, {passes} passes")
        ax.legend()
        fig.tight_layout()
        keep_figure(fig, tb, "capacity/curve", out)
    tb.close()
    return rows

"""XOR: one logistic unit cannot fit it; a 2-2-1 network trained by BACK-PROP-LEARNING can,
from most starting weights — and from some it stalls in a local minimum."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lecnn import manual as M
from lecnn.lecture.common import keep_figure, pyplot, writer

X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float64)
Y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float64)


def logistic_net(sizes: list[int], seed: int) -> M.Sequential:
    """(Linear, Sigmoid) pairs of these sizes, e.g. [2, 2, 1], weights drawn from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    layers: list[M.Layer] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [M.Linear(a, b, generator=g), M.Sigmoid()]
    return M.Sequential(*layers).to(dtype=torch.float64)


def fit(sizes: list[int], seed: int, alpha: float = 2.0, epochs: int = 2000) -> tuple[float, bool]:
    """Train from ``seed``'s starting weights; return (final loss Σ(y − a)², all four right)."""
    net = M.back_prop_learning((X, Y), logistic_net(sizes, seed), alpha, epochs)
    out = net.forward(X)
    return float(((Y - out) ** 2).sum()), bool(((out > 0.5).double() == Y).all())


def run(
    logdir: str | None = None,
    seed: int = 0,
    trials: int = 20,
    epochs: int = 2000,
    log: Callable[[str], object] = print,
    out: Path | None = None,
) -> dict[str, Any]:
    """One unit, then ``trials`` random starts of the 2-2-1 net; each start's final loss as a
    picture (solved starts near 0, stalled ones at a local minimum's loss)."""
    single_loss, single_ok = fit([2, 1], seed, epochs=epochs)
    log(
        f"one logistic unit: loss {single_loss:.3f}, solves XOR: {single_ok} (no line separates it)"
    )
    tb = writer("xor", logdir)
    outcomes = []
    for t in range(trials):
        loss, ok = fit([2, 2, 1], seed + t, epochs=epochs)
        outcomes.append((loss, ok))
        tb.add_scalar("xor/final_loss_by_start", loss, t)
    tb.add_histogram("xor/final_loss", torch.tensor([o[0] for o in outcomes]), 0)
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        colours = ["tab:green" if ok else "tab:red" for _, ok in outcomes]
        ax.bar(range(trials), [loss for loss, _ in outcomes], color=colours)
        ax.axhline(single_loss, color="grey", ls="--", label=f"one unit ({single_loss:.2f})")
        ax.set_xlabel("random start")
        ax.set_yscale("log")  # solved starts end near 0, stalled ones near 0.5
        ax.set_ylabel("final summed squared error (log scale)")
        ax.set_title("XOR, 2-2-1 net: green solved, red stalled in a local minimum")
        ax.legend()
        fig.tight_layout()
        keep_figure(fig, tb, "xor/final_loss_by_start", out)
    solved = sum(ok for _, ok in outcomes)
    log(f"2-2-1 network, {trials} random starts, {epochs} passes each (α = 2): "
        f"{solved} reached a global minimum (all four right), {trials - solved} stalled in a "
        f"local one (the lecture's w_B)")  # fmt: skip
    tb.close()
    return {"single": (single_loss, single_ok), "solved": solved, "stalled": trials - solved}

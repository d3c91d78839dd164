"""Univariate linear regression two ways: the closed form (AIMA eq. 18.3) and gradient descent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lecnn.lecture.common import keep_figure, pyplot, writer


def house_data(
    n: int = 100, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Floor space x (square feet) and price y (thousands of dollars), scattered around the
    lecture's fit y = 0.232 x + 246."""
    g = torch.Generator().manual_seed(seed)
    x = 500 + 3000 * torch.rand(n, generator=g, dtype=dtype)
    y = 0.232 * x + 246 + 60 * torch.randn(n, generator=g, dtype=dtype)
    return x, y


def closed_form(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """``w1 = (NΣxy − ΣxΣy) / (NΣx² − (Σx)²)``, ``w0 = (Σy − w1 Σx) / N`` (eq. 18.3)."""
    n = len(x)
    w1 = (n * (x * y).sum() - x.sum() * y.sum()) / (n * (x * x).sum() - x.sum() ** 2)
    w0 = (y.sum() - w1 * x.sum()) / n
    return float(w0), float(w1)


def loss(
    w0: torch.Tensor | float, w1: torch.Tensor | float, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The squared-error loss ``Σ_j (y_j − (w1 x_j + w0))²``."""
    return ((y - (w1 * x + w0)) ** 2).sum()


@dataclass
class Descent:
    w0: float
    w1: float
    path: list[tuple[float, float]]
    losses: list[float]


def gradient_descent(
    x: torch.Tensor, y: torch.Tensor, alpha: float = 0.1, steps: int = 500
) -> Descent:
    """Batch gradient descent ``w_i ← w_i − α ∂Loss/∂w_i`` on the mean squared error, with
    ``∂/∂w0 = −(2/N) Σ (y − h(x))`` and ``∂/∂w1 = −(2/N) Σ (y − h(x)) x``."""
    w0 = w1 = 0.0
    path, losses = [(w0, w1)], [float(loss(w0, w1, x, y))]
    n = len(x)
    for _ in range(steps):
        err = y - (w1 * x + w0)
        w0 += alpha * 2 * float(err.sum()) / n
        w1 += alpha * 2 * float((err * x).sum()) / n
        path.append((w0, w1))
        losses.append(float(loss(w0, w1, x, y)))
    return Descent(w0, w1, path, losses)


def standardize(v: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """``(v − mean) / std`` with the mean and std, to map a fit back."""
    mean, std = float(v.mean()), float(v.std())
    return (v - mean) / std, mean, std


def _figure(
    plt: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    closed: tuple[float, float],
    xs: torch.Tensor,
    ys: torch.Tensor,
    gd: Any,
) -> Any:
    """The data with the closed-form line, and the loss surface with the descent path."""
    w0, w1 = closed
    w0s = torch.linspace(-1.5, 1.5, 121, dtype=torch.float64)
    w1s = torch.linspace(-0.5, 2.0, 121, dtype=torch.float64)
    grid = torch.stack([torch.stack([loss(a, b, xs, ys) for a in w0s]) for b in w1s])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.scatter(x.numpy(), y.numpy(), s=8)
    line = torch.linspace(500, 3500, 2, dtype=torch.float64)
    ax1.plot(line.numpy(), (w1 * line + w0).numpy(), color="red", label="closed form")
    ax1.set_xlabel("floor space (sq. ft)")
    ax1.set_ylabel("price ($1000s)")
    ax1.legend()
    ax2.contour(w0s.numpy(), w1s.numpy(), grid.log().numpy(), levels=30)
    px, py = zip(*gd.path)
    ax2.plot(px, py, ".-", color="red", markersize=3, label="descent path")
    ax2.set_xlabel("w0 (standardized)")
    ax2.set_ylabel("w1 (standardized)")
    ax2.set_title("convex loss surface (log scale)")
    ax2.legend()
    fig.tight_layout()
    return fig


def run(
    logdir: str | None = None,
    seed: int = 0,
    steps: int = 500,
    log: Callable[[str], object] = print,
    out: Path | None = None,
) -> dict[str, Any]:
    """Fit the house prices both ways and compare; the loss surface with the descent path as a
    picture (TensorBoard, and ``out`` as a PNG when given)."""
    x, y = house_data(seed=seed)
    w0, w1 = closed_form(x, y)
    # descent runs on standardized data (the raw loss surface is a narrow valley) and the
    # result is mapped back to dollars and square feet
    xs, mx, sx = standardize(x)
    ys, my, sy = standardize(y)
    gd = gradient_descent(xs, ys, alpha=0.1, steps=steps)
    s0, s1 = closed_form(xs, ys)
    g1 = gd.w1 * sy / sx
    g0 = my + sy * gd.w0 - g1 * mx
    log(f"closed form (eq. 18.3):  h(x) = {w1:.4f}·x + {w0:.2f}")
    log(
        f"gradient descent:        h(x) = {g1:.4f}·x + {g0:.2f}  ({steps} steps, α = 0.1, standardized)"
    )
    log(f"on standardized data: closed form ({s0:.8f}, {s1:.8f}), descent ({gd.w0:.8f}, {gd.w1:.8f}), "
        f"max difference {max(abs(s0 - gd.w0), abs(s1 - gd.w1)):.2e}")  # fmt: skip
    tb = writer("linreg", logdir)
    for i, value in enumerate(gd.losses):
        tb.add_scalar("linreg/loss", value, i)
    plt = pyplot()
    if plt is not None:
        fig = _figure(plt, x, y, (w0, w1), xs, ys, gd)
        keep_figure(fig, tb, "linreg/loss_surface", out)
    tb.close()
    return {
        "closed_form": (w0, w1),
        "descent": (g0, g1),
        "standardized": ((s0, s1), (gd.w0, gd.w1)),
    }

"""One logistic unit trained with the lecture's rule, and the same with autograd."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lecnn.lecture.common import keep_figure, pyplot, writer


def separable_data(
    n: int = 200, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two clouds in the plane, labels 0/1, with a constant input x0 = 1 prepended."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    centres = torch.tensor([[-1.5, -1.0], [1.5, 1.0]], dtype=dtype)
    points = centres[labels] + 0.6 * torch.randn(n, 2, generator=g, dtype=dtype)
    x = torch.cat([torch.ones(n, 1, dtype=dtype), points], dim=1)
    return x, labels.to(dtype)


def lecture_rule(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    epochs: int,
    on_epoch: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """``w_i ← w_i + α (y − h_w(x)) h_w(x)(1 − h_w(x)) x_i``, one example at a time;
    ``on_epoch(epoch, w)`` after each pass."""
    w = torch.zeros(x.shape[1], dtype=x.dtype)
    for epoch in range(1, epochs + 1):
        for xj, yj in zip(x, y):
            h = torch.sigmoid(w @ xj)
            w = w + alpha * (yj - h) * h * (1 - h) * xj
        if on_epoch is not None:
            on_epoch(epoch, w)
    return w


def autograd_rule(x: torch.Tensor, y: torch.Tensor, alpha: float, epochs: int) -> torch.Tensor:
    """The same unit trained by autograd on ``½ (y − h_w(x))²``, one example per SGD step."""
    w = torch.zeros(x.shape[1], dtype=x.dtype, requires_grad=True)
    opt = torch.optim.SGD([w], lr=alpha)
    for _ in range(epochs):
        for xj, yj in zip(x, y):
            opt.zero_grad()
            (0.5 * (yj - torch.sigmoid(w @ xj)) ** 2).backward()
            opt.step()
    return w.detach()


def run(
    logdir: str | None = None,
    seed: int = 0,
    epochs: int = 20,
    alpha: float = 0.5,
    log: Callable[[str], object] = print,
    out: Path | None = None,
) -> dict[str, Any]:
    """Train the unit by the lecture's rule and by autograd; the data with both decision lines as
    a picture (they coincide)."""
    x, y = separable_data(seed=seed)
    tb = writer("logistic", logdir)

    def record(epoch: int, w: torch.Tensor) -> None:
        h = torch.sigmoid(x @ w)
        tb.add_scalar("logistic/loss", float(((y - h) ** 2).sum()), epoch)
        tb.add_scalar(
            "logistic/accuracy", float(((h > 0.5).to(y.dtype) == y).double().mean()), epoch
        )

    w_rule = lecture_rule(x, y, alpha, epochs, on_epoch=record)
    w_auto = autograd_rule(x, y, alpha, epochs)
    accuracy = float(((torch.sigmoid(x @ w_rule) > 0.5).to(y.dtype) == y).double().mean())
    log(f"lecture's rule: w = {[round(v, 6) for v in w_rule.tolist()]}")
    log(f"autograd:       w = {[round(v, 6) for v in w_auto.tolist()]}")
    log(
        f"max difference {float((w_rule - w_auto).abs().max()):.2e}; training accuracy {accuracy:.1%}"
    )
    plt = pyplot()
    if plt is not None:
        _plot(plt, x, y, w_rule, w_auto, tb, out)
    tb.close()
    return {"lecture": w_rule, "autograd": w_auto, "accuracy": accuracy}


def _plot(plt, x, y, w_rule, w_auto, tb, out) -> None:
    """The two classes and each rule's decision line ``w·x = 0``."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for label, colour in ((0, "tab:blue"), (1, "tab:orange")):
        pts = x[y == label]
        ax.scatter(pts[:, 1], pts[:, 2], s=8, color=colour, label=f"y = {label}")
    xs = torch.linspace(float(x[:, 1].min()), float(x[:, 1].max()), 2, dtype=x.dtype)
    for w, style, name in ((w_rule, "-", "lecture's rule"), (w_auto, ":", "autograd")):
        ax.plot(xs, -(w[0] + w[1] * xs) / w[2], style, color="black", label=name)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title("logistic unit: h = g(w·x) = 0.5 on the line")
    ax.legend(loc="upper left")
    fig.tight_layout()
    keep_figure(fig, tb, "logistic/decision_line", out)

"""Full-batch gradient descent vs stochastic (one example per step) vs mini-batch, and a constant
step vs the lecture's O(1/t) step, on MNIST with the lecture's logistic MLP (manual layers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lecnn import manual as M
from lecnn.data import Split
from lecnn.lecture.common import keep_figure, pyplot, writer
from lecnn.models import build
from lecnn.models.spec import mlp_spec
from lecnn.training.engine import encode_targets
from lecnn.training.schedules import InverseTime


def mlp(
    hidden: int, seed: int, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> M.Sequential:
    """The lecture's network, 784-hidden-10 logistic units (the ``mlp`` model at 100)."""
    net = build(mlp_spec(hidden), "manual", seed=seed, device=device, dtype=dtype)
    net.needs_input_grad = False
    return net


@dataclass
class Method:
    name: str
    batch_size: int
    lr: float
    inverse_tau: float | None = None  # α_t = α/(1 + t/τ) when set


METHODS = [
    Method("full-batch", 0, 10.0),  # batch 0: the whole training set
    Method("mini-batch-32", 32, 10.0),
    Method("stochastic", 1, 1.0),
    Method("stochastic-1/t", 1, 1.0, inverse_tau=1000.0),
]


@torch.no_grad()
def sgd_pass(
    net: M.Sequential,
    loss: M.Loss,
    opt: M.SGD,
    x: torch.Tensor,
    targets: torch.Tensor,
    batch: int,
    generator: torch.Generator,
    rate: Callable[[], float] | None = None,
) -> Iterator[int]:
    """One pass of the lecture's stochastic gradient descent over (``x``, ``targets``) in an order
    drawn from ``generator``: for each mini-batch of ``batch`` examples the forward pass, the
    backward pass and ``w ← w − α ∂Loss/∂w`` (α from ``rate()`` when given, else ``opt.lr``).
    Yields the examples each update saw, after the update."""
    order = torch.randperm(len(x), generator=generator).to(x.device)
    for start in range(0, len(x), batch):
        idx = order[start : start + batch]
        loss.forward(net.forward(x[idx]), targets[idx])
        net.backward(loss.backward())
        if rate is not None:
            opt.lr = rate()
        opt.step(net.named_params(), net.named_grads())
        yield len(idx)


@torch.no_grad()
def curve(
    method: Method, train: Split, passes: int, seed: int, points: int = 50
) -> list[tuple[int, float, float]]:
    """Train from the same start with ``method``; return (examples seen, seconds, loss on the
    whole set) at about ``points`` moments. Evaluation time is not counted."""
    n = len(train)
    net, loss = mlp(100, seed, train.x.device, train.x.dtype), M.MSELoss("mean")
    opt = M.SGD(method.lr)
    schedule = InverseTime(method.lr, method.inverse_tau) if method.inverse_tau else None
    targets = encode_targets(train.y, "onehot01", train.x.dtype)
    batch = method.batch_size or n
    every = max(1, passes * n // points)
    g = torch.Generator().manual_seed(seed)
    seen, elapsed, next_record, t = 0, 0.0, 0, 0
    out = []

    def rate() -> float:
        nonlocal t
        t += 1
        return schedule(0, t - 1) if schedule else method.lr

    for _ in range(passes):
        start_time = time.perf_counter()
        for size in sgd_pass(net, loss, opt, train.x, targets, batch, g, rate):
            seen += size
            if seen >= next_record:
                elapsed += time.perf_counter() - start_time
                out.append((seen, elapsed, float(loss.forward(net.forward(train.x), targets))))
                next_record = seen + every
                start_time = time.perf_counter()
        elapsed += time.perf_counter() - start_time
    out.append((seen, elapsed, float(loss.forward(net.forward(train.x), targets))))
    return out


def run(train: Split, logdir: str | None = None, seed: int = 0, passes: int = 5,
        log: Callable[[str], object] = print,
        out: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Each method's loss curve from the same start, against examples seen and against seconds;
    both as a picture (TensorBoard, and ``out`` as a PNG when given)."""
    tb = writer("sgd", logdir)
    results = {}
    for method in METHODS:
        points = curve(method, train, passes, seed)
        for seen, seconds, value in points:
            tb.add_scalar(f"sgd/loss_vs_examples/{method.name}", value, seen)
            tb.add_scalar(f"sgd/loss_vs_milliseconds/{method.name}", value, int(seconds * 1000))
        results[method.name] = points
        seen, seconds, value = points[-1]
        log(f"{method.name:15s} batch {method.batch_size or len(train):5d}, α {method.lr:g}"
            f"{' /(1+t/' + format(method.inverse_tau, 'g') + ')' if method.inverse_tau else '':12s}: "
            f"loss {value:.4f} after {seen:,} examples, {seconds:.1f} s")  # fmt: skip
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for name, points in results.items():
            examples, times, values = zip(*points)
            axes[0].plot(examples, values, label=name)
            axes[1].plot(times, values, label=name)
        for ax, xlabel in zip(axes, ("examples seen", "training seconds")):
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("mean squared error, whole training set")
            ax.legend()
        fig.tight_layout()
        keep_figure(fig, tb, "sgd/curves", out)
    tb.close()
    return results

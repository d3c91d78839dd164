"""Step-size schedules ``α_t`` and ``--schedule``'s parser. A schedule is a function of the pass
and the update number; the trainer asks it for each update's rate and hands the rate to the
optimizer, so the optimizers of ``lecnn.manual`` never see a schedule and this module sits with
the training code that uses it, not in the backprop package."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

from lecnn.errors import LecnnError
from lecnn.options import call

#: a schedule: (pass, update number, both from 0) → the update's rate
Schedule = Callable[[int, int], float]


class Constant:
    """``α_t = α``."""

    def __init__(self, lr: float) -> None:
        self.lr = float(lr)

    def __call__(self, epoch: int, step: int) -> float:
        return self.lr

    def __repr__(self) -> str:
        return f"constant({self.lr:g})"


class InverseTime:
    """The lecture's decaying step ``α_t = α₀ / (1 + t/τ)`` over updates t: Σα_t diverges while
    Σα_t² converges, the classic condition for stochastic gradient descent to converge."""

    def __init__(self, lr: float, tau: float) -> None:
        self.lr, self.tau = float(lr), float(tau)

    def __call__(self, epoch: int, step: int) -> float:
        return self.lr / (1.0 + step / self.tau)

    def __repr__(self) -> str:
        return f"inverse({self.lr:g}, tau={self.tau:g})"


class Steps:
    """Piecewise-constant rates by pass, as in the LeNet-5 paper: ``[(passes, rate), ...]``; the
    last rate continues after the list ends."""

    def __init__(self, steps: Sequence[tuple[int, float]]) -> None:
        if not steps:
            raise ValueError("Steps needs at least one (passes, rate) pair")
        self.steps = [(int(n), float(r)) for n, r in steps]

    def __call__(self, epoch: int, step: int) -> float:
        for passes, rate in self.steps:
            if epoch < passes:
                return rate
            epoch -= passes
        return self.steps[-1][1]

    def __repr__(self) -> str:
        return "steps(" + ",".join(f"{n}x{r:g}" for n, r in self.steps) + ")"


class LinearDecay:
    """``α`` falling linearly from ``lr`` to 0 over ``total`` updates (a short-run schedule)."""

    def __init__(self, lr: float, total: int) -> None:
        self.lr, self.total = float(lr), max(int(total), 1)

    def __call__(self, epoch: int, step: int) -> float:
        return self.lr * max(0.0, 1.0 - step / self.total)

    def __repr__(self) -> str:
        return f"linear({self.lr:g}→0 over {self.total} updates)"


class Cosine:
    """``α`` following half a cosine from ``lr`` to 0 over ``total`` updates."""

    def __init__(self, lr: float, total: int) -> None:
        self.lr, self.total = float(lr), max(int(total), 1)

    def __call__(self, epoch: int, step: int) -> float:
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, self.total) / self.total))

    def __repr__(self) -> str:
        return f"cosine({self.lr:g}→0 over {self.total} updates)"


class PassLinear:
    """``α`` interpolated linearly by pass, from ``lr`` on the first to ``end·lr`` on the last."""

    def __init__(self, lr: float, end: float, epochs: int) -> None:
        self.lr, self.end, self.epochs = float(lr), float(end), max(int(epochs), 1)

    def __call__(self, epoch: int, step: int) -> float:
        f = epoch / (self.epochs - 1) if self.epochs > 1 else 0.0
        return self.lr * ((1 - f) + f * self.end)

    def __repr__(self) -> str:
        return f"passlinear({self.lr:g}→{self.lr * self.end:g} over {self.epochs} passes)"


def _anneal(start: float, end: float, pct: float, how: str) -> float:
    """From ``start`` (pct 0) to ``end`` (pct 1): half a cosine, or a straight line."""
    if how == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


class OneCycle:
    """The one-cycle schedule as ``torch.optim.lr_scheduler.OneCycleLR`` defines it: from
    ``lr/div`` up to the peak ``lr`` over the first ``pct`` of ``total`` updates, then down to
    ``lr/(div·final)`` by the last, each half annealed by cosine (``anneal="cos"``) or linearly.
    Update t (0-based) gets what OneCycleLR gives after t scheduler steps."""

    def __init__(
        self,
        lr: float,
        total: int,
        pct: float = 0.3,
        anneal: str = "cos",
        div: float = 25.0,
        final: float = 1e4,
    ) -> None:
        if not 0 < pct < 1 or anneal not in ("cos", "linear") or div <= 0 or final <= 0:
            raise ValueError("onecycle needs 0 < pct < 1, anneal cos or linear, div and final > 0")
        self.lr, self.total, self.pct, self.anneal = float(lr), max(int(total), 2), pct, anneal
        self.initial = self.lr / div
        self.floor = self.initial / final
        self.peak_step = float(pct * self.total) - 1  # OneCycleLR's phase boundary

    def __call__(self, epoch: int, step: int) -> float:
        step = min(step, self.total - 1)
        if step <= self.peak_step:
            return _anneal(self.initial, self.lr, step / self.peak_step, self.anneal)
        span = (self.total - 1) - self.peak_step
        return _anneal(self.lr, self.floor, (step - self.peak_step) / span, self.anneal)

    def __repr__(self) -> str:
        return (f"onecycle({self.initial:g}→{self.lr:g}→{self.floor:g} over {self.total} updates, "
                f"peak at {self.pct:.0%}, {self.anneal})")  # fmt: skip


class Warmup:
    """``inner`` after a linear warm-up: updates 0 … w−1 get ``lr·(t+1)/w``, then update t gets
    ``inner(t − w)`` (the inner schedule spans the updates after the warm-up)."""

    def __init__(self, inner: Callable[[int, int], float], lr: float, steps: int) -> None:
        self.inner, self.lr, self.steps = inner, float(lr), max(int(steps), 1)

    def __call__(self, epoch: int, step: int) -> float:
        if step < self.steps:
            return self.lr * (step + 1) / self.steps
        return self.inner(epoch, step - self.steps)

    def __repr__(self) -> str:
        return f"warmup over {self.steps} updates, then {self.inner!r}"


def parse_schedule(text: str, lr: float, steps_per_epoch: int, epochs: int):
    """``constant`` | ``inverse[:TAU]`` (α₀/(1 + t/τ), τ defaults to one pass) | ``linear`` |
    ``cosine`` | ``passlinear:F`` (from α₀ on the first pass to F·α₀ on the last) |
    ``steps:2x0.0005,3x0.0002,...`` (passes × rate, the LeNet-5 paper's form)."""
    total = steps_per_epoch * epochs
    name, _, arg = text.partition(":")
    if name in ("linear", "cosine", "onecycle"):
        return _over_the_run(text, name, lr, total)
    try:
        if name == "constant" and not arg:
            return Constant(lr)
        if name == "inverse":
            return InverseTime(lr, _positive(arg, text) if arg else steps_per_epoch)
        if name == "passlinear" and arg:
            return PassLinear(lr, _positive(arg, text), epochs)
        if name == "steps" and arg:
            pairs = []
            for part in arg.split(","):
                n, _, rate = part.partition("x")
                if int(n) < 1:
                    raise LecnnError(f"--schedule {text!r}: each step lasts at least 1 pass")
                pairs.append((int(n), _positive(rate, text)))
            return Steps(pairs)
    except ValueError:
        pass
    raise LecnnError(
        f"--schedule {text!r}: use constant, inverse[:TAU], linear, cosine, onecycle (each of "
        "these three with options, e.g. cosine:warmup=0.1), passlinear:F or "
        "steps:PASSESxRATE,... (e.g. steps:2x0.0005,3x0.0002)"
    )


def _decay(lr: float, total: int, kind: str = "linear", warmup: float = 0.0):
    if not 0 <= warmup < 1:
        raise ValueError("warmup is a fraction of the run, from 0 up to (not including) 1")
    steps = round(warmup * total)
    inner = (LinearDecay if kind == "linear" else Cosine)(lr, total - steps)
    return Warmup(inner, lr, steps) if steps else inner


def _over_the_run(text: str, name: str, lr: float, total: int):
    """``linear``/``cosine`` (to 0 over the run, ``:warmup=F`` first rising over that fraction)
    and ``onecycle[:pct=,anneal=,div=,final=]`` (``torch.optim.lr_scheduler.OneCycleLR``)."""
    if name == "onecycle":
        factory = partial(OneCycle, lr, total)
    else:
        factory = partial(_decay, lr, total, kind=name)
    try:
        return call(factory, text)
    except ValueError as e:
        raise LecnnError(f"--schedule {text!r}: {e}") from None
    except LecnnError as e:  # an unknown option or a value of the wrong type
        raise LecnnError(f"--schedule {e}") from None


def _positive(text: str, schedule: str) -> float:
    """A schedule's number: finite and greater than 0 (a rate ≤ 0 would train uphill or stall)."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise LecnnError(f"--schedule {schedule!r}: {text} must be a finite number greater than 0")
    return value

"""The schedules people use: one-cycle equal to ``torch.optim.lr_scheduler.OneCycleLR`` rate by
rate, and warm-up before the linear and cosine decays, in ``--schedule``'s grammar."""

from __future__ import annotations

import math

import pytest
import torch

from lecnn.errors import LecnnError
from lecnn.training.schedules import parse_schedule


def _torch_rates(total: int, **kwargs) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, total_steps=total, **kwargs)
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize(
    "options, kwargs",
    [
        ("", {}),
        (":pct=0.25,anneal=linear", {"pct_start": 0.25, "anneal_strategy": "linear"}),
        (":div=10,final=100", {"div_factor": 10.0, "final_div_factor": 100.0}),
    ],
)
@pytest.mark.parametrize("steps_per_pass, passes", [(7, 3), (235, 2), (1, 5)])
def test_onecycle_equals_torchs_onecycle_rate_by_rate(options, kwargs, steps_per_pass, passes):
    total = steps_per_pass * passes
    ours = parse_schedule("onecycle" + options, 0.02, steps_per_pass, passes)
    ref = _torch_rates(total, max_lr=0.02, **kwargs)
    got = [ours(step // steps_per_pass, step) for step in range(total)]
    assert max(abs(a - b) for a, b in zip(got, ref)) <= 1e-12 * 0.02
    assert max(got) <= 0.02 and (total < 20 or max(got) > 0.9 * 0.02)  # up to the peak, down


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_warmup_rises_to_the_rate_then_decays_over_the_rest(kind):
    plain = parse_schedule(kind, 0.1, 100, 1)
    warm = parse_schedule(f"{kind}:warmup=0.1", 0.1, 100, 1)
    rates = [warm(0, t) for t in range(100)]
    assert rates[:10] == pytest.approx([0.1 * (t + 1) / 10 for t in range(10)], rel=1e-12)
    assert rates[10] == pytest.approx(0.1) and rates[-1] < 0.1 * 0.02
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))  # decays after the warm-up
    assert parse_schedule(f"{kind}:warmup=0", 0.1, 100, 1)(0, 37) == plain(0, 37)
    half = (math.cos(math.pi * 45 / 90) + 1) / 2 if kind == "cosine" else 1 - 45 / 90
    assert warm(0, 55) == pytest.approx(0.1 * half, rel=1e-12)


@pytest.mark.parametrize(
    "text", ["onecycle:pct=1.5", "onecycle:anneal=step", "cosine:warmup=1", "linear:kind=cos",
             "onecycle:peak=3", "cosine:warmup=x"],
)  # fmt: skip
def test_bad_schedule_options_are_one_line_errors(text):
    with pytest.raises(LecnnError, match="--schedule|schedule"):
        parse_schedule(text, 0.1, 10, 2)

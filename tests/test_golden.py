"""Numerics pinned: each short fixed run of tests/golden.py ends with the misses, losses and weight
sums kept in tests/fixtures/golden.json — to the last digit on the machine and torch that wrote
them — so a change that moves the numbers fails here, with how to regenerate, instead of
drifting silently away from the committed reports."""

from __future__ import annotations

import json

import pytest
import torch
from golden import CASES, FILE, REGENERATE, differences, environment, measure, measure_apart

from lecnn.manual.conv import Conv2d

GOLDEN = json.loads(FILE.read_text())


def test_every_case_has_golden_figures():
    assert set(GOLDEN["cases"]) == {c.name for c in CASES}
    assert GOLDEN["threads"] == 1


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_short_run_ends_with_its_golden_figures(case, mnist_dir):
    exact = environment() == GOLDEN["environment"]
    wrong = differences(GOLDEN["cases"][case.name], measure_apart(case, mnist_dir), exact)
    how = "to the digit" if exact else (
        f"within the stated closeness: written on {GOLDEN['environment']}, run on {environment()}"
    )  # fmt: skip
    assert not wrong, f"{case.name} ({how}): {'; '.join(wrong)}. {REGENERATE}"


def test_one_float_sum_taken_in_another_order_is_caught(mnist_dir, monkeypatch):
    """The planted change: the convolution's bias gradient summed over positions, then examples
    (the same sum, other roundings). The golden figures must see it."""
    case = next(c for c in CASES if c.name == "lenet5-modern/manual/eager")

    def reordered(self, dy: torch.Tensor) -> torch.Tensor:
        return dy.sum((2, 3)).sum(0) if self.bias_mode == "channel" else dy.sum(0)

    monkeypatch.setattr(Conv2d, "bias_sum", reordered)
    wrong = differences(GOLDEN["cases"][case.name], measure(case, mnist_dir), exact=True)
    assert wrong, "a reordered float sum left every golden figure as it was"

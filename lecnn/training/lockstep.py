"""A pass of training for one run or for several in lockstep: the one place the order of a pass's
work is written. Each member (a ``Trainer``) brings its next chunk of batches (its own data order
and augmentation draws), ``apply`` takes the updates of all of them — one run's own eager or
compiled update, or one program for a group (``lecnn.training.grouped``) — and each member then
accounts for its own (sums, logs, the finite-loss check, its stop and checkpoint)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from lecnn.training.reporter import Tally
from lecnn.training.state import Diverged

if TYPE_CHECKING:
    from lecnn.training.loop import Trainer

#: ``apply(members, chunks)``: each member's (losses, outputs, loss summed over the examples)
Apply = Callable[[Sequence["Trainer"], Sequence[Any]], Sequence[Any]]
OnStep = Callable[[int, torch.Tensor], bool | None]


@dataclass
class Stretch:
    """The rest of a pass for one member: its examples in their order, and its updates' sums."""

    xs: torch.Tensor
    ts: torch.Tensor
    ys: torch.Tensor
    tally: Tally
    first: tuple[torch.Tensor, int] | None = None  # the run's first update's loss, per batch
    last: torch.Tensor | None = field(default=None, repr=False)  # the latest update's loss


def run_pass(
    members: Sequence[Trainer],
    apply: Apply,
    on_step: OnStep | None = None,
    on_diverged: Callable[[Trainer, Diverged], None] | None = None,
) -> bool:
    """The rest of the current pass for ``members`` (runs at the same place in the same pass);
    False when they stopped early (each with its checkpoint saved). A member that diverges is
    passed to ``on_diverged`` and leaves the pass while the others go on (with no
    ``on_diverged``, Diverged is raised: a single run)."""
    live = list(members)
    stretches = {m: m._start_stretch() for m in live}  # a Trainer hashes by identity

    def drop(m: Trainer, e: Diverged) -> None:
        if on_diverged is None:
            raise e
        on_diverged(m, e)
        live.remove(m)

    while live and live[0].progress.batch < live[0].batches:
        chunks = [m._next_chunk(stretches[m]) for m in live]
        wishes = {}
        for m, chunk, result in zip(list(live), chunks, apply(live, chunks), strict=True):
            try:
                wishes[m] = m._took(stretches[m], chunk, result, on_step)
            except Diverged as e:
                drop(m, e)
        stopped = []
        for m in list(live):
            try:
                if m._stops_here(stretches[m], wishes.get(m)):
                    stopped.append(m)
            except Diverged as e:
                drop(m, e)
        if stopped:  # a group stops together (Ctrl-C reaches every member at once)
            for m in live:
                if m not in stopped:
                    m._stops_here(stretches[m], True)
            return False
    for m in live:
        m._fold(stretches[m].tally)
    return True

"""The optimizers against ``torch.optim``: the same random parameters and gradients, several steps,
max abs/rel error of the parameters afterwards (one row per optimizer and tensor)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lecnn import manual as M
from lecnn.checks.parity import Row, compare

STEPS = 5

#: name -> (lecnn optimizer, torch.optim optimizer over a parameter list)
CASES: dict[
    str, tuple[Callable[[], M.optim.Optimizer], Callable[[list], torch.optim.Optimizer]]
] = {
    "SGD": (lambda: M.SGD(0.1), lambda p: torch.optim.SGD(p, 0.1)),
    "SGD/momentum+L2": (
        lambda: M.SGD(0.05, momentum=0.9, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, 0.05, momentum=0.9, weight_decay=0.01),
    ),
    "Adam/L2": (
        lambda: M.Adam(0.01, weight_decay=0.01),
        lambda p: torch.optim.Adam(p, 0.01, weight_decay=0.01),
    ),
    "AdamW": (
        lambda: M.Adam(0.01, weight_decay=0.1, decoupled=True),
        lambda p: torch.optim.AdamW(p, 0.01, weight_decay=0.1),
    ),
}


def optimizer_rows(device: torch.device, dtype: torch.dtype) -> list[Row]:
    """Each optimizer's parameters after ``STEPS`` updates, against ``torch.optim``'s."""
    rows = []
    for name, (ours, theirs) in CASES.items():
        g = torch.Generator().manual_seed(0)
        shapes = {"weight": (4, 3), "bias": (4,)}
        start = {k: torch.randn(s, generator=g, dtype=dtype) for k, s in shapes.items()}
        grads = [{k: torch.randn(s, generator=g, dtype=dtype) for k, s in shapes.items()}]
        grads += [{k: torch.randn(s, generator=g, dtype=dtype) for k, s in shapes.items()}]
        params = {k: v.clone().to(device) for k, v in start.items()}
        ref = {k: v.clone().to(device).requires_grad_() for k, v in start.items()}
        opt, opt_ref = ours(), theirs(list(ref.values()))
        for i in range(STEPS):
            step = {k: v.to(device) for k, v in grads[i % 2].items()}
            opt.step(params, step)
            for k, p in ref.items():
                p.grad = step[k].clone()
            opt_ref.step()
        rows += [compare(f"optimizer {name}", k, params[k], ref[k].detach()) for k in shapes]
    return rows

"""Initial weights, one rule per scheme, drawn from the generator the caller owns.

Each layer with weights calls these from its own ``reset_parameters(scheme, generator)``; a
``generator`` of None draws from torch's default one, as ``torch.nn``'s layers do.

- ``torch``: ``torch.nn``'s defaults, weights and biases U(±1/√F), F the fan-in.
- ``lecun1989``: weights U(±2.4/√F_j), F_j the fan-in of unit j, biases 0 (the 1989 paper).
- ``lenet5``: the same. The 1998 paper prints U(±2.4/F), but taken literally that shrinks the
  weighted sums layer after layer (about 10⁻³ at C5, with averaging subsampling) and leaves the
  sigmoids' operating range the paper says it aims for; with √F the sums stay in that range, so
  √F is used (a departure the reproduction report states).
- ``lenet5-printed``: the printed U(±2.4/F) (``--model lenet5:init=printed``).
- ``lush``: U(±1/√F_j), biases 0: the authors' own LeNet-5 code, ``forget 1 2`` (c = v/F^(1/p)
  with v = 1, p = 2; barak/lush packages/gblearn2/gb-modules-nn.lsh:99–109 and 447–459).
"""

from __future__ import annotations

import torch

SCHEMES = ("torch", "lecun1989", "lenet5", "lenet5-printed", "lush")
#: the papers' schemes: U(±NUMERATOR/√F_j) (the printed one: /F_j), biases 0
NUMERATOR = {"lecun1989": 2.4, "lenet5": 2.4, "lenet5-printed": 2.4, "lush": 1.0}


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")


def uniform(
    shape: torch.Size | tuple[int, ...],
    bound: float | torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """U(±bound) of ``shape`` (float32, CPU; the caller copies it where its weights are), drawn
    as ``Tensor.uniform_`` draws it; ``bound`` a number or a tensor broadcasting against it."""
    if isinstance(bound, torch.Tensor):
        return (torch.rand(shape, generator=generator) * 2 - 1) * bound
    return torch.empty(shape).uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def fan_in_weights(
    weight: torch.Tensor, fan_in: torch.Tensor, scheme: str, generator: torch.Generator | None
) -> None:
    """In place: ``weight`` (out × ...) drawn by one of the papers' schemes, U(±2.4/√F_j),
    U(±2.4/F_j) or U(±1/√F_j), ``fan_in`` holding F_j for each output unit (shape out)."""
    fan = fan_in.to(torch.float32).view(-1, *([1] * (weight.dim() - 1)))
    bound = NUMERATOR[scheme] / (fan if scheme == "lenet5-printed" else fan.sqrt())
    weight.copy_(uniform(weight.shape, bound, generator))

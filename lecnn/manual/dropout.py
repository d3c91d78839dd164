"""Dropout (a modern addition: used by the 1989 net's "modern" variant)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

from lecnn.manual.base import Layer


class Dropout(Layer):
    """Inverted dropout: in training each unit is kept with probability 1 − p and scaled by
    1/(1 − p); in evaluation it is the identity.

    Forward   ``y = x · mask``, ``mask ∈ {0, 1/(1 − p)}`` drawn per unit (training)
    Backward  ``dx = dy · mask``
    Curvature ``d2x = d2y · mask²``
    Shapes: any → same.

    The masks are drawn from ``generator`` (the run's own, on the data's device; torch's default
    one when None), so a run's masks are its own whatever else the process draws.
    """

    kind = "dropout"
    saved = ("mask",)

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = dropout_probability(p)
        self.training = True
        self.generator = generator

    def train(self, mode: bool = True) -> None:
        self.training = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        self.mask = dropout_mask(x, self.p, self.generator)
        return x * self.mask

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy if self.mask is None else dy * self.mask

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        return d2y if self.mask is None else d2y * self.mask * self.mask


def dropout_mask(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout's mask for ``x``: 1/(1 − p) where a uniform draw is ≥ p, else 0 (one draw
    per unit, from ``generator``). The autograd twin draws the same mask. Inside ``supplied``,
    the next of the given masks instead (drawn beforehand by ``draw_mask``)."""
    given = _SUPPLIED.get()
    if given is not None and given.probe:  # what would be drawn, and nothing drawn
        given.shapes.append((tuple(x.shape), p))
        return torch.ones_like(x)
    if given is not None:
        return given.masks.pop(0)
    return draw_mask(x.shape, p, generator, x.device, x.dtype)


def draw_mask(
    shape: tuple[int, ...],
    p: float,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """The mask ``dropout_mask`` draws for an input of ``shape`` on ``device``."""
    where = generator.device if generator is not None else device
    keep = torch.rand(shape, generator=generator, device=where, dtype=dtype) >= p
    return keep.to(device=device, dtype=dtype) / (1.0 - p)


class _Supply:
    def __init__(self, masks: list[torch.Tensor] | None) -> None:
        self.probe = masks is None
        self.masks = list(masks or [])
        self.shapes: list[tuple[tuple[int, ...], float]] = []


_SUPPLIED: ContextVar[_Supply | None] = ContextVar("dropout_masks", default=None)


@contextmanager
def supplied(masks: list[torch.Tensor] | None) -> Iterator[_Supply]:
    """Within: every dropout layer takes the next of ``masks`` instead of drawing one (in forward
    order), so runs trained as one group can bring masks drawn from their own generators. With
    ``masks=None`` a probe: the layers draw nothing and record the shapes and probabilities they
    would draw for (``.shapes``), their masks all ones."""
    token = _SUPPLIED.set(_Supply(masks))
    try:
        yield _SUPPLIED.get()  # type: ignore[misc]
    finally:
        _SUPPLIED.reset(token)


def dropout_probability(p: float) -> float:
    """``p`` as a float, checked: dropout drops with a probability in [0, 1)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), not {p}")
    return float(p)

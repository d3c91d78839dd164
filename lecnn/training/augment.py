"""Random distortions on the device, one ``grid_sample`` per batch: the paper's planar affine maps
(LeCun et al. 1998, §III.C: translation, scaling, squeezing, horizontal shearing), a stronger
affine kind with rotation, and the 1989 reproduction's ±1-pixel shifts."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from lecnn.errors import LecnnError
from lecnn.options import parse, split


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    degrees: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    shear: float = 0.15,
    translate: float = 0.1,
) -> torch.Tensor:
    """Distort each image of ``x`` (N×C×H×W) by its own random affine map.

    Rotation ±``degrees``, independent x/y scale in ``scale`` (squeezing), shear ±``shear``,
    shift ±``translate`` of the field. Borders repeat the edge pixels (the background).
    """
    n = x.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        r = torch.rand(n, generator=generator, device=x.device, dtype=x.dtype)
        return lo + (hi - lo) * r

    angle = uniform(-degrees, degrees) * (math.pi / 180)
    sx, sy = uniform(*scale), uniform(*scale)
    sh = uniform(-shear, shear)
    tx, ty = uniform(-translate, translate) * 2, uniform(-translate, translate) * 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    # rotation · shear · scale, in grid_sample's output→input convention
    theta = torch.stack(
        [
            torch.stack([cos * sx, (cos * sh - sin) * sy, tx], dim=1),
            torch.stack([sin * sx, (sin * sh + cos) * sy, ty], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_shift(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by −1, 0 or +1 pixel along each axis (wrapping around, as the 1989
    reproduction's "modern" variant does with ``torch.roll``). N×C×H×W → same."""
    n, _, h, w = x.shape
    shifts = torch.randint(-1, 2, (2, n), generator=generator, device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h) - shifts[0].view(n, 1)) % h
    cols = (torch.arange(w, device=x.device).view(1, w) - shifts[1].view(n, 1)) % w
    index = rows.view(n, 1, h, 1) * w + cols.view(n, 1, 1, w)
    flat = x.reshape(n, x.shape[1], h * w)
    return flat.gather(2, index.expand(n, x.shape[1], h, w).reshape(n, x.shape[1], -1)).view_as(x)


def paper_theta(
    n: int,
    size: int,
    generator: torch.Generator | None = None,
    *,
    strength: float = 1.0,
    translate: float = 2.0,
    scale: float = 0.1,
    squeeze: float = 0.1,
    shear: float = 0.15,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """N×2×3 sampling maps (``grid_sample``'s output → input, normalised coordinates) made of the
    paper's parts only, each drawn uniformly and scaled by ``strength``: a shift of ±``translate``
    pixels along each axis, a scale 1 ± ``scale``, a squeeze 1 ± ``squeeze`` (x by (1 − q), y by
    (1 + q): horizontal compression with vertical elongation, or the reverse), a horizontal shear
    x += k·y with k ∈ ±``shear``. No rotation: y never depends on x."""

    def uniform(half: float) -> torch.Tensor:
        r = torch.rand(n, generator=generator, device=device, dtype=dtype)
        return (2 * r - 1) * (half * strength)

    s, q, k = 1 + uniform(scale), uniform(squeeze), uniform(shear)
    tx, ty = uniform(translate) * (2 / size), uniform(translate) * (2 / size)
    sx, sy = s * (1 - q), s * (1 + q)
    zero = torch.zeros_like(s)
    return torch.stack(
        [torch.stack([sx, k * sy, tx], dim=1), torch.stack([zero, sy, ty], dim=1)], dim=1
    )


def paper_distortions(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    strength: float = 1.0,
    translate: float = 2.0,
    scale: float = 0.1,
    squeeze: float = 0.1,
    shear: float = 0.15,
) -> torch.Tensor:
    """Distort each image of ``x`` (N×C×H×W, square) by its own map from ``paper_theta``; the
    borders repeat the edge pixels (the background). ``--augment-kind paper:strength=0.5``."""
    theta = paper_theta(
        x.shape[0], x.shape[-1], generator, strength=strength, translate=translate, scale=scale,
        squeeze=squeeze, shear=shear, device=x.device, dtype=x.dtype,
    )  # fmt: skip
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


AUGMENTATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "paper": paper_distortions,
    "affine": random_affine,
    "shift1": random_shift,
}


#: the paper's fixed pool of distorted copies (``lecnn.training.pool``): drawn per pass, not
#: distorted per batch, so the loop builds it itself; its options are the pool's
POOLED = {"paper-pool"}


def pool_options(copies: int = 9, strength: float = 1.0) -> dict:
    """``--augment-kind paper-pool:copies=9,strength=1`` (the paper's 540,000 = 9 × 60,000)."""
    if copies < 1 or not strength > 0:
        raise LecnnError("paper-pool needs copies ≥ 1 and strength > 0")
    return {"copies": copies, "strength": strength}


def augmentation(kind: str) -> Callable[..., torch.Tensor]:
    """The augmentation ``kind`` names, with its options: ``paper:strength=0.5,shear=0.2``
    (``paper-pool``, which the loop builds, is checked here and distorts nothing itself)."""
    name = split(kind)[0]
    if name in POOLED:
        options = parse(pool_options, kind)
        pool_options(**options)
        return lambda x, generator=None: x
    if name not in AUGMENTATIONS:
        choices = ", ".join([*AUGMENTATIONS, *POOLED])
        raise LecnnError(f"augment kind {kind!r}: choose {choices}")
    fn = AUGMENTATIONS[name]
    return partial(fn, **parse(fn, kind))

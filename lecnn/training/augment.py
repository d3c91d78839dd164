"""Random affine distortions on the device, in the spirit of LeCun et al. 1998 (§III.C: planar
affine transformations — translation, scaling, squeezing, shearing) — one grid_sample per batch."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


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


AUGMENTATIONS = {"affine": random_affine, "shift1": random_shift}

"""LeCun et al. 1998's distortion protocol as the paper ran it (§III.C): a fixed pool of the n
training patterns and ``copies`` distorted copies of each (MNIST: 60,000 + 540,000), made once from
the run's seed; each pass presents n patterns drawn from the pool, so over 20 passes each distorted
copy is seen about twice and about one presentation in ten is an original.

The copies are stored compactly, as their sampling maps (n·copies × 2×3 float32: 13 MB for
MNIST), not as images (2.2 GB at 32×32); a batch's copies are rendered from their maps when it is
drawn (``grid_sample``), the same pixels every time the same copy comes round."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lecnn.data import derived_seed
from lecnn.options import parse, split
from lecnn.training.augment import POOLED, paper_theta, pool_options
from lecnn.training.config import ResolvedConfig


class DistortionPool:
    """The pool for ``n`` patterns of ``size``×``size``: its maps drawn from the run's ``seed``
    (a generator of the pool's own), the paper's distortion ranges (``augment.paper_theta``)."""

    def __init__(
        self,
        n: int,
        size: int,
        seed: int,
        device: torch.device,
        copies: int = 9,
        strength: float = 1.0,
    ) -> None:
        self.n, self.copies = n, copies
        g = torch.Generator().manual_seed(derived_seed(seed, "distortion pool"))
        theta = paper_theta(n * copies, size, g, strength=strength)
        self.theta = theta.to(device)

    @property
    def size(self) -> int:
        """Patterns in the pool: the originals and their copies."""
        return self.n * (1 + self.copies)

    def order(self, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        """One pass: n distinct pool entries in random order (entry e: pattern e mod n, copy
        e div n; copy 0 is the original)."""
        drawn = torch.randperm(self.size, generator=generator, device=generator.device)
        return drawn[: self.n].to(device)

    def render(self, x: torch.Tensor, entries: torch.Tensor) -> torch.Tensor:
        """The batch ``x`` (the entries' originals, N×C×H×W) as the pool holds them: originals
        as they are, copies through their own maps."""
        copy = entries // self.n
        distorted = copy > 0
        if not bool(distorted.any()):
            return x
        maps = self.theta[((copy - 1) * self.n + entries % self.n).clamp(min=0)]
        grid = F.affine_grid(maps.to(x.dtype), list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return torch.where(distorted.view(-1, 1, 1, 1), out, x)


def pool_for(
    config: ResolvedConfig, n: int, size: int, device: torch.device
) -> DistortionPool | None:
    """The run's pool when it trains with ``--augment-kind paper-pool[:copies=,strength=]``."""
    if not config.augment or split(config.augment_kind or "")[0] not in POOLED:
        return None
    return DistortionPool(n, size, config.seed, device, **parse(pool_options, config.augment_kind))

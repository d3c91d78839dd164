"""Mini-batches as index tensors drawn on the data's own device — no per-sample DataLoader work."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import Dataset

from lecnn.data.mnist import Digits


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A generator on ``device`` (CPU where the device has none), seeded."""
    try:
        g = torch.Generator(device=device)
    except RuntimeError:
        g = torch.Generator()
    return g.manual_seed(seed)


def derived_seed(seed: int, purpose: str) -> int:
    """A seed of its own for each ``purpose`` of a run's ``seed`` (its dropout masks, say), so
    two generators of one run do not draw the same numbers."""
    digest = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def pass_order(
    n: int, *, device: torch.device, generator: torch.Generator | None = None, shuffle: bool = True
) -> torch.Tensor:
    """One pass's order of ``range(n)`` on ``device``: a permutation drawn from ``generator``, or
    the data's own order when not ``shuffle``."""
    if not shuffle:
        return torch.arange(n, device=device)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.randperm(n, generator=generator, device=gen_device).to(device)


def batch_indices(
    n: int,
    batch_size: int,
    *,
    device: torch.device,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[torch.Tensor]:
    """Index tensors (on ``device``) covering ``range(n)`` in batches of ``batch_size``.

    With ``shuffle``, one permutation per call from ``generator``; the last short batch is kept
    unless ``drop_last``.
    """
    order = pass_order(n, device=device, generator=generator, shuffle=shuffle)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


class DigitsDataset(Dataset[tuple[Any, int]]):
    """A torch Dataset over one split of ``Digits`` yielding (PIL image, label), for users who want
    torchvision transforms and a DataLoader; training itself slices device tensors by
    ``pass_order``."""

    def __init__(
        self, digits: Digits, train: bool = True, transform: Callable[[Any], Any] | None = None
    ) -> None:
        self.images = digits.train_images if train else digits.test_images
        self.labels = digits.train_labels if train else digits.test_labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        from PIL import Image

        image = Image.fromarray(self.images[i].numpy(), mode="L")
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[i])

"""The inputs each network expects, made from the 28×28 digits, as float tensors on a device.

- ``mnist28``: 1×28×28, standardized with the training set's mean 0.1307 and std 0.3081.
- ``lenet32``: 1×32×32, the 28×28 digit centred in a 32×32 field, scaled as in LeCun et al. 1998
  (background −0.1, full ink 1.175).
- ``lush32``: 1×32×32, the digit at (2, 2) in a field of 0, pixels × 0.01 (ink up to 2.55): the
  input of the authors' own LeNet-5 code (Lush's gblearn2 demo).
- ``lenet28``: 1×28×28, the digit resized to 16×16 and centred in a 28×28 field, scaled like
  ``lenet32`` (LeNet-1's input in LeCun et al. 1998).
- ``mnist16``: all of MNIST resized like ``zip16`` (for the 1989 net on the full set).
- ``zip16``: the 1989-sized set: 7,291 training and 2,007 test digits drawn by a seeded permutation,
  resized to 16×16 by bilinear interpolation, values in [−1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lecnn.data.mnist import Digits
from lecnn.errors import LecnnError

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
ZIP_TRAIN, ZIP_TEST = 7291, 2007


@dataclass
class Split:
    """Images ``x`` (N×1×H×W float) and labels ``y`` (N int64), on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))

    def head(self, n: int) -> Split:
        """The first ``n`` digits (views, no copy)."""
        return Split(self.x[:n], self.y[:n])


@dataclass
class Prepared:
    """Both splits of a data set in one input form, on one device."""

    train: Split
    test: Split
    input: str

    def to(self, device: torch.device) -> Prepared:
        """The same digits on ``device`` (no copy where they already are)."""
        return Prepared(self.train.to(device), self.test.to(device), self.input)

    def limited(self, limit: int | None) -> Prepared:
        """Only the first ``limit`` training digits (all when None); the test split whole."""
        if limit is None or limit >= len(self.train):
            return self
        return Prepared(self.train.head(limit), self.test, self.input)


def standardize(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×28×28 → float N×1×28×28, (p/255 − 0.1307)/0.3081."""
    return ((images.float() / 255.0 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def lenet32(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×28×28 → float N×1×32×32: centred with a 2-pixel margin, −0.1 background, 1.175 ink."""
    x = images.float().unsqueeze(1) / 255.0
    x = F.pad(x, (2, 2, 2, 2), value=0.0)
    return x * 1.275 - 0.1


def lush32(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×28×28 → float N×1×32×32 as the authors' Lush demo feeds LeNet-5: the digit copied
    at (2, 2) into a field of 0, each pixel × 0.01 (ink up to 2.55). ``dsource-mnist`` with bias
    0 and coefficient 0.01 (packages/gblearn2/demos/dsource-mnist.lsh:50–64 in barak/lush; the
    demo's call, demos/lenet5.lsh:72: ``32 32 0 0.01``)."""
    return F.pad(images.float().unsqueeze(1), (2, 2, 2, 2), value=0.0) * 0.01


def lenet28(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×28×28 → float N×1×28×28: resized to 16×16 (bilinear), centred with a 6-pixel
    margin, −0.1 background, 1.175 ink."""
    x = F.interpolate(images.float().unsqueeze(1) / 255.0, size=(16, 16), mode="bilinear",
                      align_corners=False).clamp_(0.0, 1.0)  # fmt: skip
    return F.pad(x, (6, 6, 6, 6), value=0.0) * 1.275 - 0.1


def zip16(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×28×28 → float N×1×16×16 in [−1, 1], bilinear resize (as the 1989 reproduction)."""
    x = images.float().unsqueeze(1) / 127.5 - 1.0
    return F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False).clamp_(-1.0, 1.0)


# each input form's conversion from uint8 N×28×28 digits
TRANSFORMS = {"mnist28": standardize, "lenet32": lenet32, "lush32": lush32, "lenet28": lenet28,
              "zip16": zip16, "mnist16": zip16}  # fmt: skip
INPUTS = tuple(TRANSFORMS)


def zip_subset(n_total: int, n: int, seed: int) -> torch.Tensor:
    """The first ``n`` indices of a permutation of ``range(n_total)`` seeded by ``seed``."""
    if n > n_total:
        raise LecnnError(f"the 1989-sized set needs {n} digits but the split has only {n_total}")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=g)[:n]


def prepare(
    digits: Digits,
    input: str = "mnist28",
    device: torch.device | str = "cpu",
    *,
    seed: int = 1337,
    dtype: torch.dtype = torch.float32,
) -> Prepared:
    """Convert ``digits`` to network input once and place it on ``device``.

    ``seed`` picks the 1989-sized subset (``zip16`` only); the same seed gives the same digits.
    """
    if input not in TRANSFORMS:
        raise LecnnError(f"unknown input {input!r}; choose one of {', '.join(INPUTS)}")
    make = TRANSFORMS[input]
    train_idx = test_idx = None
    if input == "zip16":
        train_idx = zip_subset(len(digits.train_labels), ZIP_TRAIN, seed)
        test_idx = zip_subset(len(digits.test_labels), ZIP_TEST, seed + 1)

    def split(images: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor | None) -> Split:
        if idx is not None:
            images, labels = images[idx], labels[idx]
        return Split(make(images).to(device=device, dtype=dtype), labels.to(device))

    return Prepared(
        train=split(digits.train_images, digits.train_labels, train_idx),
        test=split(digits.test_images, digits.test_labels, test_idx),
        input=input,
    )

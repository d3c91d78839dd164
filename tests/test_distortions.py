"""The 1998 paper's distortions (``--augment-kind paper``): only its parts (shifts, scaling,
squeezing, horizontal shearing; no rotation), each within its range, scaled by ``strength``."""

from __future__ import annotations

import pytest
import torch

from lecnn.errors import LecnnError
from lecnn.training.augment import augmentation, paper_theta
from lecnn.training.config import TrainConfig
from lecnn.training.setup import load_data


def test_the_maps_have_only_the_papers_parts_within_their_ranges():
    n, size = 20000, 32
    t = paper_theta(n, size, torch.Generator().manual_seed(0), dtype=torch.float64)
    sx, k_sy, tx = t[:, 0, 0], t[:, 0, 1], t[:, 0, 2]
    zero, sy, ty = t[:, 1, 0], t[:, 1, 1], t[:, 1, 2]
    assert torch.equal(zero, torch.zeros(n, dtype=torch.float64))  # y never depends on x
    # sx = s(1 − q), sy = s(1 + q): s and q recovered and in range, both ends reached
    s, q = (sx + sy) / 2, (sy - sx) / (sx + sy)
    parts = ((s - 1, 0.1), (q, 0.1), (k_sy / sy, 0.15), (tx * size / 2, 2.0), (ty * size / 2, 2.0))
    for v, half in parts:
        assert v.abs().max() <= half + 1e-12
        assert v.max() > 0.99 * half and v.min() < -0.99 * half
    half = paper_theta(n, size, torch.Generator().manual_seed(0), strength=0.5)
    assert (half[:, 0, 2] * size / 2).abs().max() <= 1.0 + 1e-6


def test_a_shift_moves_the_pixels_by_that_many_pixels(mnist_dir):
    data = load_data(TrainConfig(model="lenet5", data_dir=str(mnist_dir)), "cpu", torch.float32)
    x = data.train.x[:4]
    shift_only = augmentation("paper:scale=0,squeeze=0,shear=0,translate=3")
    g = torch.Generator().manual_seed(3)
    theta = paper_theta(4, 32, torch.Generator().manual_seed(3), scale=0, squeeze=0, shear=0,
                        translate=3)  # fmt: skip
    y = shift_only(x, g)

    def centre(img: torch.Tensor) -> torch.Tensor:
        ink = (img - img.min()).double()
        rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
        return torch.stack([(ink * cols).sum(), (ink * rows).sum()]) / ink.sum()

    for i in range(4):
        # the map is output → input: the sample point moves by +t, so the ink moves by −t
        t = theta[i, :, 2].double() * 16
        assert torch.allclose(centre(y[i, 0]) - centre(x[i, 0]), -t, atol=0.02), (i, t)
    assert torch.equal(augmentation("paper:strength=0")(x, g), x)


def test_kinds_and_options_are_checked():
    with pytest.raises(LecnnError, match="choose paper, affine, shift1"):
        augmentation("elastic")
    with pytest.raises(LecnnError, match="paper has no option 'rotate'"):
        augmentation("paper:rotate=10")
    with pytest.raises(LecnnError, match="choose paper, affine, shift1"):
        TrainConfig(augment_kind="elastic").validate()

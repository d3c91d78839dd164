"""Edges of lecnn/data that a sample of mutants found unguarded: which split a Dataset serves, the
16×16 form's exact range, the SHA256SUMS format's edges, the preprocessing of users' own digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from lecnn.data import DigitsDataset, load_mnist
from lecnn.data.derived import zip16, zip_subset
from lecnn.data.idx import read_sha256sums
from lecnn.data.images import load_digit, to_mnist
from lecnn.errors import LecnnError

HASH = "ab" * 32


def test_a_dataset_serves_the_split_it_was_asked_for(subset_dir):
    digits = load_mnist(subset_dir)
    for train, images, labels in [
        (True, digits.train_images, digits.train_labels),
        (False, digits.test_images, digits.test_labels),
    ]:
        ds = DigitsDataset(digits, train=train)
        assert len(ds) == len(labels)
        for i in (0, len(ds) - 1):
            image, label = ds[i]
            assert torch.equal(torch.from_numpy(np.array(image)), images[i]) and label == labels[i]


def test_zip16_maps_paper_to_minus_one_and_full_ink_to_plus_one():
    x = zip16(torch.stack([torch.zeros(28, 28), torch.full((28, 28), 255.0)]).to(torch.uint8))
    assert torch.equal(x[0], torch.full((1, 16, 16), -1.0))
    assert torch.equal(x[1], torch.full((1, 16, 16), 1.0))


def test_zip_subset_says_how_many_digits_it_needed():
    with pytest.raises(LecnnError, match="needs 7291 digits but the split has only 5000"):
        zip_subset(5000, 7291, seed=0)


def test_sha256sums_lines_binary_marks_and_malformed_lines(tmp_path):
    f = tmp_path / "SHA256SUMS"
    f.write_text(f"# sums\n{HASH}  plain.gz\n{HASH.upper()} *binary.gz\n\n")
    assert read_sha256sums(f) == {"plain.gz": HASH, "binary.gz": HASH}
    for bad in (HASH, f"{HASH[:-1]}  short.gz"):  # no file name; a 63-digit hash
        f.write_text(f"{HASH}  plain.gz\n{bad}\n")
        with pytest.raises(LecnnError, match=r"SHA256SUMS:2: not a 'SHA256  filename' line"):
            read_sha256sums(f)


def test_own_digits_are_scaled_to_a_20_pixel_box_and_centred():
    paper = np.full((100, 100), 255.0)
    paper[10:70, 30:60] = 0.0  # dark ink, 60 rows × 30 columns
    out = to_mnist(paper).double()
    ys, xs = torch.nonzero(out > 128, as_tuple=True)
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (20, 10)
    grid = torch.arange(28, dtype=torch.float64)
    cy, cx = (out.sum(1) @ grid) / out.sum(), (out.sum(0) @ grid) / out.sum()
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_the_blank_image_threshold_is_16_grey_levels():
    faint = np.full((30, 30), 200.0)
    faint[10:20, 12:18] = 184.0  # 16 levels darker: faint, but a digit
    assert to_mnist(faint).max() == 255
    faint[10:20, 12:18] = 185.0  # 15 levels: blank
    with pytest.raises(LecnnError, match="the image is blank"):
        to_mnist(faint)


def test_a_blank_files_error_names_the_file(tmp_path):
    path = tmp_path / "empty-page.png"
    Image.fromarray(np.full((20, 20), 255, dtype=np.uint8)).save(path)
    with pytest.raises(LecnnError, match=r"empty-page\.png: the image is blank"):
        load_digit(path)

"""The MNIST pipeline on the real files: counts, identity facts, verification, derived sets."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lecnn.data import (
    ZIP_TEST,
    ZIP_TRAIN,
    DigitsDataset,
    batch_indices,
    load_mnist,
    prepare,
)
from lecnn.errors import LecnnError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_full_mnist_identity(mnist):
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_labels.dtype == torch.int64
    assert torch.bincount(mnist.train_labels, minlength=10).tolist() == TRAIN_COUNTS
    assert torch.bincount(mnist.test_labels, minlength=10).tolist() == TEST_COUNTS
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert mnist.verified, "SHA256SUMS was present but not checked"


def test_normalization_statistics(mnist):
    x = mnist.train_images.double() / 255
    assert x.mean().item() == pytest.approx(0.1307, abs=5e-5)
    assert x.std().item() == pytest.approx(0.3081, abs=5e-5)
    std = prepare(mnist, "mnist28").train.x.double()
    assert abs(std.mean().item()) < 1e-3 and std.std().item() == pytest.approx(1.0, abs=1e-3)


def _copy_subset(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_subset_loads_and_torchvision_layout(subset_dir, tmp_path):
    d = load_mnist(subset_dir, download=False)
    assert len(d.train_labels) == 1000 and len(d.test_labels) == 500 and d.verified
    # torchvision's layout: root/MNIST/raw with uncompressed files
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in subset_dir.glob("*.gz"):
        (raw / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    d2 = load_mnist(tmp_path / "root", download=False)
    assert torch.equal(d2.train_images, d.train_images)
    assert torch.equal(d2.test_labels, d.test_labels)
    assert not d2.verified  # no SHA256SUMS there


def _rewrite(folder: Path, name: str, change) -> None:
    path = folder / f"{name}.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data = change(data)
    path.write_bytes(gzip.compress(bytes(data)))
    (folder / "SHA256SUMS").unlink()  # isolate the structural check from the checksum


def _truncate(folder):
    _rewrite(folder, "train-images-idx3-ubyte", lambda d: d[:-100])


def _wrong_magic(folder):
    _rewrite(folder, "train-labels-idx1-ubyte", lambda d: b"\x00\x00\x08\x03" + d[4:])


def _count_mismatch(folder):
    # drop 1 label and fix the header, so the file itself is consistent
    def change(d):
        n = int.from_bytes(d[4:8], "big") - 1
        return d[:4] + n.to_bytes(4, "big") + d[8:-1]

    _rewrite(folder, "t10k-labels-idx1-ubyte", change)


def _label_11(folder):
    def change(d):
        d[8 + 5] = 11
        return d

    _rewrite(folder, "train-labels-idx1-ubyte", change)


def _missing(folder):
    (folder / "t10k-images-idx3-ubyte.gz").unlink()


def _sha_mismatch(folder):
    path = folder / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[1000] ^= 0xFF  # one pixel: structurally valid, but not the published file
    path.write_bytes(gzip.compress(bytes(data)))


CORRUPTIONS = {
    "truncated": (_truncate, r"train-images-idx3-ubyte\.gz: truncated"),
    "wrong magic": (_wrong_magic, r"train-labels-idx1-ubyte\.gz: wrong IDX magic number 2051"),
    "count mismatch": (_count_mismatch, r"has 500 images but .* has 499 labels"),
    "label 11": (_label_11, r"label 11 at index 5 is outside 0-9"),
    "missing file": (_missing, r"missing t10k-images-idx3-ubyte"),
    "sha mismatch": (_sha_mismatch, r"t10k-images-idx3-ubyte\.gz: SHA-256 mismatch"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupt_copies_give_their_own_error(kind, subset_dir, tmp_path):
    damage, pattern = CORRUPTIONS[kind]
    folder = _copy_subset(subset_dir, tmp_path / "data")
    damage(folder)
    with pytest.raises(LecnnError, match=pattern) as info:
        load_mnist(folder, download=False)
    assert "\n" not in str(info.value)
    # the CLI turns it into one line on stderr and exit code 2, no traceback
    proc = subprocess.run(
        [sys.executable, "-m", "lecnn", "data", "--data-dir", str(folder)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lecnn data: error:")


def test_missing_data_offline_fails_fast_with_hint(tmp_path):
    with pytest.raises(LecnnError, match="--data-dir"):
        load_mnist(tmp_path / "empty", download=False)


def test_failed_download_names_files_places_and_leaves_no_folder(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def offline(root, train, download):
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        (raw / "train-images-idx3-ubyte.gz").write_bytes(b"partial")  # what a cut download leaves
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(tvd, "MNIST", offline)
    root = tmp_path / "cache" / "lecnn"
    with pytest.raises(LecnnError) as e:
        load_mnist(root)
    message = str(e.value)
    assert "\n" not in message and "RuntimeError" not in message
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "--data-dir"):
        assert name in message
    assert "needs train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images" in message
    assert f"looked in {root} and {root / 'MNIST' / 'raw'}" in message
    assert f"downloading into {root / 'MNIST' / 'raw'} failed" in message
    assert list(tmp_path.iterdir()) == []  # cache/lecnn/MNIST/raw and its partial file are gone


def test_the_download_path_asks_torchvision_to_download_and_reads_what_it_fetched(
    mnist_dir, tmp_path, monkeypatch
):
    """What a user online gets (no network here: torchvision's fetch is played by copying the real
    files to where it puts them, and only when asked to download, as torchvision does)."""
    import torchvision.datasets as tvd

    def fetch(root, train, download):
        if not download:
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for f in mnist_dir.glob(("train" if train else "t10k") + "-*.gz"):
            shutil.copy(f, raw / f.name)

    monkeypatch.setattr(tvd, "MNIST", fetch)
    digits = load_mnist(tmp_path / "cache")
    assert len(digits.train_labels) == 60000 and len(digits.test_labels) == 10000
    assert sorted(p.name for p in (tmp_path / "cache" / "MNIST" / "raw").iterdir())[0].startswith(
        "t10k-images"
    )


def test_failed_download_keeps_a_folder_that_was_there(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def offline(root, train, download):
        raise RuntimeError("offline")

    monkeypatch.setattr(tvd, "MNIST", offline)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LecnnError):
        load_mnist(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_unknown_dataset():
    with pytest.raises(LecnnError, match="unknown dataset"):
        load_mnist(dataset="cifar")


def test_zip16_set(mnist):
    a = prepare(mnist, "zip16", seed=1337)
    assert a.train.x.shape == (ZIP_TRAIN, 1, 16, 16) and a.test.x.shape == (ZIP_TEST, 1, 16, 16)
    assert a.train.x.min() >= -1 and a.train.x.max() <= 1
    assert a.train.x.min() == -1 and a.train.x.max() > 0.9  # background and ink both present
    b = prepare(mnist, "zip16", seed=1337)
    c = prepare(mnist, "zip16", seed=7)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.y, c.train.y)
    # a different draw, but still drawn from all ten digits
    assert torch.bincount(a.train.y, minlength=10).min() > 500


def test_lenet32_set(mnist):
    p = prepare(mnist, "lenet32")
    x = p.train.x
    assert x.shape == (60000, 1, 32, 32)
    assert x.min().item() == pytest.approx(-0.1) and x.max().item() == pytest.approx(1.175)
    # the 2-pixel margin is background, and the 28x28 centre is the digit
    assert torch.all(x[:, :, :2] == x.min()) and torch.all(x[:, :, :, -2:] == x.min())
    inner = (x[:5, 0, 2:30, 2:30] + 0.1) / 1.275 * 255
    assert torch.allclose(inner, mnist.train_images[:5].float(), atol=1e-3)


def test_lenet28_set_is_the_16x16_digit_centred_in_28x28(mnist):
    p = prepare(mnist, "lenet28")
    x = p.test.x
    assert x.shape == (10000, 1, 28, 28)
    assert x.min().item() == pytest.approx(-0.1) and x.max().item() <= 1.175 + 1e-6
    # a 6-pixel margin of background on every side; the 16×16 centre is the resized digit
    background = torch.full_like(x[:, :, :6], -0.1)
    for edge in (x[:, :, :6], x[:, :, -6:], x[:, :, :, :6].transpose(2, 3), x[:, :, :, -6:].mT):
        assert torch.equal(edge, background)
    centre = (x[:20, :, 6:22, 6:22] + 0.1) / 1.275
    resized = torch.nn.functional.interpolate(
        mnist.test_images[:20].float().unsqueeze(1) / 255, size=(16, 16), mode="bilinear"
    )
    assert torch.allclose(centre, resized.clamp(0, 1), atol=1e-5)


def test_batches_cover_each_index_once_and_are_seeded():
    dev = torch.device("cpu")
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = list(batch_indices(103, 10, device=dev, generator=g1))
    b = list(batch_indices(103, 10, device=dev, generator=g2))
    assert [len(t) for t in a] == [10] * 10 + [3]
    assert sorted(torch.cat(a).tolist()) == list(range(103))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.cat(a).tolist() != list(range(103))
    assert len(list(batch_indices(103, 10, device=dev, shuffle=False, drop_last=True))) == 10


def test_dataloader_path(subset_dir):
    import torchvision.transforms as T

    ds = DigitsDataset(load_mnist(subset_dir), train=False, transform=T.ToTensor())
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and y == 7 and 0 <= x.min() and x.max() <= 1

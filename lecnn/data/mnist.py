"""Finding, downloading and loading MNIST-format data sets (MNIST, Fashion-MNIST, KMNIST)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lecnn.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_sha256sums
from lecnn.errors import LecnnError

DATA_ENV = "LECNN_DATA"

#: dataset name -> torchvision class name (also its folder under ``root/``)
DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}

#: SHA-256 of the canonical uncompressed files, to tell one data set from another (only MNIST's
#: are recorded here; they are the sums of the files yann.lecun.com and torchvision serve)
KNOWN_SUMS = {
    "mnist": {
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    }
}

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Digits:
    """A train/test split of 28×28 digit images, as stored (uint8 0–255, CPU tensors).

    Shapes: ``train_images`` N×28×28 uint8, ``train_labels`` N int64; likewise ``test_*``.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str = ""
    verified: bool = False  # True when a SHA256SUMS file was checked

    def summary(self) -> str:
        counts = torch.bincount(self.train_labels, minlength=10).tolist()
        check = "checksums verified" if self.verified else "no SHA256SUMS to verify"
        return (
            f"{len(self.train_labels):,} training and {len(self.test_labels):,} test digits "
            f"from {self.source} ({check}); training label counts {counts}"
        )


def default_data_dir() -> Path:
    """``$LECNN_DATA`` if set, else ``~/.cache/lecnn``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lecnn"


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def locate(data_dir: Path, dataset: str = "mnist") -> Path | None:
    """The folder under ``data_dir`` that holds the four IDX files, or None.

    Looks in ``data_dir`` itself and in torchvision's layout ``data_dir/<Class>/raw``.
    Raises LecnnError when some but not all four files are in a folder.
    """
    folders = [data_dir, data_dir / DATASETS[dataset] / "raw"]
    for folder in folders:
        found = {key: _find(folder, name) for key, name in FILES.items()}
        present = [k for k, p in found.items() if p is not None]
        if len(present) == len(FILES):
            return folder
        if present:
            missing = [FILES[k] for k, p in found.items() if p is None]
            raise LecnnError(
                f"{folder}: missing {', '.join(missing)} (with or without .gz); "
                "the folder needs all four IDX files"
            )
    return None


def read_folder(folder: Path, dataset: str = "mnist") -> Digits:
    """Read and verify the four IDX files in ``folder`` (magic, sizes, counts, labels,
    SHA256SUMS, and that they are not a known copy of another data set than ``dataset``)."""
    sums_path = folder / "SHA256SUMS"
    sums = read_sha256sums(sums_path) if sums_path.is_file() else None
    arrays: dict[str, np.ndarray] = {}
    digests: set[str] = set()
    for key, name in FILES.items():
        arrays[key], digest = _read_checked(folder, key, name, sums, sums_path)
        digests.add(digest)
    for other, known in KNOWN_SUMS.items():
        if other != dataset and digests & known:
            raise LecnnError(
                f"{folder}: these are {other} files, not {dataset}; pass --dataset {other} "
                f"or point --data-dir at a {dataset} folder"
            )
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:
            raise LecnnError(
                f"{folder}: {FILES[f'{split}_images']} has {n_img} images but "
                f"{FILES[f'{split}_labels']} has {n_lab} labels"
            )
    return Digits(
        train_images=torch.from_numpy(arrays["train_images"].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        source=str(folder),
        verified=sums is not None,
    )


def _read_checked(
    folder: Path, key: str, name: str, sums: dict[str, str] | None, sums_path: Path
) -> tuple[np.ndarray, str]:
    """One of the four files read, checked against SHA256SUMS (when there is one) and, for
    labels, to hold digits 0-9: (its items, its SHA-256)."""
    path = _find(folder, name)
    assert path is not None  # locate() checked
    if key.endswith("images"):
        array, digest = read_idx(path, IMAGES_MAGIC, (28, 28))
    else:
        array, digest = read_idx(path, LABELS_MAGIC, ())
    if sums is not None:
        if name not in sums:
            raise LecnnError(f"{sums_path}: has no line for {name}; add it or remove the file")
        if digest != sums[name]:
            raise LecnnError(
                f"{path}: SHA-256 mismatch against {sums_path.name} "
                "(the file is corrupt or a different version); fetch it again"
            )
    if key.endswith("labels") and array.size and array.max() > 9:
        bad = int(np.argmax(array > 9))
        raise LecnnError(f"{path}: label {int(array[bad])} at index {bad} is outside 0-9")
    return array, digest


def _created_dirs(path: Path) -> list[Path]:
    """The folders ``path.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    return missing


def _download(root: Path, dataset: str) -> None:
    """Fetch the data set with torchvision into ``root/<Class>/raw``; fail fast when offline and
    leave no folder behind that the attempt created."""
    import torchvision.datasets as tvd

    raw = root / DATASETS[dataset] / "raw"
    created = _created_dirs(raw)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)  # an offline machine should fail in seconds, not minutes
    try:
        root.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            getattr(tvd, DATASETS[dataset])(str(root), train=train, download=True)
    except LecnnError:
        raise
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError...
        _remove_empty(created)
        raise LecnnError(
            f"no {dataset} data: needs {', '.join(FILES.values())} (gzip or raw); looked in "
            f"{root} and {raw}; downloading into {raw} failed (offline?); put the four files in a "
            f"folder and pass --data-dir FOLDER or set {DATA_ENV}=FOLDER"
        ) from e
    finally:
        socket.setdefaulttimeout(previous)


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first), with any partial IDX download torchvision left in them;
    stop at the first that holds anything else."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for leftover in folder.iterdir():
            if leftover.is_file() and leftover.name.startswith(tuple(FILES.values())):
                leftover.unlink()
        try:
            folder.rmdir()
        except OSError:  # not empty: not ours to remove
            return


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    dataset: str = "mnist",
    download: bool = True,
) -> Digits:
    """Load and verify MNIST (or Fashion-MNIST, KMNIST) as uint8 tensors.

    ``data_dir`` (default ``$LECNN_DATA``, else ``~/.cache/lecnn``) may hold the four IDX files
    directly (gzip or raw) or in torchvision's ``<Class>/raw`` layout. With no files there and
    ``download=True`` the set is fetched through torchvision.
    """
    if dataset not in DATASETS:
        raise LecnnError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if root.exists() and not root.is_dir():
        raise LecnnError(f"--data-dir {root}: is a file, not a folder")
    folder = locate(root, dataset) if root.is_dir() else None
    if folder is None:
        if not download:
            raise LecnnError(
                f"no {dataset} IDX files in {root}; pass --data-dir FOLDER or set {DATA_ENV}"
            )
        _download(root, dataset)
        folder = locate(root, dataset)
        if folder is None:
            raise LecnnError(f"download of {dataset} into {root} left no IDX files")
    return read_folder(folder, dataset)

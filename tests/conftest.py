"""Shared fixtures. MNIST tests read the real files: ``$LECNN_DATA`` (CI points it at
../shared/data/mnist), else ../shared/data/mnist beside the checkout; without either, the tests that need all 70,000
digits fail with that message. The committed subset serves the tests that need only some real
digits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lecnn.data import load_mnist

ROOT = Path(__file__).resolve().parent.parent
SUBSET = ROOT / "tests" / "fixtures" / "mnist-subset"
SHARED = ROOT.parent / "shared" / "data" / "mnist"

# the workers share the cores (pytest -n): each takes its part of them, not all of them each
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    from lecnn.training.jobs import usable_cores

    torch.set_num_threads(max(1, usable_cores() // workers))

# the parity tests run on CUDA too where it is present
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not present here"),
    ),
]


def _full_mnist_dir() -> Path | None:
    env = os.environ.get("LECNN_DATA")
    if env:
        # absolute, so that a test running a command in another folder finds it too (CI's is relative)
        path = Path(env).resolve()
        if not path.is_dir():
            # CI sets LECNN_DATA: a wrong path must fail loudly, never skip
            raise pytest.UsageError(f"LECNN_DATA={env} is not a folder with the MNIST files")
        return path
    return SHARED if SHARED.is_dir() else None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = _full_mnist_dir()
    if path is None:
        # the MNIST tests are the proof on real digits: missing data fails them, never skips
        pytest.fail(
            "full MNIST not found: set LECNN_DATA to a folder with the four IDX files",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    return load_mnist(mnist_dir, download=False)


@pytest.fixture(scope="session")
def subset_dir() -> Path:
    return SUBSET

"""Argument parsing shared by the subcommands: one-line errors, exit code 2."""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

from lecnn.data import DATA_ENV, DATASETS


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``lecnn train: error: ...``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="default: mnist")
    p.add_argument(
        "--data-dir",
        default=None,
        help=f"folder with the four IDX files (gzip or raw), or torchvision's layout; "
        f"default ${DATA_ENV}, else ~/.cache/lecnn (downloaded there when online)",
    )


def add_device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps"
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed, 0 to 2**64-1 (default 0)")
    p.add_argument(
        "--deterministic", action="store_true", help="use torch's deterministic algorithms only"
    )


def whole_number(text: str) -> int:
    """An int, with a one-line message for anything else."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """A whole number ≥ 1 (counts: passes, trials, digits)."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1, the smallest allowed")
    return value


SEED_MAX = 2**64 - 1  # torch.manual_seed takes seeds in [0, 2**64)


def seed(text: str) -> int:
    """A seed torch accepts: a whole number from 0 to 2**64 − 1."""
    value = whole_number(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to 2**64-1, the seeds torch takes")
    return value


def number(text: str) -> float:
    """A finite float."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value

"""Argument parsing shared by the subcommands: one-line errors, exit code 2."""

from __future__ import annotations

import argparse
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
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--deterministic", action="store_true", help="use torch's deterministic algorithms only"
    )


def whole_number(text: str) -> int:
    """An int, with a one-line message for anything else (ranges are checked where the value is
    used, e.g. TrainConfig.validate)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    return value


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None

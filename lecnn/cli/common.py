"""Argument parsing shared by the subcommands: one-line errors, exit code 2."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``lecnn train: error: ...``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)

    def _print_message(self, message: str, file: Any = None) -> None:
        """As argparse's, but a failed write (a full disk, a closed pipe) is raised, not
        swallowed: ``--help > /dev/full`` must not say nothing and exit 0."""
        if message:
            (file or sys.stderr).write(message)


def passes(n: int) -> str:
    """``n`` passes, as a sentence says it: "1 pass", "3 passes"."""
    return f"{n} pass" + ("" if n == 1 else "es")


def add_config_flags(
    p: argparse.ArgumentParser, names: Iterable[str] | None = None, *, given_only: bool = False
) -> list[str]:
    """Add ``TrainConfig``'s flags (``names``, or every field with one) to ``p``, each built from
    its field: name, help, how it is read, choices, default. With ``given_only`` a flag left out
    leaves no attribute (argparse's SUPPRESS), so a caller tells "given" from "omitted";
    otherwise it takes the field's default. Returns the field names added."""
    from lecnn.training.config import TrainConfig

    chosen = [f for f in fields(TrainConfig) if "flag" in f.metadata]
    if names is not None:
        wanted = list(names)
        chosen = sorted((f for f in chosen if f.name in wanted), key=lambda f: wanted.index(f.name))
    for f in chosen:
        spec = dict(f.metadata["flag"])
        kind, text = spec.pop("kind"), spec.pop("help")
        if not any(f.default is v for v in (None, False, MISSING)) and kind != "switch":
            text = f"{text} (default {f.default})" if text else f"default {f.default}"
        kwargs: dict[str, Any] = {"help": text, **spec}
        if kind == "switch":
            kwargs["action"] = "store_true"
        elif kind == "onoff":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif kind in READERS:
            kwargs["type"] = READERS[kind]
        if "choices" in kwargs:
            kwargs["choices"] = list(kwargs["choices"])
        default = argparse.SUPPRESS if given_only else f.default
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=default, **kwargs)
    return [f.name for f in chosen]


def add_data_args(p: argparse.ArgumentParser) -> None:
    add_config_flags(p, ["dataset", "data_dir"])


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


#: how a flag's text is read, by the ``kind`` its ``TrainConfig`` field names
READERS: dict[str, Callable[[str], Any]] = {"count": whole_number, "number": number, "seed": seed}

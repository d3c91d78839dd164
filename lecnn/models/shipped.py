"""Trained networks shipped with lecnn: the reproductions' own weights, ready to use without a
training run. Each is one seed of a committed reproduction row (its median seed by test error),
stored as a plain state dict (``torch.load(weights_only=True)``) in ``lecnn/models/weights/``
beside ``index.json``, which names its provenance: model, protocol, seed, implementation, test
error and misses on MNIST, the command that trained it, the lecnn commit, and the file's SHA-256,
checked on every load.

    net = lecnn.models.pretrained("lecun1989", impl="manual")   # or impl="autograd"

The two implementations' state dicts interchange, so either loads the same weights."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from lecnn.errors import LecnnError

FOLDER = Path(__file__).resolve().parent / "weights"
#: the network ``lecnn predict`` uses when no run is given, in order of preference
PREFERRED = ("lenet5", "lenet5-modern", "lecun1989")


@dataclass(frozen=True)
class Shipped:
    """One shipped network and where it came from."""

    name: str
    model: str  # the model as ``lecnn train --model`` names it
    file: str
    sha256: str
    protocol: str  # the reproduction row: paper/variant
    impl: str  # the implementation that trained it
    seed: int
    seed_choice: str  # which seed of the row, and why
    test_error: float
    test_misses: int
    test_digits: int
    command: str
    commit: str

    def line(self) -> str:
        """One line for ``lecnn models``."""
        return (f"{self.name}: {self.model}, {self.protocol} ({self.impl}, seed {self.seed}), "
                f"test error {self.test_error:.2%} ({self.test_misses} of {self.test_digits:,})")  # fmt: skip


def shipped(folder: Path | None = None) -> dict[str, Shipped]:
    """The shipped networks by name (none when the index is absent)."""
    index = (folder or FOLDER) / "index.json"
    if not index.exists():
        return {}
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
        names = {f.name for f in fields(Shipped)}
        return {e["name"]: Shipped(**{k: e[k] for k in names}) for e in entries}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LecnnError(f"{index}: damaged ({e}); reinstall lecnn") from e


def default_name(folder: Path | None = None) -> str:
    """The network used when none is named: the first of ``PREFERRED`` that ships."""
    available = shipped(folder)
    for name in PREFERRED:
        if name in available:
            return name
    if available:
        return next(iter(available))
    raise LecnnError("this lecnn ships no trained weights; give a run folder or checkpoint")


def find(name: str, folder: Path | None = None) -> Shipped:
    """The shipped network ``name``, or a one-line refusal naming those that ship."""
    available = shipped(folder)
    if name not in available:
        raise LecnnError(f"no shipped weights {name!r}; choose one of: {', '.join(available)} "
                         "(lecnn models lists them)")  # fmt: skip
    return available[name]


def load_weights(name: str, folder: Path | None = None) -> tuple[Shipped, dict[str, torch.Tensor]]:
    """The shipped network's provenance and state dict, its file's SHA-256 checked first."""
    entry = find(name, folder)
    path = (folder or FOLDER) / entry.file
    try:
        body = path.read_bytes()
    except OSError as e:
        raise LecnnError(f"{path}: cannot read the shipped weights ({e.strerror})") from e
    if hashlib.sha256(body).hexdigest() != entry.sha256:
        raise LecnnError(
            f"{path}: damaged (its SHA-256 is not the one lecnn shipped); reinstall lecnn"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    return entry, state


def pretrained(name: str | None = None, impl: str = "autograd", **build_options: Any) -> Any:
    """The shipped network ``name`` (default: ``default_name()``) built in ``impl`` ("manual" or
    "autograd") with its trained weights, in evaluation mode; ``build_options`` (``device``,
    ``dtype``) as ``lecnn.models.build`` takes them."""
    from lecnn.models.build import build

    entry, state = load_weights(name or default_name())
    net = build(entry.model, impl, **build_options)
    first = next(iter(net.state_dict().values()))  # where and in what the network was built
    net.load_state_dict({k: v.to(device=first.device, dtype=first.dtype) for k, v in state.items()})
    net.train(False)
    return net

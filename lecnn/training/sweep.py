"""Many runs from one command: ``lecnn train --seeds N`` and ``--sweep NAME=A,B,C`` expand one
run's settings into runs that differ only in numbers, each with its own folder under the parent
``--logdir`` (``seed-K``, or ``lr-0.01_seed-K`` with a sweep).

A sweep's NAME is a number setting (``lr``, ``weight-decay``) or an option of the run's
``--optimizer`` (``mu``, ``samples`` of sdlm) or ``--augment-kind`` (``strength`` …): what
``lecnn train`` would take as ``--optimizer sdlm:mu=0.1``, one value per run."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lecnn.errors import LecnnError
from lecnn.options import split
from lecnn.training.config import TrainConfig

#: the settings a sweep sets directly, by the names it takes for them
FIELDS = {"lr": "lr", "weight-decay": "weight_decay", "weight_decay": "weight_decay"}
#: the settings whose options a sweep may set, in the order it looks in them
OPTIONS_OF = ("optimizer", "augment_kind")


@dataclass(frozen=True)
class Sweep:
    """``NAME=A,B,C``: one run per value."""

    name: str
    values: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Sweep:
        name, eq, rest = text.partition("=")
        values = tuple(v.strip() for v in rest.split(","))
        if not eq or not name.strip() or not all(values):
            raise LecnnError(f"--sweep {text!r}: write NAME=A,B,C, e.g. --sweep lr=0.01,0.02")
        for v in values:
            try:
                float(v)
            except ValueError:
                raise LecnnError(f"--sweep {text!r}: {v!r} is not a number") from None
        if len(set(values)) != len(values):
            raise LecnnError(f"--sweep {text!r}: a value is given twice")
        return cls(name.strip(), values)


def swept(config: TrainConfig, name: str, value: str) -> tuple[TrainConfig, str]:
    """``config`` with ``name`` set to ``value``, and the field that holds it; a name that is
    neither a number setting nor an option of the run's optimizer or augmentation is a one-line
    error naming what may be swept."""
    if name in FIELDS:
        field = FIELDS[name]
        changes: dict[str, Any] = {field: float(value)}
        return replace(config, **changes), field
    resolved = config.resolved()
    for field in OPTIONS_OF:
        text = getattr(resolved, field)
        if not text:
            continue
        kind, options = split(text)
        if name not in options and not _takes(resolved, field, kind, name, value):
            continue
        options[name] = value
        text = kind + ":" + ",".join(f"{k}={v}" for k, v in options.items())
        changes = {field: text}
        new = replace(config, **changes)
        new.resolved()  # a value of the wrong kind (samples=0.5) is refused here, in one line
        return new, field
    raise LecnnError(
        f"--sweep {name}: not a setting a sweep takes; sweep lr, weight-decay or an option of "
        f"--optimizer {resolved.optimizer} or --augment-kind {resolved.augment_kind}"
    )


def _takes(config: TrainConfig, field: str, kind: str, name: str, value: str) -> bool:
    """Whether ``kind`` (the run's optimizer or augmentation) has an option ``name``."""
    try:
        changes: dict[str, Any] = {field: f"{kind}:{name}={value}"}
        replace(config, **changes).validate()
    except LecnnError as e:
        return f"no option {name!r}" not in str(e)
    return True


def expand(
    config: TrainConfig, seeds: int, sweeps: Sequence[Sweep], parent: Path
) -> tuple[list[TrainConfig], set[str]]:
    """One config per sweep value (every combination of several sweeps) and seed (``config.seed``,
    +1, …), each with its folder under ``parent``; and the settings that the expansion gave."""
    if seeds < 1:
        raise LecnnError(f"--seeds {seeds}: must be at least 1")
    names = [s.name for s in sweeps]
    if len(set(names)) != len(names):
        raise LecnnError("--sweep: a name is swept twice; give its values in one --sweep")
    runs, given = [], {"seed", "logdir"}
    for combo in itertools.product(*(s.values for s in sweeps)):
        base, label = config, []
        for sweep, value in zip(sweeps, combo, strict=True):
            base, field = swept(base, sweep.name, value)
            given.add(field)
            label.append(f"{sweep.name}-{value}")
        for k in range(seeds):
            seed = config.seed + k
            folder = parent / "_".join([*label, f"seed-{seed}"])
            runs.append(replace(base, seed=seed, logdir=str(folder)))
    return runs, given

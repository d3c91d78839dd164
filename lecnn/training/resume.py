"""What a resumed run may change: more passes, where the data is, which device, whether the update
is compiled — nothing else.

``--resume RUN --epochs N`` extends a run (finished or interrupted) to N passes in all. The schedule
is then defined over the new length, as if the run had been planned for N passes from the start:
the updates already taken keep the rates they had, and the rest follow the schedule's formula over
N passes from the global step reached (for ``cosine`` or ``linear`` the rate steps up at the
resume point to where an N-pass run would be at that step; ``constant``, ``inverse`` and
``steps`` continue unchanged)."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from lecnn.errors import LecnnError
from lecnn.training.config import TrainConfig

#: how the run is computed, not what: these may change when it resumes
RELOCATABLE = ("data_dir", "device", "compile", "memory_format")
_DEFAULT = TrainConfig()


def first_line(e: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, cut to ``limit`` characters."""
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:limit]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


#: the flags that may change, as help texts and messages name them
MAY_CHANGE = ", ".join(_flag(n) for n in ("epochs", *RELOCATABLE))


def resumed_config(
    saved: TrainConfig,
    requested: TrainConfig,
    ckpt: dict[str, Any],
    given: set[str] | None = None,
) -> TrainConfig:
    """``saved`` with the settings of ``requested`` that may change on resume; a setting given
    that differs from ``saved`` is refused in one line. ``given``: the names of the settings
    the user gave (the command line knows); without it, a setting counts as given where it
    differs from TrainConfig's default."""
    done = int(ckpt["progress"]["epoch"])
    out = TrainConfig(**asdict(saved))
    for f in fields(TrainConfig):
        value = getattr(requested, f.name)
        if (f.name not in given) if given is not None else value == getattr(_DEFAULT, f.name):
            continue  # not given
        if f.name in RELOCATABLE:
            setattr(out, f.name, value)
        elif f.name == "epochs":
            if value < done:
                raise LecnnError(
                    f"--epochs {value}: the run has already done {done} passes; "
                    f"give {done} or more to extend it"
                )
            out.epochs = value
        elif f.name == "logdir":
            if saved.logdir is None or Path(value).resolve() != Path(saved.logdir).resolve():
                raise LecnnError(
                    f"--logdir {value}: a resumed run stays in its own folder; leave --logdir out"
                )
        elif value != getattr(saved, f.name):
            raise LecnnError(
                f"{_flag(f.name)} {value}: the resumed run was started with {_flag(f.name)} "
                f"{getattr(saved, f.name)}; a resumed run keeps its settings (only {MAY_CHANGE} "
                "may change): start a new run for other settings"
            )
    return out

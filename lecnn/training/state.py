"""A run's state — weights, optimizer, random generators, position — as one object that saves
itself to a checkpoint payload and restores itself from one, so a resumed run continues exactly."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from lecnn.errors import LecnnError
from lecnn.manual.optim import Optimizer
from lecnn.training.checkpoint import save_checkpoint
from lecnn.training.config import TrainConfig
from lecnn.training.engine import Engine
from lecnn.training.resume import first_line


@dataclass
class Progress:
    """Where a run stands."""

    epoch: int = 0  # the pass in progress (0-based)
    batch: int = 0  # batches of this pass already done
    step: int = 0  # updates done in all
    order: torch.Tensor | None = None  # this pass's permutation
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    train_seconds: float = 0.0  # training time so far, evaluation excluded
    history: list[dict[str, Any]] = field(default_factory=list)
    first_loss: float | None = None  # the untrained network's loss (the first update's)


@dataclass
class RunState:
    """Everything a checkpoint holds, and the run's config and device."""

    config: TrainConfig
    engine: Engine
    optimizer: Optimizer
    generator: torch.Generator  # the data's: each pass's order, the augmentations' draws
    device: torch.device
    progress: Progress = field(default_factory=Progress)
    #: the dropout masks' (apart from the data's, so a compiled call of several updates draws
    #: what the same updates draw one by one)
    dropout: torch.Generator | None = None

    def payload(self) -> dict[str, Any]:
        p = self.progress
        progress = {k: v for k, v in asdict(p).items() if k != "history"}
        progress["order"] = p.order.cpu() if p.order is not None else None
        return {
            "config": self.config.to_dict(),
            "model": self.engine.spec.name,
            "impl": self.config.impl,
            "model_state": {k: v.cpu() for k, v in self.engine.state_dict().items()},
            "optimizer_state": self.optimizer.state_dict(),
            "generator_state": self.generator.get_state(),
            "dropout_generator_state": self.dropout.get_state() if self.dropout else None,
            "progress": progress,
            "history": p.history,
        }

    def save(self, path: Path) -> Path:
        return save_checkpoint(path, self.payload())

    def restore(self, ckpt: dict[str, Any], path: Path) -> None:
        """Load a checkpoint ``payload`` read from ``path`` (named in messages)."""
        device = self.device
        try:
            self.engine.load_state_dict({k: v.to(device) for k, v in ckpt["model_state"].items()})
        except (KeyError, RuntimeError) as e:
            raise LecnnError(
                f"{path}: its weights do not fit model {self.config.model} "
                f"({first_line(e)}); the checkpoint is damaged or from another model"
            ) from e
        opt = ckpt["optimizer_state"]
        opt["state"] = {k: {n: t.to(device) for n, t in s.items()} for k, s in opt["state"].items()}
        self.optimizer.load_state_dict(opt)
        try:
            self.generator.set_state(ckpt["generator_state"])
        except RuntimeError as e:
            raise LecnnError(
                f"cannot resume on {device}: the saved run used another device type"
            ) from e
        # a checkpoint from before the run owned its dropout generator (it saved torch's global
        # state instead) resumes with the dropout generator as seeded
        dropout = ckpt.get("dropout_generator_state")
        if dropout is not None and self.dropout is not None:
            self.dropout.set_state(dropout)
        saved = dict(ckpt["progress"])
        if saved["order"] is not None:
            saved["order"] = saved["order"].to(device)
        self.progress = Progress(**saved, history=list(ckpt["history"]))

    def check_finite(
        self,
        loss: torch.Tensor,
        checkpoint: Path,
        weights: bool = False,
        mean_loss: float | None = None,
    ) -> None:
        """Raise Diverged when the loss (or, with ``weights``, any weight) is not finite, or when
        the stretch's ``mean_loss`` has grown past ``GROWTH`` times the untrained network's loss,
        before anything logs or saves it: the last good ``checkpoint`` stays as it was."""
        value = float(loss)
        bad = None if math.isfinite(value) else f"the loss became {value}"
        if bad is None and weights:
            for name, w in self.engine.params().items():
                if not bool(torch.isfinite(w).all()):
                    bad = f"weight {self.engine.spec.display_name(name)} became non-finite"
                    break
        first = self.progress.first_loss
        if bad is None and mean_loss is not None and first is not None:
            if mean_loss > GROWTH * max(first, FLOOR):
                bad = (f"the loss grew from {first:.3g} to {mean_loss:.3g} (more than "
                       f"{GROWTH:.0e} times its first value)")  # fmt: skip
        if bad is None:
            return
        cfg, p = self.config, self.progress
        kept = (
            f"the last good checkpoint is kept in {checkpoint}"
            if checkpoint.exists()
            else "no checkpoint had been written yet"
        )
        causes = [f"--lr {cfg.lr:g}"]
        if cfg.weight_decay:
            causes.append(f"--weight-decay {cfg.weight_decay:g}")
        if cfg.schedule != "constant":
            causes.append(f"--schedule {cfg.schedule}")
        raise Diverged(
            f"{bad} at pass {p.epoch + 1}, update {p.step}: the learning rate is too high for "
            f"this model (set by {', '.join(causes)}); try a smaller --lr; {kept}"
        )


#: a run whose mean loss grows past this many times the untrained network's loss has diverged:
#: no healthy run comes near it (scripts/divergence_margin.py measures the largest ratio of every
#: committed run's curve, runs/bench/divergence_margin.txt); a bounded loss (squared error of
#: tanh or sigmoid units, LeNet-5's RBF criterion) cannot reach it at all
GROWTH = 1e4
FLOOR = 1e-3  # an untrained loss below this is taken as this (no ratio to a near-zero start)


class Diverged(LecnnError):
    """The loss or a weight became NaN or infinite."""

    exit_code = 1

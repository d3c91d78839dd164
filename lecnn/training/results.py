"""The end of a run: final evaluation, pictures, hparams and ``results.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lecnn.device import describe_device
from lecnn.models import count
from lecnn.training.checkpoint import write_atomically
from lecnn.training.evaluate import evaluate

if TYPE_CHECKING:
    from lecnn.training.loop import Trainer


@dataclass
class RunResult:
    run_dir: Path
    status: str  # "finished" | "interrupted"
    results: dict[str, Any]


def finish(trainer: Trainer, status: str) -> RunResult:
    """Evaluate the finished run, log its pictures and hparams, and write ``results.json``."""
    cfg, p = trainer.config, trainer.progress
    counts = count(trainer.spec)
    results: dict[str, Any] = {
        "status": status,
        "config": cfg.to_dict(),
        "model": trainer.spec.name,
        "description": trainer.spec.description,
        "counts": vars(counts),
        "parameters": counts.parameters,
        "device": describe_device(trainer.device),
        "torch": torch.__version__,
        "epochs_done": p.epoch,
        "steps": p.step,
        "train_seconds": p.train_seconds,
        "history": p.history,
    }
    if status == "finished":
        ev = trainer.final_test or evaluate(trainer.engine, trainer.data.test)
        ev_train = evaluate(trainer.engine, trainer.data.train)
        last = p.history[-1] if p.history else {}
        results["final"] = {
            "test_error": ev.error,
            "test_misses": ev.misses,
            "test_loss": ev.loss,
            # measured after training (the papers' figure); the pass's running one beside it
            "train_error": ev_train.error,
            "train_misses": ev_train.misses,
            "train_loss": ev_train.loss,
            "train_error_running": last.get("train_error"),
        }
        logger = trainer.logger
        wrong = (ev.predicted != trainer.data.test.y).nonzero().flatten()[:36]
        logger.misclassified(
            trainer.data.test.x[wrong].cpu(),
            ev.predicted[wrong].cpu(),
            trainer.data.test.y[wrong].cpu(),
            p.step,
        )
        logger.confusion(ev.confusion(trainer.data.test.y), p.step)
    trainer.logger.end_session(status)
    text = json.dumps(results, indent=2, default=str)
    write_atomically(trainer.run_dir / "results.json", lambda f: f.write(text.encode()))
    return RunResult(trainer.run_dir, status, results)

"""The end of a run: final evaluation, pictures, hparams and ``results.json``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lecnn.data import Prepared
from lecnn.device import describe_device
from lecnn.logs.tensorboard import Logger
from lecnn.models import count
from lecnn.source import code_record
from lecnn.training.checkpoint import write_atomically
from lecnn.training.distributed import ONE_PROCESS, Ranks
from lecnn.training.engine import Engine
from lecnn.training.evaluate import Evaluation, evaluate
from lecnn.training.state import RunState


@dataclass
class RunResult:
    run_dir: Path
    status: str  # "finished" | "interrupted"
    results: dict[str, Any]


def finish(
    state: RunState,
    data: Prepared,
    logger: Logger,
    run_dir: Path,
    status: str,
    final_test: Evaluation | None = None,
    compiled: bool = False,
    ranks: Ranks = ONE_PROCESS,
) -> RunResult:
    """Evaluate the finished run (``final_test``: the last pass's test evaluation, when the
    weights have not changed since), log its pictures, end the HParams session, and write
    ``results.json``."""
    p, engine = state.progress, state.engine
    results = _record(state, status, compiled)
    if status == "finished":
        results["final"] = _final(engine, data, logger, p.step, final_test, ranks)
        results["final"]["train_error_running"] = (
            p.history[-1]["train_error"] if p.history else None
        )
    logger.end_session(status)
    if ranks.parallel:
        results["processes"] = ranks.world
    if ranks.main:  # every rank holds the same results; rank 0 writes them
        text = json.dumps(results, indent=2, default=str)
        write_atomically(run_dir / "results.json", lambda f: f.write(text.encode()))
    return RunResult(run_dir, status, results)


def _record(state: RunState, status: str, compiled: bool) -> dict[str, Any]:
    """What every run's results say: its settings, model, device and progress."""
    cfg, p, spec = state.config, state.progress, state.engine.spec
    counts = count(spec)
    return {
        "status": status,
        "config": shown(cfg.to_dict()),
        "model": spec.name,
        "description": spec.description,
        "counts": vars(counts),
        "parameters": counts.parameters,
        "device": describe_device(state.device),
        "torch": torch.__version__,
        "lecnn": code_record(),  # the commit that made the run (lecnn.source)
        "compiled": compiled,  # what --compile decided (auto: where it pays)
        "epochs_done": p.epoch,
        "steps": p.step,
        "train_seconds": p.train_seconds,
        "history": p.history,
    }


def _final(
    engine: Engine,
    data: Prepared,
    logger: Logger,
    step: int,
    test: Evaluation | None,
    ranks: Ranks,
) -> dict[str, Any]:
    """The finished run's errors, test and training sets (``test``: the last pass's test
    evaluation, when the weights have not changed since), and its misclassified digits and
    confusion matrix logged."""
    ev = test or evaluate(engine, data.test, ranks=ranks)
    ev_train = evaluate(engine, data.train, ranks=ranks)
    wrong = (ev.predicted != data.test.y).nonzero().flatten()[:36]
    logger.misclassified(
        data.test.x[wrong].cpu(), ev.predicted[wrong].cpu(), data.test.y[wrong].cpu(), step
    )
    logger.confusion(ev.confusion(data.test.y), step)
    return {
        "test_error": ev.error,
        "test_misses": ev.misses,
        "test_loss": ev.loss,
        # measured after training (the papers' figure); the pass's running one beside it
        "train_error": ev_train.error,
        "train_misses": ev_train.misses,
        "train_loss": ev_train.loss,
    }


def shown(config: dict[str, Any]) -> dict[str, Any]:
    """The run's settings as its record shows them: the run folder and data folder relative to
    the working folder (``runs/x``, ``../shared/data/mnist``), which a reader's checkout has too.
    The checkpoint keeps them absolute, so a run resumes from any working folder."""
    out = dict(config)
    for key in ("logdir", "data_dir"):
        if out.get(key):
            try:
                out[key] = os.path.relpath(out[key])
            except ValueError:  # another drive (Windows): no relative path exists
                pass
    return out


def finished_results(run_dir: Path) -> dict[str, Any] | None:
    """The results of the finished run in ``run_dir``; None when it holds none (no file, a run
    that has not finished, or a file that is damaged: the run is then trained again)."""
    try:
        results = json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(results, dict) or results.get("status") != "finished":
        return None
    return results

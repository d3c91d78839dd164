"""Running a paper's protocol over several seeds and both implementations, each a normal training
run, and keeping a small summary of each for the report."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lecnn.data import load_mnist
from lecnn.device import describe_machine, select_device
from lecnn.models import count, get_spec
from lecnn.repro.protocols import PROTOCOLS, Protocol
from lecnn.repro.provenance import data_checksum, provenance
from lecnn.training.checkpoint import write_atomically
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer
from lecnn.training.results import RunResult
from lecnn.training.rundir import resumable


def run_one(
    proto: Protocol,
    impl: str,
    seed: int,
    *,
    runs_dir: Path,
    device: str = "auto",
    data_dir: str | None = None,
    epochs: int | None = None,
    limit: int | None = None,
    command: str = "",
    progress_bar: bool | None = None,
    compile: str = "auto",
) -> dict[str, Any]:
    """Train one seed of ``proto`` with ``impl``; write and return its summary. A run finished
    with these settings is not trained again (its summary returned, marked ``skipped``); one
    whose folder holds a checkpoint (Ctrl-C, a crash) continues from it (``resumed``)."""
    settings = dict(proto.config) | ({"epochs": epochs} if epochs is not None else {})
    name = run_name(proto, impl, seed, device)
    out = runs_dir / "summaries" / f"{name}.json"
    done = _finished(out, settings.get("epochs"), limit)
    if done is not None:
        return {**done, "skipped": True}
    logdir = runs_dir / "reproduce" / name
    config = TrainConfig(
        **settings, impl=impl, seed=seed, device=device, data_dir=data_dir, limit=limit,
        compile=compile, logdir=str(logdir),
    )  # fmt: skip
    checksum = data_checksum(load_mnist(data_dir, dataset=config.dataset))
    start = time.perf_counter()
    resume = resumable(logdir)
    # each run is single-process, also when lecnn reproduce shares runs out over torchrun ranks
    trainer = Trainer(config, resume=resume, progress_bar=progress_bar, distributed=False)
    result = trainer.run()
    summary = summarize(proto, trainer, result, epochs, limit) | _how(
        trainer, result, start, command, resume is not None, checksum
    )
    body = (json.dumps(summary, indent=2) + "\n").encode()
    write_atomically(out, lambda f: f.write(body))  # a crash mid-write keeps no half summary
    return summary


def _how(
    trainer: Trainer, result: RunResult, start: float, command: str, resumed: bool, checksum: str
) -> dict[str, Any]:
    """How the run was made: its times (``start``: when its command began), device, command,
    folder and provenance."""
    return {
        "wall_seconds": time.perf_counter() - start,
        "train_seconds": result.results["train_seconds"],
        "device_type": trainer.device.type,
        "compiled": trainer.compiled,
        "machine": describe_machine(trainer.device),
        "command": command,
        "run_dir": os.path.relpath(result.run_dir),  # a path a reader's checkout has too
        "resumed": resumed,
        "provenance": provenance(trainer, trainer.config.dataset, checksum),
    }


def summarize(
    proto: Protocol, trainer: Trainer, result: RunResult, epochs: int | None, limit: int | None
) -> dict[str, Any]:
    """A finished (or stopped) run's figures as the report reads them: its errors and misses
    after training, and its curve by pass."""
    final = result.results.get("final", {})
    curve = [
        {"epoch": h["epoch"], "test_error": h.get("test_error"), "train_error": h["train_error"]}
        for h in result.results["history"]
    ]
    return {
        "paper": proto.paper,
        "variant": proto.variant,
        "impl": trainer.config.impl,
        "seed": trainer.config.seed,
        "status": result.status,
        "epochs": trainer.config.epochs,
        "limit": limit,
        "shortened": epochs is not None or limit is not None,
        "train_digits": len(trainer.data.train),
        "test_digits": len(trainer.data.test),
        "test_error": final.get("test_error"),
        "test_misses": final.get("test_misses"),
        "train_error": final.get("train_error"),
        "train_misses": final.get("train_misses"),
        # the losses after training: what a rerun compares beside the misses (lecnn.repro.verify)
        "test_loss": final.get("test_loss"),
        "train_loss": final.get("train_loss"),
        "curve": curve,
    }


def run_name(proto: Protocol, impl: str, seed: int, device: str = "auto") -> str:
    """The run's folder and summary name: ``lenet5-faithful-manual-seed0`` (CPU runs keep the
    plain name; others add the device type)."""
    kind = select_device(device).type
    on = "" if kind == "cpu" else f"-{kind}"
    return f"{proto.paper}-{proto.variant}-{impl}{on}-seed{seed}"


def _finished(path: Path, epochs: int | None, limit: int | None) -> dict[str, Any] | None:
    """The summary at ``path`` if it is one of a run that finished with these passes and digits."""
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # none yet, or unreadable: the run is trained (and its summary rewritten)
    if not isinstance(summary, dict) or summary.get("status") != "finished":
        return None
    if summary.get("epochs") != epochs or summary.get("limit") != limit:
        return None
    return summary


@dataclass(frozen=True)
class Options:
    """What every run of one ``lecnn reproduce`` shares (sent to each worker)."""

    runs_dir: Path
    device: str = "auto"
    data_dir: str | None = None
    epochs: int | None = None
    limit: int | None = None
    command: str = ""
    compile: str = "auto"
    progress_bar: bool | None = None


def reproduce_task(options: Options, task: tuple[str, str, int]) -> dict[str, Any]:
    """One run, ``task`` = (protocol key, implementation, seed): ``run_one`` with the options."""
    key, impl, seed = task
    o = options
    return run_one(
        PROTOCOLS[key], impl, seed, runs_dir=o.runs_dir, device=o.device, data_dir=o.data_dir,
        epochs=o.epochs, limit=o.limit, command=o.command, progress_bar=o.progress_bar,
        compile=o.compile,
    )  # fmt: skip


def estimated_cost(proto: Protocol, limit: int | None = None) -> float:
    """A run's work, roughly (passes × digits × connections; batches cost ~8× less per digit):
    what orders the runs largest first, so the cores stay busy to the end."""
    spec = get_spec(proto.config["model"])
    batch = proto.config.get("batch_size", spec.defaults.batch_size)
    epochs = proto.config.get("epochs", spec.defaults.epochs)
    digits = limit or (7291 if spec.input == "zip16" else 60000)
    return epochs * digits * count(spec).connections / (1 if batch == 1 else 8)

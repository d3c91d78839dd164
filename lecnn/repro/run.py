"""Running a paper's protocol over several seeds and both implementations, each a normal training
run, and keeping a small summary of each for the report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lecnn.device import describe_machine, select_device
from lecnn.repro.protocols import Protocol
from lecnn.training.checkpoint import write_atomically
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer
from lecnn.training.results import RunResult


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
    """Train one seed of ``proto`` with ``impl``; write and return its summary."""
    settings = dict(proto.config)
    if epochs is not None:
        settings["epochs"] = epochs
    kind = select_device(device).type
    on = "" if kind == "cpu" else f"-{kind}"  # CPU runs keep the plain name
    name = f"{proto.paper}-{proto.variant}-{impl}{on}-seed{seed}"
    config = TrainConfig(
        **settings, impl=impl, seed=seed, device=device, data_dir=data_dir, limit=limit,
        compile=compile, logdir=str(runs_dir / "reproduce" / name),
    )  # fmt: skip
    start = time.perf_counter()
    # each run is single-process, also when lecnn reproduce shares runs out over torchrun ranks
    trainer = Trainer(config, progress_bar=progress_bar, distributed=False)
    result = trainer.run()
    summary = {
        "paper": proto.paper,
        "variant": proto.variant,
        "impl": impl,
        "seed": seed,
        **summarize(trainer, result, epochs, limit),
        "wall_seconds": time.perf_counter() - start,
        "train_seconds": result.results["train_seconds"],
        "device_type": trainer.device.type,
        "compiled": trainer.compiled,
        "machine": describe_machine(trainer.device),
        "command": command,
        "run_dir": str(result.run_dir),
    }
    out = runs_dir / "summaries" / f"{name}.json"
    body = (json.dumps(summary, indent=2) + "\n").encode()
    write_atomically(out, lambda f: f.write(body))  # a crash mid-write keeps no half summary
    return summary


def summarize(
    trainer: Trainer, result: RunResult, epochs: int | None, limit: int | None
) -> dict[str, Any]:
    """A finished (or stopped) run's figures as the report reads them: its errors and misses
    after training, and its curve by pass."""
    final = result.results.get("final", {})
    curve = [
        {"epoch": h["epoch"], "test_error": h.get("test_error"), "train_error": h["train_error"]}
        for h in result.results["history"]
    ]
    return {
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
        "curve": curve,
    }

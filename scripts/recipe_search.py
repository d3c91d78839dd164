"""The fastest recipe to 99%: every candidate (schedule × peak rate × batch size × passes) trained
for several seeds, one run at a time on quiet cores, and ranked by its mean training time among
those whose mean test accuracy reaches the target (the worst seed shown beside it).

    python scripts/recipe_search.py --data-dir ../shared/data/mnist            # the full grid
    python scripts/recipe_search.py --schedules onecycle --lrs 0.01,0.02 --batch-sizes 512 \\
        --epochs 2 --seeds 5

Prints one line per candidate as it ends and the winner; keep the output in
runs/bench/recipe_search-cpu.txt. Timing runs side by side would skew each other: run it alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import statistics
import tempfile

import torch

from lecnn.device import describe_machine, select_device
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data


def trial(model: str, schedule: str, lr: float, batch: int, epochs: int, seed: int, data, args):
    """One run: (training seconds, test accuracy)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model=model, schedule=schedule, lr=lr, batch_size=batch, epochs=epochs, seed=seed,
            optimizer="adam", augment=False, device=args.device, limit=args.limit, logdir=tmp,
            eval_every=epochs,
        )  # fmt: skip
        with contextlib.redirect_stdout(io.StringIO()):  # the runs' pass lines
            result = Trainer(cfg, data=data, progress_bar=False).run()
    final = result.results["final"]
    return result.results["train_seconds"], 1.0 - final["test_error"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("LECNN_DATA"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", default="lenet5-modern")
    ap.add_argument("--schedules", default="linear,onecycle,cosine:warmup=0.1")
    ap.add_argument("--lrs", default="0.003,0.006,0.01,0.02")
    ap.add_argument("--batch-sizes", default="128,256,512")
    ap.add_argument("--epochs", default="1,2,3")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--limit", type=int, help="train on the first N digits (a quick look)")
    args = ap.parse_args()
    device = select_device(args.device)
    print(f"# {describe_machine(device)}; {args.seeds} seeds per candidate; target "
          f"{args.target:.1%} (mean of the seeds)", flush=True)  # fmt: skip
    grid = itertools.product(
        args.models.split(","), args.schedules.split(","), map(float, args.lrs.split(",")),
        map(int, args.batch_sizes.split(",")), map(int, args.epochs.split(",")),
    )  # fmt: skip
    data, rows = {}, []
    for model, schedule, lr, batch, epochs in grid:
        form = TrainConfig(model=model).input_form()
        if form not in data:
            cfg = TrainConfig(model=model, data_dir=args.data_dir)
            data[form] = load_data(cfg, device, torch.float32)
        runs = [trial(model, schedule, lr, batch, epochs, s, data[form], args)
                for s in range(args.seeds)]  # fmt: skip
        seconds = statistics.mean(t for t, _ in runs)
        accs = [a for _, a in runs]
        row = (model, schedule, lr, batch, epochs, seconds, statistics.mean(accs), min(accs))
        rows.append(row)
        print(f"{model} {schedule:18s} lr {lr:<6g} batch {batch:4d} passes {epochs}: "
              f"{seconds:6.1f} s, test accuracy {row[6]:.2%} (worst seed {row[7]:.2%})",
              flush=True)  # fmt: skip
    reached = sorted((r for r in rows if r[6] >= args.target), key=lambda r: r[5])
    if not reached:
        print(f"no candidate reached {args.target:.1%} on average")
        return
    m, sch, lr, batch, epochs, seconds, mean, worst = reached[0]
    print(f"fastest to {args.target:.1%}: {m} --schedule {sch} --lr {lr:g} --batch-size {batch} "
          f"--epochs {epochs}: {seconds:.1f} s of training, {mean:.2%} mean, worst seed {worst:.2%}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The fastest recipe to 99%: every candidate (optimizer × schedule × peak rate × batch size ×
passes) trained for a few seeds (``--screen``), one run at a time on quiet cores; a candidate near
the target and not slower than the best one confirmed so far gets all ``--seeds``; the winner is the
least mean training time among those whose mean test accuracy over all seeds reaches the target
(the worst seed shown beside it). The cheapest candidates go first, so the bar is set early, and
a candidate whose passes would take longer than the best confirmed time is skipped untrained.

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


def trial(cand: tuple, seed: int, data, args) -> tuple[float, float]:
    """One run of a candidate: (training seconds, test accuracy)."""
    model, optimizer, schedule, lr, batch, epochs = cand
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model=model, schedule=schedule, lr=lr, batch_size=batch, epochs=epochs, seed=seed,
            optimizer=optimizer, augment=False, device=args.device, limit=args.limit, logdir=tmp,
            eval_every=epochs, impl=args.impl,
        )  # fmt: skip
        with contextlib.redirect_stdout(io.StringIO()):  # the runs' pass lines
            result = Trainer(cfg, data=data, progress_bar=False).run()
    final = result.results["final"]
    return result.results["train_seconds"], 1.0 - final["test_error"]


def describe(cand: tuple) -> str:
    model, optimizer, schedule, lr, batch, epochs = cand
    return (f"{model} --optimizer {optimizer} --schedule {schedule} --lr {lr:g} "
            f"--batch-size {batch} --epochs {epochs}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("LECNN_DATA"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--impl", default="autograd")
    ap.add_argument("--models", default="lenet5-modern")
    ap.add_argument("--optimizers", default="adam|adam:beta1=0.7,beta2=0.9", help="|-separated")
    ap.add_argument("--schedules", default="linear,onecycle,cosine:warmup=0.1")
    ap.add_argument("--lrs", default="0.003,0.006,0.01,0.02")
    ap.add_argument("--batch-sizes", default="128,256,512")
    ap.add_argument("--epochs", default="1,2,3")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--screen", type=int, default=2,
                    help="seeds every candidate gets first; only those within --margin of the "
                         "target and not slower than the best confirmed one get all --seeds")  # fmt: skip
    ap.add_argument("--margin", type=float, default=0.002)
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--limit", type=int, help="train on the first N digits (a quick look)")
    args = ap.parse_args()
    device = select_device(args.device)
    print(f"# {describe_machine(device)}; threads {torch.get_num_threads()}; impl {args.impl}; "
          f"{args.screen} seeds per candidate, {args.seeds} for those that may win; target "
          f"{args.target:.1%} (mean of the seeds)", flush=True)  # fmt: skip
    grid = list(itertools.product(
        args.models.split(","), args.optimizers.split("|"), args.schedules.split(","),
        map(float, args.lrs.split(",")), map(int, args.batch_sizes.split(",")),
        map(int, args.epochs.split(",")),
    ))  # fmt: skip
    grid.sort(key=lambda c: (c[5], -c[4]))  # the cheapest first: they set the bar early
    data, rows, best = {}, [], float("inf")
    pass_seconds: dict[tuple[str, int], float] = {}  # (model, batch) → seconds per pass
    for cand in grid:
        form = TrainConfig(model=cand[0]).input_form()
        if form not in data:
            data[form] = load_data(TrainConfig(model=cand[0], data_dir=args.data_dir), device,
                                   torch.float32)  # fmt: skip
        per_pass = pass_seconds.get((cand[0], cand[4]))
        if per_pass is not None and cand[5] * per_pass > 1.1 * best:
            print(f"{describe(cand)}: skipped, {cand[5]} passes take about "
                  f"{cand[5] * per_pass:.1f} s, the best confirmed {best:.1f} s", flush=True)  # fmt: skip
            continue
        runs = [trial(cand, s, data[form], args) for s in range(min(args.screen, args.seeds))]
        mean = statistics.mean(a for _, a in runs)
        promising = mean >= args.target - args.margin
        if promising and statistics.mean(t for t, _ in runs) <= best:
            runs += [trial(cand, s, data[form], args) for s in range(len(runs), args.seeds)]
        seconds = statistics.mean(t for t, _ in runs)
        key = (cand[0], cand[4])  # the quickest pass seen: one slowed by the machine skips nothing
        pass_seconds[key] = min(pass_seconds.get(key, float("inf")), seconds / cand[5])
        accs = [a for _, a in runs]
        row = (cand, seconds, statistics.mean(accs), min(accs), len(runs))
        rows.append(row)
        if len(runs) == args.seeds and row[2] >= args.target:
            best = min(best, seconds)
        print(f"{describe(cand)}: {seconds:6.1f} s, test accuracy {row[2]:.2%} (worst seed "
              f"{row[3]:.2%}, {len(runs)} seeds)", flush=True)  # fmt: skip
    reached = sorted((r for r in rows if r[2] >= args.target and r[4] == args.seeds),
                     key=lambda r: r[1])  # fmt: skip
    if not reached:
        print(f"no candidate reached {args.target:.1%} on average over {args.seeds} seeds")
        return
    cand, seconds, mean, worst, _ = reached[0]
    print(f"fastest to {args.target:.1%}: {describe(cand)}: {seconds:.1f} s of training, "
          f"{mean:.2%} mean, worst seed {worst:.2%}")  # fmt: skip


if __name__ == "__main__":
    main()

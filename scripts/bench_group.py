"""Runs trained as one group (``lecnn.training.group``) against the same runs one after another:
µs per run-update for S runs together, both implementations, eager, on this process's threads.

    OMP_NUM_THREADS=1 python scripts/bench_group.py [--models lecun1989,lenet5] [--sizes 1,5,10,32]

Prints one line per model × implementation × S; keep the output in runs/bench/bench_group-cpu.txt.
Time it on quiet cores.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from lecnn.device import describe_machine
from lecnn.models import get_spec
from lecnn.models.build import INPUT_SIZE
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.engine import encode_targets, make_engine
from lecnn.training.group import GroupStep, stack

CPU = torch.device("cpu")


def per_run_update(
    model: str, impl: str, runs: int, batch: int, updates: int
) -> tuple[float, float]:
    """(µs per run-update one run after another, µs per run-update as one group)."""
    spec = get_spec(model)
    cfg = TrainConfig(model=model, optimizer="sgd", lr=0.01, batch_size=batch).resolved()
    size = INPUT_SIZE[spec.input]
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(runs, batch, 1, size, size, generator=g)
    ys = torch.randint(0, 10, (runs, batch), generator=g)
    ts = torch.stack([encode_targets(y, spec.target, torch.float32) for y in ys])
    engines = [make_engine(spec, impl, seed=s, device=CPU) for s in range(runs)]
    opts = [make_optimizer(cfg) for _ in range(runs)]
    start = time.perf_counter()
    for _ in range(updates):
        for e, o, x, t in zip(engines, opts, xs, ts):
            e.train_step(x, t)
            o.step(e.params(), e.grads())
    solo = (time.perf_counter() - start) / (updates * runs) * 1e6
    params = stack([e.params() for e in engines])
    group, opt = GroupStep(engines[0]), make_optimizer(cfg)
    _, _, grads = group(params, xs, ts)  # warm-up: vmap's first call traces
    start = time.perf_counter()
    for _ in range(updates):
        _, _, grads = group(params, xs, ts)
        opt.step(params, grads)
    together = (time.perf_counter() - start) / (updates * runs) * 1e6
    return solo, together


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lecun1989,lenet5")
    ap.add_argument("--sizes", default="1,5,10,32")
    ap.add_argument("--batch", type=int, default=1, help="examples per update (1: per example)")
    ap.add_argument("--updates", type=int, default=50)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="There is a performance drop")
    print(f"# {describe_machine(CPU)}; batch {args.batch}, SGD, eager; µs per run-update")
    for model in args.models.split(","):
        for impl in ("autograd", "manual"):
            for s in map(int, args.sizes.split(",")):
                solo, together = per_run_update(model, impl, s, args.batch, args.updates)
                print(
                    f"{model:10s} {impl:8s} S={s:3d}: one after another {solo:8.1f} µs, "
                    f"as one group {together:8.1f} µs ({solo / together:.2f}x)",
                    flush=True,
                )


if __name__ == "__main__":
    main()

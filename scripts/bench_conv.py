"""Which hand-written convolution backward is fastest: forward + backward of the manual network
(``Engine.train_step``) with every ``Conv2d`` set to each method — ``loop`` (one output position
at a time), ``unfold`` (im2col) and ``conv`` (the framework's convolution kernels) — per example
and in batches. Prints measured figures, asserts nothing.

    OMP_NUM_THREADS=1 python scripts/bench_conv.py
    python scripts/bench_conv.py --device cuda
"""

from __future__ import annotations

import argparse
import time

import torch

from lecnn import manual as M
from lecnn.device import describe_device, select_device
from lecnn.manual.conv import METHODS
from lecnn.models import get_spec
from lecnn.training.engine import encode_targets, make_engine

SIDE = {"zip16": 16, "lenet32": 32, "mnist28": 28}


def per_update_us(model: str, method: str, batch: int, device: torch.device, repeats: int) -> float:
    spec = get_spec(model)
    engine = make_engine(spec, "manual", seed=0, device=device)
    for layer in engine.net.layers:
        if isinstance(layer, M.Conv2d):
            layer.method = method
    g = torch.Generator().manual_seed(0)
    side = SIDE[spec.input]
    x = torch.rand(batch, 1, side, side, generator=g).to(device)
    t = encode_targets(torch.randint(0, 10, (batch,), generator=g), spec.target, x.dtype)
    t = t.to(device)
    for _ in range(max(repeats // 10, 3)):
        engine.train_step(x, t)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        engine.train_step(x, t)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / repeats * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--cases",
        default="lecun1989:1,lenet5:1,lenet5:16,lenet5-modern:128",
        help="model:batch,...",
    )
    p.add_argument("--methods", default=",".join(METHODS))
    args = p.parse_args()
    device = select_device(args.device)
    print(
        f"# {describe_device(device)}, {torch.get_num_threads()} thread(s), torch {torch.__version__}"
    )
    print(
        f"{'model':14s} {'batch':>5s} "
        + " ".join(f"{m + ' µs':>12s}" for m in args.methods.split(","))
    )
    for case in args.cases.split(","):
        model, batch = case.split(":")
        repeats = 2000 if int(batch) == 1 else 100
        times = {}
        for method in args.methods.split(","):
            reps = repeats // 10 if method == "loop" and int(batch) > 1 else repeats
            times[method] = per_update_us(model, method, int(batch), device, reps)
        best = min(times, key=times.get)
        print(
            f"{model:14s} {int(batch):5d} "
            + " ".join(f"{v:12.1f}" for v in times.values())
            + f"   fastest: {best}",
            flush=True,
        )


if __name__ == "__main__":
    main()

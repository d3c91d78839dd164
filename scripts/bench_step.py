"""Where one training update's time goes: augmentation, forward + backward, the Adam step and the
running metrics of a lenet5-modern update, each timed alone over many repetitions, for both
implementations. Prints measured figures, asserts nothing.

    python scripts/bench_step.py --device cuda
"""

from __future__ import annotations

import argparse
import time

import torch

from lecnn.device import describe_device, select_device
from lecnn.models import get_spec
from lecnn.training.augment import random_affine
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.engine import make_engine


def timed(fn, device: torch.device, repeats: int) -> float:
    """Mean milliseconds per call, after a warm-up, with the device drained before and after."""
    for _ in range(max(repeats // 10, 2)):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / repeats * 1e3


def parts(impl: str, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> dict:
    """The four pieces of one update, each a call that repeats it."""
    engine = make_engine(get_spec("lenet5-modern"), impl, seed=0, device=x.device)
    opt = make_optimizer(TrainConfig(optimizer="adam", lr=1e-3))
    out = engine.train_step(x, y)[1]
    return {
        "augment": lambda: random_affine(x, g),
        "forward+backward": lambda: engine.train_step(x, y),
        "adam step": lambda: opt.step(engine.params(), engine.grads()),
        "metrics": lambda: (engine.predict(out) == y).sum(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=300)
    args = p.parse_args()
    device = select_device(args.device)
    torch.backends.cudnn.benchmark = True
    n = args.batch_size
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(n, 1, 28, 28, device=device, generator=g)
    y = torch.randint(0, 10, (n,), device=device, generator=g)
    print(f"lenet5-modern, batch {n}, on {describe_device(device)}; torch {torch.__version__}")
    print(f"{'impl':9s} {'part':17s} {'ms/update':>10s}")
    for impl in ("autograd", "manual"):
        total = 0.0
        for name, fn in parts(impl, x, y, g).items():
            ms = timed(fn, device, args.repeats)
            total += ms
            print(f"{impl:9s} {name:17s} {ms:10.3f}", flush=True)
        print(f"{impl:9s} {'sum':17s} {total:10.3f}")


if __name__ == "__main__":
    main()

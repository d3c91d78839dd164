"""Batched CPU training at the framework's best: what each of the usual levers does to one update
of lenet5-modern (forward, loss, backward, Adam's step) on real MNIST batches, both
implementations, measured side by side in one run.

Levers: oneDNN's kernels on or off, channels-last memory format (``Engine.channels_last``: the
convolution weights and the inputs, so every map lies N×H×W×C; what ``--memory-format auto``
takes for these updates), ``torch.compile`` of the whole update (its compilation timed apart),
and the host syncs a loop would add (``.item()`` of the loss after every update). The other
variants run contiguous.

    OMP_NUM_THREADS=2 python scripts/bench_cpu_batched.py --data-dir ../shared/data/mnist

Prints ms per update (median of --repeats rounds of --updates updates); keep the output in
runs/bench/bench_cpu_batched-cpu.txt. Asserts nothing; run it with nothing else on the cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from lecnn.data import load_mnist
from lecnn.data.derived import standardize
from lecnn.device import describe_machine
from lecnn.models import get_spec
from lecnn.training.compiled import CompiledUpdate, onednn
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.engine import Engine, make_engine


def engine_for(impl: str, channels_last: bool) -> tuple[Engine, object]:
    cfg = TrainConfig(model="lenet5-modern", impl=impl, optimizer="adam", lr=1e-3).resolved()
    engine = make_engine(get_spec("lenet5-modern"), impl, seed=0, device=torch.device("cpu"),
                         channels_last=channels_last)  # fmt: skip
    return engine, make_optimizer(cfg)


VARIANTS = ("plain", "oneDNN off", "channels-last", "item() each update", "torch.compile")


def make_step(impl: str, variant: str, batches: list) -> tuple[Callable[..., None], str]:
    """One update of ``impl`` as ``variant`` takes it, and what building it cost (compiling)."""
    engine, opt = engine_for(impl, variant == "channels-last")
    if variant == "torch.compile":
        update = CompiledUpdate(engine, opt, 1, torch.device("cpu"))

        def compiled(xb: torch.Tensor, yb: torch.Tensor) -> None:
            update(xb[None], yb[None], [1e-3])

        start = time.perf_counter()
        compiled(*batches[0])
        compiled(*batches[1])  # the first call runs eagerly; the second compiles
        return compiled, f"  (compiling {time.perf_counter() - start:.1f} s)"
    params = engine.params()

    def eager(xb: torch.Tensor, yb: torch.Tensor) -> None:
        loss, _ = engine.train_step(xb, yb)
        opt.step(params, engine.grads())
        if variant == "item() each update":
            float(loss)

    return eager, ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("LECNN_DATA"))
    ap.add_argument("--batch-sizes", default="256,512")
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--impls", default="autograd,manual")
    args = ap.parse_args()
    print(f"# {describe_machine(torch.device('cpu'))}; threads {torch.get_num_threads()}; "
          f"ms per update, median of {args.repeats} rounds of {args.updates}, the variants "
          "taking turns round by round (the machine's speed drifts)", flush=True)  # fmt: skip
    digits = load_mnist(args.data_dir)
    x, y = standardize(digits.train_images), digits.train_labels
    print(f"{'impl':9s} {'batch':>5s} {'variant':28s} {'ms/update':>9s} {'× plain':>7s}")
    for bs in map(int, args.batch_sizes.split(",")):
        batches = [(x[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs]) for i in range(8)]
        cases = [(impl, v) for impl in args.impls.split(",") for v in VARIANTS]
        steps = {case: make_step(*case, batches) for case in cases}
        times: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
        for r in range(args.repeats + 1):  # the first round untimed: warm-up
            for case in cases:
                with onednn(case[1] != "oneDNN off"):
                    start = time.perf_counter()
                    for i in range(args.updates):
                        steps[case][0](*batches[i % len(batches)])
                    if r:
                        times[case].append(1e3 * (time.perf_counter() - start) / args.updates)
        for impl, variant in cases:
            ms, plain = (statistics.median(times[c]) for c in ((impl, variant), (impl, "plain")))
            print(f"{impl:9s} {bs:5d} {variant:28s} {ms:9.2f} {ms / plain:7.2f}"
                  f"{steps[impl, variant][1]}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

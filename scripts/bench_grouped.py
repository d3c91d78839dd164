"""Runs of one model trained as one group (``lecnn train --seeds S --group on``) against the same
runs each trained alone with today's single-run update (``--group off``, compiled where
``--compile`` allows): whole training runs on real MNIST through the training loop, µs per
run-update of the second pass (the first pays for tracing and compiling), and the process's
peak memory. Each measurement is its own subprocess, one thread unless ``--threads``.

    python scripts/bench_grouped.py [--models lecun1989,lenet5] [--impls manual,autograd]
        [--sizes 1,5,10,32] [--limit 1000] [--batched lenet5-modern:256]

Prints one line per model × implementation × S; keep the output in runs/bench/bench_grouped-cpu.txt
(``--group auto`` reads its thresholds from it: lecnn/training/many.py). Time it on quiet cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def measure(model: str, impl: str, runs: int, batch: int, limit: int, grouped: bool,
            compile: str, device: str = "cpu") -> dict:  # fmt: skip
    """In this process: train ``runs`` runs (2 passes over ``limit`` digits); the second pass's
    µs per run-update and the peak resident memory."""
    import torch

    from lecnn.training.config import TrainConfig
    from lecnn.training.grouped import GroupTrainer
    from lecnn.training.loop import Trainer, load_data

    with tempfile.TemporaryDirectory() as tmp:
        configs = [
            TrainConfig(model=model, impl=impl, batch_size=batch, limit=limit, epochs=2,
                        seed=s, device=device, compile=compile, log_every=500,
                        logdir=f"{tmp}/seed-{s}")
            for s in range(runs)
        ]  # fmt: skip
        data = load_data(configs[0].resolved(), torch.device(device), torch.float32)
        start = time.perf_counter()
        if grouped:
            outcomes = GroupTrainer(configs, data=data).run()
            results = [o.result.results for o in outcomes]
        else:  # one after another: each run's second pass alone
            results = [Trainer(c, data=data, progress_bar=False).run().results for c in configs]
        wall = time.perf_counter() - start
    seconds = [r["history"][1]["train_seconds"] - r["history"][0]["train_seconds"] for r in results]
    # a group's members each report the group's time; runs alone add up
    second = seconds[0] if grouped else sum(seconds)
    updates = results[0]["steps"] // 2
    return {
        "us_per_run_update": second / (updates * runs) * 1e6,
        "wall_s": wall,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device != "cpu" else 0.0,
        "compiled": results[0]["compiled"],
    }


def run_child(args: list[str], threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"bench_grouped: {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lecun1989,lenet5")
    ap.add_argument("--impls", default="manual,autograd")
    ap.add_argument("--sizes", default="1,5,10,32")
    ap.add_argument("--limit", type=int, default=1000, help="digits per pass (per-example runs)")
    ap.add_argument("--batched", default="lenet5-modern:256", help="MODEL:BATCH, or '' for none")
    ap.add_argument("--batched-limit", type=int, default=10240)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        model, impl, runs, batch, limit, grouped, compile, device = a.child
        print(json.dumps(measure(model, impl, int(runs), int(batch), int(limit),
                                 grouped == "1", compile, device)))  # fmt: skip
        return
    import torch

    from lecnn.device import describe_machine

    print(
        f"# {a.threads} thread; {describe_machine(torch.device(a.device))}; 2 passes, the second "
        "timed; µs per run-update; alone: eager and compiled (--compile on)"
    )
    cases = [(m, 1, a.limit) for m in a.models.split(",") if m]
    if a.batched:
        model, batch = a.batched.split(":")
        cases.append((model, int(batch), a.batched_limit))
    for model, batch, limit in cases:
        for impl in a.impls.split(","):
            alone = {c: run_child([model, impl, "1", str(batch), str(limit), "0", c, a.device], a.threads)
                     for c in ("off", "on")}  # fmt: skip
            best = min(alone.values(), key=lambda r: r["us_per_run_update"])["us_per_run_update"]
            for size in [int(s) for s in a.sizes.split(",")]:
                group = run_child([model, impl, str(size), str(batch), str(limit), "1", "off", a.device],
                                  a.threads)  # fmt: skip
                us = group["us_per_run_update"]
                print(
                    f"{model:13s} batch {batch:3d} {impl:8s} S={size:3d}: alone eager "
                    f"{alone['off']['us_per_run_update']:7.1f} µs, compiled "
                    f"{alone['on']['us_per_run_update']:7.1f} µs; as one group {us:7.1f} µs "
                    f"({best / us:.2f}x the better alone); group peak {group['peak_mib']:.0f} MiB"
                    f"{f', GPU {gpu:.0f} MiB' if (gpu := group['gpu_peak_mib']) else ''}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

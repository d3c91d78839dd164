"""The memory a group of S runs holds on the full MNIST training set: each member's pass examples
gathered in its own order (what a pass works from), the weights, one group update taken; the
process's peak resident memory, each S in its own process, and the largest S that fits in a given
memory, from the growth per run.

    python scripts/bench_group_memory.py [--models lenet5,lecun1989] [--sizes 1,8] [--gib 24]

Keep the output in runs/bench/bench_group_memory-cpu.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile


def measure(model: str, runs: int) -> float:
    """Peak MiB of this process once a group of ``runs`` has started its pass and taken an update."""
    import torch

    from lecnn.training.config import TrainConfig
    from lecnn.training.grouped import GroupTrainer
    from lecnn.training.setup import load_data

    tmp = tempfile.mkdtemp()
    configs = [
        TrainConfig(model=model, impl="manual", batch_size=1, epochs=1, seed=s, device="cpu",
                    compile="off", logdir=f"{tmp}/{s}")
        for s in range(runs)
    ]  # fmt: skip
    data = load_data(configs[0].resolved(), torch.device("cpu"), torch.float32)
    group = GroupTrainer(configs, data=data)
    passes = [m.start_pass() for m in group.members]
    assert group.update is not None
    group.update(group.members, [p.next_chunk() for p in passes])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet5,lecun1989")
    ap.add_argument("--sizes", default="1,8")
    ap.add_argument("--gib", type=float, default=24.0)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(measure(a.child[0], int(a.child[1]))))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    print("# cpu, full MNIST training set, manual implementation; peak resident MiB per process")
    for model in a.models.split(","):
        peaks = {}
        for size in [int(s) for s in a.sizes.split(",")]:
            out = subprocess.run([sys.executable, __file__, "--child", model, str(size)], env=env,
                                 capture_output=True, text=True, check=True)  # fmt: skip
            peaks[size] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{model:10s} S={size:3d}: {peaks[size]:7.0f} MiB", flush=True)
        (s0, m0), (s1, m1) = min(peaks.items()), max(peaks.items())
        per_run = (m1 - m0) / (s1 - s0)
        fits = int(s0 + (a.gib * 1024 - m0) / per_run)
        print(f"{model:10s} {per_run:.0f} MiB per run more: about {fits} runs fit in {a.gib:g} GiB")


if __name__ == "__main__":
    main()

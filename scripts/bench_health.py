"""Training health's cost: ``lecnn train`` (its defaults) and a per-example lecun1989 run, each
with health logging (the default, about 40 samples a run) and without (``--health-every 0``),
side by side, alternating, several rounds. The training time is each run's own (results.json's
``train_seconds``: the updates and the health samples, not loading data or the evaluations).

    python scripts/bench_health.py [--rounds 3] [--data-dir DIR]

runs/bench/bench_health-cpu.txt keeps its output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "lecnn train (lenet5-modern, batch 128, 3 passes)": [],
    "lecun1989 per-example, 2 passes (compiled)": ["--model", "lecun1989", "--epochs", "2"],
}


def train_seconds(args: list[str], health: bool, data_dir: str) -> tuple[float, int]:
    """One run's training seconds, and how many health samples it took."""
    with tempfile.TemporaryDirectory() as run:
        cmd = [sys.executable, "-m", "lecnn", "train", *args, "--device", "cpu", "--no-progress",
               "--data-dir", data_dir, "--logdir", run, "--overwrite"]  # fmt: skip
        if not health:
            cmd += ["--health-every", "0"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        seconds = json.loads(Path(run, "results.json").read_text())["train_seconds"]
        record = Path(run, "health.jsonl")
        return seconds, len(record.read_text().splitlines()) if record.exists() else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cases", help="only the cases whose name contains this")
    p.add_argument("--data-dir", default=os.environ.get("LECNN_DATA"))
    args = p.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}; {args.rounds} rounds, off and on alternating")  # fmt: skip
    for name, flags in CASES.items():
        if args.cases and args.cases not in name:
            continue
        times: dict[bool, list[float]] = {False: [], True: []}
        samples = 0
        for _ in range(args.rounds):
            for health in (False, True):
                seconds, n = train_seconds(flags, health, args.data_dir)
                times[health].append(seconds)
                samples = max(samples, n)
        off, on = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name}: without health {off:.2f} s, with ({samples} samples) {on:.2f} s "
              f"(medians; each round: {', '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(times[False], times[True]))}); "
              f"overhead {100 * (on / off - 1):+.1f}%", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

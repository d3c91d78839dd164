"""``lecnn reproduce --jobs``: wall time of the same reproduction run one after another and on
every core, side by side in one sitting (each from an empty runs folder).

    python scripts/bench_jobs.py [--paper lecun1989] [--seeds 2] [--data-dir DIR]

Prints one line per setting and the speed-up; runs/bench/bench_jobs-cpu.txt keeps its output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(
    paper: str, seeds: int, jobs: int, threads: str | None, data_dir: str
) -> tuple[float, dict]:
    """Wall seconds of one ``lecnn reproduce`` and its runs' test errors."""
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("OMP_NUM_THREADS", None)
        if threads:
            env["OMP_NUM_THREADS"] = threads
        cmd = [sys.executable, "-m", "lecnn", "reproduce", paper, "--seeds", str(seeds),
               "--jobs", str(jobs), "--device", "cpu", "--no-progress", "--runs-dir", runs,
               "--data-dir", data_dir]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - start
        errors = {}
        for f in sorted(Path(runs, "summaries").glob("*.json")):
            s = json.loads(f.read_text())
            errors[f"{s['impl']} seed {s['seed']}"] = s["test_error"]
        return wall, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper", default="lecun1989")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--data-dir", default=os.environ.get("LECNN_DATA", "../shared/data/mnist"))
    ap.add_argument(
        "--one-thread-serial-only",
        action="store_true",
        help="leave out the serial run on torch's default threads (quicker)",
    )
    args = ap.parse_args()
    import torch

    from lecnn.device import describe_machine
    from lecnn.training.jobs import usable_cores

    print(f"# lecnn reproduce {args.paper} --seeds {args.seeds}; {describe_machine(torch.device('cpu'))}, "
          f"{usable_cores()} usable cores")  # fmt: skip
    results = {}
    settings = [("--jobs 1, OMP_NUM_THREADS=1", 1, "1"),
                ("--jobs 1, torch's default threads", 1, None),
                (f"--jobs {usable_cores()}", usable_cores(), None)]  # fmt: skip
    if args.one_thread_serial_only:
        settings.pop(1)
    for label, jobs, threads in settings:
        wall, errors = timed(args.paper, args.seeds, jobs, threads, args.data_dir)
        results[label] = (wall, errors)
        shown = ", ".join(f"{k} {100 * v:.2f}%" for k, v in errors.items())
        print(f"{label:36s} {wall:7.1f} s wall   test errors: {shown}", flush=True)
    serial = min(wall for label, (wall, _) in results.items() if label.startswith("--jobs 1"))
    parallel = results[f"--jobs {usable_cores()}"][0]
    print(
        f"speed-up of --jobs {usable_cores()} over the faster serial run: {serial / parallel:.2f}x"
    )


if __name__ == "__main__":
    main()

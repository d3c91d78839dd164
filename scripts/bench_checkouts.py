"""One benchmark script run in two checkouts of lecnn, alternately, in one run: the way to compare
a change against the code before it on the same machine at the same time (its speed varies from
day to day). Each checkout runs its own copy of the script with its own lecnn first on the path.

    git worktree add ../before main
    python scripts/bench_checkouts.py --before ../before --after . --rounds 2 -- \\
        scripts/bench_train.py --models lecun1989 --epochs-to-99 0

Prints each run's output under a heading naming the checkout, its commit and the round; asserts
nothing. Keep the output in runs/bench/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def commit(folder: Path) -> str:
    out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, required=True, help="the checkout to compare against")
    ap.add_argument("--after", type=Path, default=Path("."))
    ap.add_argument("--rounds", type=int, default=2, help="runs of each, alternated")
    ap.add_argument("script", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS...]")
    a = ap.parse_args()
    script = a.script[1:] if a.script[:1] == ["--"] else a.script
    if not script:
        ap.error("name the benchmark script after --")
    sides = {"before": a.before.resolve(), "after": a.after.resolve()}
    print(f"# {' '.join(script)}; before {commit(sides['before'])}, after "
          f"{commit(sides['after'])}; {a.rounds} rounds, alternated", flush=True)  # fmt: skip
    for r in range(1, a.rounds + 1):
        for side, folder in sides.items():
            env = {**os.environ, "PYTHONPATH": str(folder)}
            print(f"\n## {side} ({commit(folder)}), round {r}", flush=True)
            subprocess.run([sys.executable, *script], cwd=folder, env=env, check=True)


if __name__ == "__main__":
    main()

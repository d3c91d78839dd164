"""Ablations of the 1998 protocols, one change at a time: print the commands that run them, or
write runs/ABLATIONS.md from the runs they left (each run's results.json; nothing is typed in).

    python scripts/ablations.py --commands            # what to run (one line per run)
    python scripts/ablations.py --write runs/ABLATIONS.md

Every row is a faithful LeNet-5 run (SDLM, one example per update, the paper's 20 passes and step
schedule, manual implementation) with the change named; the baseline is the reproduction's own
runs (runs/summaries/lenet5-faithful-manual-seed*.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "ablations"
BASE = (
    "OMP_NUM_THREADS=1 lecnn train --model lenet5 --impl manual --optimizer sdlm --batch-size 1 "
    "--epochs 20 --lr 0.0005 --schedule steps:2x0.0005,3x0.0002,3x0.0001,4x0.00005,8x0.00001 "
    "--no-augment --seed {seed} --logdir runs/ablations/{name}-s{seed} --no-progress"
)


@dataclass(frozen=True)
class Ablation:
    name: str
    protocol: str  # "faithful" or "distort": which published number it is measured against
    change: str
    flags: str  # added to BASE (a later flag wins over BASE's)
    why: str = ""
    variant: str = ""  # run as this reproduction variant (lecnn reproduce): read its summaries


ABLATIONS = (
    Ablation("order-fixed", "faithful", "examples in the data's own order every pass, not shuffled",
             "--order fixed"),
    Ablation("printed-init-sum", "faithful",
             "the printed initialisation U(±2.4/F) with subsampling that sums its four inputs",
             "--model lenet5:init=printed,subsampling=sum",
             "summing makes S2/S4's outputs 4× the average's, which is what the printed "
             "initialisation would have seen"),
    Ablation("subsampling-sum", "faithful",
             "subsampling that sums its four inputs, coefficient starting at 1 (4× the average's "
             "gain at the start), √F initialisation", "--model lenet5:subsampling=sum"),
    Ablation("prototypes-random", "faithful", "random ±1 RBF prototypes instead of the bitmaps",
             "--model lenet5:prototypes=random"),
    Ablation("sdlm-mu-0.1", "faithful", "SDLM's μ = 0.1 instead of 0.02", "--optimizer sdlm:mu=0.1"),
    Ablation("sdlm-samples-2000", "faithful",
             "SDLM's curvature on 2,000 examples per pass instead of 500",
             "--optimizer sdlm:samples=2000"),
    Ablation("distort-affine", "distort",
             "lecnn's earlier distortions: rotation ±10°, shifts ±10% of the field, x/y scale "
             "0.9–1.1, shear ±0.15 (the committed distort rows)", "--augment --augment-kind affine"),
    Ablation("distort-paper", "distort",
             "the paper's distortions: shifts ±2 px, scale 1 ± 0.1, squeeze 1 ± 0.1, horizontal "
             "shear ±0.15, no rotation", "--augment --augment-kind paper",
             variant="distort-paper"),
    Ablation("distort-paper-half", "distort", "the paper's distortions at half strength",
             "--augment --augment-kind paper:strength=0.5"),
)  # fmt: skip


def command(a: Ablation, seed: int | str) -> str:
    if a.variant:
        return (f"OMP_NUM_THREADS=1 lecnn reproduce lenet5 --variant {a.variant} --impl manual "
                f"--seeds 3 --no-progress")  # fmt: skip
    return f"{BASE.format(seed=seed, name=a.name)} {a.flags}"


def commands(seeds: int) -> list[str]:
    out = []
    for a in ABLATIONS:
        if a.name == "distort-affine":  # measured by lecnn reproduce lenet5 --distort
            continue
        out += [command(a, "")] if a.variant else [command(a, s) for s in range(seeds)]
    return out


def _measured(name: str) -> list[dict]:
    """(seed, test error, train error, training seconds) of each finished run of ``name``."""
    out = []
    for path in sorted(RUNS.glob(f"{name}-s*/results.json")):
        r = json.loads(path.read_text())
        if r.get("status") == "finished" and r.get("epochs_done") == 20:
            f = r["final"]
            out.append({"seed": r["config"]["seed"], "test": f["test_error"],
                        "train": f["train_error"], "seconds": r["train_seconds"]})  # fmt: skip
    return out


def _baseline(variant: str) -> list[dict]:
    out = []
    for path in sorted((ROOT / "runs" / "summaries").glob(f"lenet5-{variant}-manual-seed*.json")):
        r = json.loads(path.read_text())
        if r.get("status") == "finished" and not r.get("shortened"):
            out.append({"seed": r["seed"], "test": r["test_error"], "train": r["train_error"],
                        "seconds": r["train_seconds"]})  # fmt: skip
    return out


def _cells(runs: list[dict]) -> str:
    if not runs:
        return "not run | | |"
    test = [100 * r["test"] for r in runs]
    train = [100 * r["train"] for r in runs]
    sd = f" ± {statistics.stdev(test):.2f}" if len(test) > 1 else ""
    per_seed = ", ".join(f"{r['seed']}: {100 * r['test']:.2f}%" for r in runs)
    minutes = statistics.mean(r["seconds"] for r in runs) / 60
    return (f"{statistics.mean(test):.2f}{sd}% | {statistics.mean(train):.2f}% | "
            f"{len(runs)} ({per_seed}) | {minutes:.1f} min")  # fmt: skip


def report(machine: str) -> str:
    lines = [
        "# Ablations of the 1998 protocols",
        "",
        "Generated by `python scripts/ablations.py --write runs/ABLATIONS.md` from the runs in "
        "runs/ablations/ (each row one change from the faithful LeNet-5 protocol: SDLM, one example "
        "per update, 20 passes, the paper's step schedule, manual implementation). Test error: mean "
        "± standard deviation over seeds, on the whole test set after the 20th pass; time: training "
        f"time per run, compiled updates. Machine: {machine}.",
        "",
        "| protocol | change | test error | train error | seeds | time per run | command |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for variant, published in (("faithful", "0.95%"), ("distort", "0.8%")):
        base = _baseline(variant)
        what = "none: the reproduction's protocol" + (
            " (affine distortions)" if variant == "distort" else ""
        )
        cmd = f"`lecnn reproduce lenet5{' --distort' if variant == 'distort' else ''}`"
        lines.append(f"| {variant} (paper {published}) | {what} | {_cells(base)} | {cmd} |")
        for a in ABLATIONS:
            if a.protocol != variant or a.name == "distort-affine":
                continue
            runs = _baseline(a.variant) if a.variant else _measured(a.name)
            lines.append(f"| {variant} | {a.change} | {_cells(runs)} | `{command(a, 'S')}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commands", action="store_true", help="print the runs' commands")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--write", type=Path, help="write the report here")
    p.add_argument("--machine", default="x86_64, 2 cores, 1 thread per run; torch 2.14.1")
    args = p.parse_args()
    if args.commands:
        print("\n".join(commands(args.seeds)))
    if args.write:
        text = report(args.machine)
        if args.write.exists():
            text += _notes(args.write.read_text())
        args.write.write_text(text)
        print(f"wrote {args.write}")


def _notes(old: str) -> str:
    """Keep what follows the table (the findings, written by hand from the numbers above)."""
    marker = "\n## Findings"
    return old[old.index(marker) :] if marker in old else ""


if __name__ == "__main__":
    main()

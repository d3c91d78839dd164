"""Ablations of the 1998 protocols, one change at a time: print the commands that run them, or
write runs/ABLATIONS.md from the runs they left (each run's results.json; nothing is typed in).

    python scripts/ablations.py --commands            # what to run (one line per run)
    python scripts/ablations.py --run --seeds 5       # run what is not finished, on every core
    python scripts/ablations.py --write runs/ABLATIONS.md

Every row is one change from a protocol (the faithful LeNet-5 ones: SDLM, one example per update,
the paper's 20 passes and step schedule, manual implementation; the modern ones: their defaults,
autograd); the baselines are the reproduction's own runs (runs/summaries).
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
#: the authors'-code protocol (lecnn reproduce lenet5 --variant authors-code), as lecnn train flags
AUTHORS = (
    "OMP_NUM_THREADS=1 lecnn train --model lenet5-lush --impl manual "
    "--optimizer sdlm:samples=1000,every=10 --batch-size 1 --epochs 30 --lr 0.0001 "
    "--schedule steps:10x0.0001,10x0.00001,10x0.000001 --order fixed --no-augment "
    "--seed {seed} --logdir runs/ablations/{name}-s{seed} --no-progress"
)
MODERN = (
    "OMP_NUM_THREADS=1 lecnn train --model {model} --impl autograd --seed {seed} "
    "--logdir runs/ablations/{name}-s{seed} --no-progress"
)
#: protocol → (the paper's or our bar, baseline summaries' glob, the baseline's command)
PROTOCOLS = {
    "faithful": ("paper 0.95%", "lenet5-faithful-manual-seed*.json", "lecnn reproduce lenet5"),
    "distort": ("paper 0.8%", "lenet5-distort-paper-manual-seed*.json",
                "lecnn reproduce lenet5 --variant distort-paper"),
    "authors-code": ("the authors' code 0.82%", "lenet5-authors-code-manual-seed*.json",
                     "lecnn reproduce lenet5 --variant authors-code"),
    "lenet5-modern": ("our bar 0.6%", "superseded/lenet5-modern-autograd-seed*.json",
                      "lecnn reproduce lenet5 --variant modern --impl autograd (8 passes then)"),
    "lecun1989-modern": ("our bar 1.5%", "superseded/lecun1989-modern-autograd-seed*.json",
                         "lecnn reproduce lecun1989 --variant modern --impl autograd (80 passes then)"),
}  # fmt: skip


@dataclass(frozen=True)
class Ablation:
    name: str
    protocol: str  # "faithful" or "distort": which published number it is measured against
    change: str
    flags: str  # added to BASE (a later flag wins over BASE's)
    why: str = ""
    summaries: str = ""  # measured by lecnn reproduce: these summaries (runs/summaries/...)


ABLATIONS = (
    Ablation("order-fixed", "faithful", "examples in the data's own order every pass, not shuffled",
             "--order fixed"),
    Ablation("printed-init-sum", "faithful",
             "the printed initialisation U(±2.4/F) with subsampling that sums its four inputs",
             "--model lenet5:init=printed,subsampling=sum",
             "summing makes S2/S4's outputs 4× the average's, which is what the printed "
             "initialisation would have seen"),
    Ablation("subsampling-sum", "faithful",
             "subsampling that sums its four inputs with the coefficient starting at 1, i.e. the "
             "coefficient's starting value 4× the average's; √F initialisation",
             "--model lenet5:subsampling=sum"),
    Ablation("prototypes-random", "faithful", "random ±1 RBF prototypes instead of the bitmaps",
             "--model lenet5:prototypes=random"),
    Ablation("sdlm-mu-0.1", "faithful", "SDLM's μ = 0.1 instead of 0.02", "--optimizer sdlm:mu=0.1"),
    Ablation("sdlm-samples-2000", "faithful",
             "SDLM's curvature on 2,000 examples per pass instead of 500",
             "--optimizer sdlm:samples=2000"),
    Ablation("sdlm-mu-0.1-samples-2000", "faithful",
             "SDLM's μ = 0.1 and its curvature on 2,000 examples per pass, together",
             "--optimizer sdlm:mu=0.1,samples=2000"),
    Ablation("authors-paper-net", "authors-code",
             "the paper's network (F6, the RBF output and its criterion, the paper's input field, "
             "initialisation U(±2.4/√F) and averaging subsampling) instead of the code's, trained "
             "as the code trains it", "--model lenet5",
             "splits the gap between the faithful protocol and the authors' code: the network "
             "here, the training in authors-paper-training"),
    Ablation("authors-paper-training", "authors-code",
             "the paper protocol's training (20 passes, the paper's steps from η = 5e-4, SDLM "
             "on 500 examples before every pass, examples shuffled) instead of the code's, on "
             "the code's network",
             "--epochs 20 --lr 0.0005 --schedule steps:2x0.0005,3x0.0002,3x0.0001,4x0.00005,"
             "8x0.00001 --optimizer sdlm --order shuffle"),
    Ablation("distort-affine", "distort",
             "lecnn's own affine distortions instead of the paper's kinds: rotation ±10°, shifts "
             "±10% of the field, x/y scale 0.9–1.1, shear ±0.15 (the reproduction's distortion "
             "protocol until it took the paper's)", "--augment --augment-kind affine",
             summaries="superseded/lenet5-distort-manual-seed*.json"),
    Ablation("distort-paper-half", "distort", "the paper's distortions at half strength",
             "--augment --augment-kind paper:strength=0.5"),
    Ablation("lenet5-modern-e20", "lenet5-modern", "20 passes instead of 8 (affine distortions)",
             "--epochs 20 --augment --augment-kind affine"),
    Ablation("lenet5-modern-e20-paper", "lenet5-modern",
             "20 passes with the paper's distortions instead of the affine ones",
             "--epochs 20 --augment --augment-kind paper"),
    Ablation("lecun1989-modern-e120", "lecun1989-modern", "120 passes instead of 80",
             "--epochs 120"),
    Ablation("lecun1989-modern-paper", "lecun1989-modern",
             "the paper's distortions (shifts ±1 pixel at 16×16) instead of ±1-pixel shifts",
             "--augment-kind paper:translate=1"),
)  # fmt: skip


def command(a: Ablation, seed: int | str) -> str:
    if a.protocol == "authors-code":
        return f"{AUTHORS.format(seed=seed, name=a.name)} {a.flags}"
    if a.protocol.endswith("modern"):
        model = a.protocol
        return f"{MODERN.format(model=model, seed=seed, name=a.name)} {a.flags}"
    return f"{BASE.format(seed=seed, name=a.name)} {a.flags}"


def commands(seeds: int, rows: set[str] | None = None) -> list[str]:
    """The runs of seeds 0 … seeds − 1 of every ablation (or of those named in ``rows``), less
    the seeds an earlier reproduction measured (a row's ``summaries``)."""
    out = []
    for a in ABLATIONS:
        if rows is not None and a.name not in rows:
            continue
        done = {r["seed"] for r in _baseline(a.summaries)} if a.summaries else set()
        out += [command(a, s) for s in range(seeds) if s not in done]
    return out


def _runs(a: Ablation) -> list[dict]:
    """A row's runs: the reproduction's summaries it names, then its own runs of other seeds."""
    earlier = _baseline(a.summaries) if a.summaries else []
    seeds = {r["seed"] for r in earlier}
    return earlier + [r for r in _measured(a.name) if r["seed"] not in seeds]


def run_missing(cmds: list[str], jobs: int | None) -> None:
    """Run each command whose run folder has no finished results.json, ``jobs`` at a time (each
    its own process, one thread: the commands set OMP_NUM_THREADS=1); a line as each ends."""
    import shlex
    import subprocess
    import time
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from lecnn.training.jobs import default_jobs

    def logdir(cmd: str) -> Path:
        words = shlex.split(cmd)
        return ROOT / words[words.index("--logdir") + 1]

    def finished(cmd: str) -> bool:
        try:
            return json.loads((logdir(cmd) / "results.json").read_text())["status"] == "finished"
        except (OSError, ValueError, KeyError):
            return False

    def one(cmd: str) -> tuple[str, int, float]:
        start = time.perf_counter()
        resume = ["--resume", str(logdir(cmd))] if (logdir(cmd) / "checkpoint.pt").exists() else []
        env_cmd = cmd + (" " + " ".join(resume) if resume else "")
        done = subprocess.run(env_cmd, shell=True, cwd=ROOT, capture_output=True, text=True)
        return cmd, done.returncode, time.perf_counter() - start

    todo = [c for c in cmds if not finished(c)]
    print(f"{len(cmds) - len(todo)} finished before; {len(todo)} to run")
    with ThreadPoolExecutor(max_workers=jobs or default_jobs()) as pool:
        for n, future in enumerate(as_completed([pool.submit(one, c) for c in todo]), 1):
            cmd, code, seconds = future.result()
            state = "finished" if code == 0 else f"FAILED (exit {code})"
            print(f"[{n}/{len(todo)}] {logdir(cmd).name}: {state}, {seconds:.0f} s", flush=True)


def _measured(name: str) -> list[dict]:
    """(seed, test error, train error, training seconds) of each finished run of ``name``."""
    out = []
    # the seed's digits only: "sdlm-mu-0.1-s*" would also take "sdlm-mu-0.1-samples-2000-s0"
    for path in sorted(RUNS.glob(f"{name}-s*/results.json")):
        if not path.parent.name.removeprefix(f"{name}-s").isdigit():
            continue
        r = json.loads(path.read_text())
        if r.get("status") == "finished" and r.get("epochs_done") == r["config"]["epochs"]:
            f = r["final"]
            out.append({"seed": r["config"]["seed"], "test": f["test_error"],
                        "train": f["train_error"], "seconds": r["train_seconds"],
                        "code": _commit(r.get("lecnn"), path)})  # fmt: skip
    return out


def _commit(code: dict | None, path: Path) -> str:
    """The commit that made a run: recorded in its record (``+``: its lecnn/ was edited), or for
    runs from before records kept it, the commit that first committed the record ("by" it: the
    code was that commit's parent's or older)."""
    if code and code.get("commit"):
        return code["commit"][:7] + ("" if code.get("clean") else "+")
    import subprocess

    added = subprocess.run(
        ["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%h", "--abbrev=7", "--",
         str(path)], capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    return f"committed by {added[-1]}" if added else "not recorded"


def _codes(runs: list[dict]) -> str:
    """A row's commits: one, or each with its seeds."""
    seeds: dict[str, list[int]] = {}
    for r in runs:
        seeds.setdefault(r["code"], []).append(r["seed"])
    if len(seeds) == 1:
        return next(iter(seeds))
    return "; ".join(
        f"{code} (seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))})"
        for code, s in seeds.items()
    )


def _baseline(pattern: str) -> list[dict]:
    out = []
    for path in sorted((ROOT / "runs" / "summaries").glob(pattern)):
        r = json.loads(path.read_text())
        if r.get("status") == "finished" and not r.get("shortened"):
            code = (r.get("provenance") or {}).get("lecnn")
            out.append({"seed": r["seed"], "test": r["test_error"], "train": r["train_error"],
                        "seconds": r["train_seconds"], "code": _commit(code, path)})  # fmt: skip
    return out


def _cells(runs: list[dict]) -> str:
    if not runs:
        return "not run | | | |"
    test = [100 * r["test"] for r in runs]
    train = [100 * r["train"] for r in runs]
    sd = f" ± {statistics.stdev(test):.2f}" if len(test) > 1 else ""
    per_seed = ", ".join(f"{r['seed']}: {100 * r['test']:.2f}%" for r in runs)
    minutes = statistics.mean(r["seconds"] for r in runs) / 60
    return (f"{statistics.mean(test):.2f}{sd}% | {statistics.mean(train):.2f}% | "
            f"{len(runs)} ({per_seed}) | {minutes:.1f} min | {_codes(runs)}")  # fmt: skip


def report(machine: str) -> str:
    lines = [
        "# Ablations of the 1998 protocols",
        "",
        "Generated by `python scripts/ablations.py --write runs/ABLATIONS.md` from the runs in "
        "runs/ablations/ and the reproduction's summaries. Each row is one change from a protocol: "
        "the faithful LeNet-5 ones (SDLM, one example per update, 20 passes, the paper's step "
        "schedule; manual implementation) and the modern ones (their `lecnn train` defaults; "
        "autograd). Test error: mean ± standard deviation over seeds, on the whole test set after "
        "the last pass; time: training time per run (per-example runs with compiled updates, "
        f"except older baseline runs that were eager or mixed); code: the lecnn commit that made "
        "the runs, as each run recorded it, or for runs from before runs recorded it, the commit "
        f"that committed their records (made by that commit's parent or older). Machine: {machine}.",
        "",
        "| protocol | change | test error | train error | seeds | time per run | code | command |",
        "|---|---|---:|---:|---|---:|---|---|",
    ]
    for variant, (bar, pattern, cmd) in PROTOCOLS.items():
        what = "none: the reproduction's protocol" + (
            " (the paper's kinds of distortion)" if variant == "distort" else ""
        )
        lines.append(f"| {variant} ({bar}) | {what} | {_cells(_baseline(pattern))} | `{cmd}` |")
        for a in ABLATIONS:
            if a.protocol != variant:
                continue
            lines.append(f"| {variant} | {a.change} | {_cells(_runs(a))} | `{command(a, 'S')}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commands", action="store_true", help="print the runs' commands")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--write", type=Path, help="write the report here")
    p.add_argument("--machine", default="x86_64, 2 cores, 1 thread per run; torch 2.14.1")
    p.add_argument(
        "--run",
        action="store_true",
        help="run the commands not yet finished (their results.json), --jobs at a time",
    )
    p.add_argument("--jobs", type=int, help="runs at once (default: one per usable core)")
    p.add_argument("--rows", help="only these rows, comma-separated (default: every row)")
    args = p.parse_args()
    rows = set(args.rows.split(",")) if args.rows else None
    if rows is not None and (unknown := rows - {a.name for a in ABLATIONS}):
        p.error(f"no such row: {', '.join(sorted(unknown))}")
    if args.commands:
        print("\n".join(commands(args.seeds, rows)))
    if args.run:
        run_missing(commands(args.seeds, rows), args.jobs)
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

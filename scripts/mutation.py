"""Mutation testing: run mutmut (configured in pyproject.toml: lecnn/manual, lecnn/training and
lecnn/data, each mutant against the fast tests that reach the function it changed) and write the
score per package to runs/bench/mutation.txt.

    OMP_NUM_THREADS=1 LECNN_DATA=../shared/data/mnist python scripts/mutation.py --jobs 2
    python scripts/mutation.py --jobs 2 --mutants 'lecnn.manual*'   # one package
    python scripts/mutation.py --jobs 2 --sample 0.2 # a seeded fifth of every file's mutants
    python scripts/mutation.py --report-only      # score an existing mutants/ folder again
    python scripts/mutation.py --jobs 2 --sample 0.1 --survivors  # rerun the sample's survivors
    python scripts/mutation.py --sample 0.1 --survivors --mutants 'lecnn.manual*'  # some of them

Not part of CI. A full run does not fit an hour on 2 cores with this suite (runs/bench/mutation.txt
says how long it was estimated to take); ``--sample F`` checks a seeded random fraction F of each
source file's mutants (stratified, so every file is represented as it is in the whole) and gives
each package's score with a 95% Wilson interval: the score of a sample of n mutants estimates the
whole's to within about ±1/sqrt(n). A mutant is "killed" when a test fails
with it, "survived" when every test passes, "no tests" when no selected test reaches its function,
"timeout" when its tests ran far longer than without it (a kill: the mutant broke the code).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lecnn/manual", "lecnn/training", "lecnn/data")
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout"}
KILLED.update({255: "timeout", -9: "segfault", -11: "segfault", 37: "type check"})
OTHER = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", None: "not checked"}


def outcome(code: int | None) -> str:
    return KILLED.get(code) or OTHER.get(code, "suspicious")


def _metas(mutants: Path) -> Iterator[tuple[str, str, dict]]:
    """(source file, its package, {mutant name: exit code}) for each mutated file's .meta."""
    for meta in sorted(mutants.glob("lecnn/**/*.py.meta")):
        rel = meta.relative_to(mutants).as_posix()
        pkg = next((p for p in PACKAGES if rel.startswith(p + "/")), None)
        if pkg is not None:
            yield rel.removesuffix(".meta"), pkg, json.loads(meta.read_text())["exit_code_by_key"]


def collect(mutants: Path, only: set[str] | None = None) -> dict[str, Counter]:
    """Outcome counts per package (of the mutants in ``only``, when given), and the survivors'
    names under the key "survivors:<pkg>"."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for _, pkg, codes in _metas(mutants):
        for name, code in codes.items():
            if only is not None and name not in only:
                continue
            counts[pkg][outcome(code)] += 1
            if outcome(code) == "survived":
                counts["survivors:" + pkg][name] += 1
    return counts


def wilson(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval of a proportion ``killed / n`` (Wilson's, sound near 0 and 1 and for small n)."""
    if n == 0:
        return 0.0, 1.0
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mutant_names(mutants: Path) -> dict[str, list[str]]:
    """Every generated mutant's name, per source file (from mutmut's .meta files)."""
    return {file: sorted(codes) for file, _, codes in _metas(mutants)}


def sample(names: dict[str, list[str]], fraction: float, seed: int) -> list[str]:
    """A seeded random ``fraction`` of each file's mutants (at least one per file)."""
    rng = random.Random(seed)
    picked = []
    for file in sorted(names):
        k = max(1, round(fraction * len(names[file])))
        picked += rng.sample(names[file], min(k, len(names[file])))
    return picked


def _function(mutant: str) -> str:
    """``lecnn.training.loop.xǁTrainerǁrun__mutmut_80`` → ``xǁTrainerǁrun`` (mutmut's key)."""
    return mutant.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]


def snapshot(mutants: Path) -> dict[str, dict]:
    """Every mutated file's .meta as it is now (mutmut forgets all results when it regenerates
    the mutants, which it does at the start of every run)."""
    return {
        m.relative_to(mutants).as_posix(): json.loads(m.read_text())
        for m in sorted(mutants.glob("lecnn/**/*.py.meta"))
    }


def restore(mutants: Path, before: dict[str, dict], rerun: set[str]) -> int:
    """Give the mutants that were not rerun their results from ``before`` where their function
    is unchanged (mutmut's hash of it is the same), so a rerun of some mutants keeps the others'
    results. Those results are from the earlier tests: tests added since can only kill more.
    Returns how many results were given back."""
    given = 0
    for rel, old in before.items():
        path = mutants / rel
        if not path.exists():
            continue
        new = json.loads(path.read_text())
        hashes = new.get("hash_by_function_name", {})
        same = {f for f, h in old.get("hash_by_function_name", {}).items() if hashes.get(f) == h}
        codes = new["exit_code_by_key"]
        for name, code in old["exit_code_by_key"].items():
            if name in rerun or code is None or codes.get(name, 0) is not None:
                continue  # rerun, never checked, gone, or checked again now
            if _function(name) in same:
                codes[name] = code
                for key in ("durations_by_key", "estimated_durations_by_key"):
                    if name in old.get(key, {}):
                        new.setdefault(key, {})[name] = old[key][name]
                given += 1
        path.write_text(json.dumps(new, indent=4))
    return given


def score(c: Counter) -> tuple[int, int]:
    """(killed, scored): killed includes timeouts and crashes; unscored: no tests, not checked."""
    killed = c["killed"] + c["timeout"] + c["segfault"] + c["type check"]
    return killed, killed + c["survived"] + c["suspicious"]


def report(
    counts: dict[str, Counter],
    seconds: float | None,
    command: str,
    fraction: float = 1.0,
    estimate: bool = True,
) -> str:
    """The scores per package; ``estimate``: scale the time to a full run (not for a rerun)."""
    lines = [
        f"mutation testing with mutmut on {platform.machine()} ({os.cpu_count()} cores), "
        f"torch {torch.__version__}",
        f"command: {command}",
    ]
    if seconds is not None:
        lines.append(f"wall time: {seconds / 60:.1f} min")
    if fraction < 1:
        lines.append(
            f"a sample of {100 * fraction:g}% of each file's mutants; 'mutants' counts the sample"
            + (
                f"; a full run would take about {seconds / fraction / 60:.0f} min"
                if seconds and estimate
                else ""
            )
        )
    lines += ["", f"{'package':16s} {'mutants':>8s} {'killed':>7s} {'survived':>9s} "
              f"{'no tests':>9s} {'timeout':>8s} {'unchecked':>10s} {'score':>7s}  95% interval"]  # fmt: skip
    total = Counter()
    for pkg in PACKAGES:
        c = counts.get(pkg, Counter())
        total += c
        k, n = score(c)
        lines.append(
            f"{pkg:16s} {sum(c.values()):8d} {c['killed']:7d} {c['survived']:9d} "
            f"{c['no tests']:9d} {c['timeout']:8d} {c['not checked']:10d} "
            f"{100 * k / max(n, 1):6.1f}%  {_interval(k, n)}"
        )
    k, n = score(total)
    lines.append(f"{'all':16s} {sum(total.values()):8d} {total['killed']:7d} "
                 f"{total['survived']:9d} {total['no tests']:9d} {total['timeout']:8d} "
                 f"{total['not checked']:10d} {100 * k / max(n, 1):6.1f}%  {_interval(k, n)}")  # fmt: skip
    lines += ["", "score = (killed + timeout) / (killed + timeout + survived), over the mutants",
              "checked; 'no tests' (no selected test reaches the function) and 'unchecked' (the",
              "run stopped first) are counted apart. Survivors by package:"]  # fmt: skip
    for pkg in PACKAGES:
        names = sorted(counts.get("survivors:" + pkg, Counter()))
        lines.append(f"\n{pkg}: {len(names)} survived")
        lines += [f"  {n}" for n in names]
    return "\n".join(lines) + "\n"


def _interval(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{100 * lo:.1f}–{100 * hi:.1f}%"


def generate(env: dict) -> None:
    """Have mutmut write the mutants and record which tests reach which function, checking none:
    mutmut 3 has no command for that alone, so it is asked for a mutant that does not exist (its
    stats are saved before it finds that out)."""
    subprocess.run([sys.executable, "-m", "mutmut", "run", "__no_such_mutant__"], cwd=ROOT, env=env)
    if not mutant_names(ROOT / "mutants"):
        raise SystemExit("mutmut wrote no mutants under mutants/: see its output above")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutmut's --max-children")
    ap.add_argument("--report-only", action="store_true", help="score mutants/ as it is")
    ap.add_argument(
        "--mutants",
        nargs="*",
        default=[],
        help="only these mutant name globs (e.g. 'lecnn.manual*')",
    )
    ap.add_argument("--sample", type=float, help="check this fraction of each file's mutants")
    ap.add_argument("--seed", type=int, default=0, help="which sample (default 0)")
    ap.add_argument(
        "--survivors",
        action="store_true",
        help="rerun only the mutants that survived last time (of the sample, with --sample; "
        "of those matching --mutants, with --mutants), keeping every other result",
    )
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench" / "mutation.txt"))
    args = ap.parse_args()
    if args.sample is not None and not 0 < args.sample <= 1:
        ap.error(f"--sample {args.sample}: give a fraction in (0, 1]")
    if args.survivors and args.report_only:
        ap.error("--survivors reruns mutants: without --report-only")
    seconds = None
    command = " ".join(["mutmut run --max-children", str(args.jobs), *args.mutants])
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    only = None
    before = snapshot(ROOT / "mutants") if args.survivors else {}
    globs = args.mutants or ["*"]  # with --survivors: which survivors to rerun
    if args.sample is not None:
        if not args.report_only and not args.survivors:
            generate(env)
        args.mutants = sample(mutant_names(ROOT / "mutants"), args.sample, args.seed)
        only = set(args.mutants)
        command = (
            f"python scripts/mutation.py --jobs {args.jobs} --sample {args.sample} --seed "
            f"{args.seed} (mutmut run on {len(args.mutants)} mutants)"
        )
    if args.survivors:
        survivors = collect(ROOT / "mutants", only)
        args.mutants = sorted(
            n
            for pkg in PACKAGES
            for n in survivors["survivors:" + pkg]
            if any(fnmatch.fnmatchcase(n, g) for g in globs)
        )
        if not args.mutants:
            raise SystemExit("no survivors in mutants/ to rerun: run the mutants first")
        command = (
            f"python scripts/mutation.py --jobs {args.jobs}"
            + (f" --sample {args.sample} --seed {args.seed}" if args.sample else "")
            + f" --survivors (mutmut run on the {len(args.mutants)} survivors)"
        )
    if not args.report_only:
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mutmut",
                "run",
                "--max-children",
                str(args.jobs),
                *args.mutants,
            ],
            cwd=ROOT,
            env=env,
        )
        seconds = time.perf_counter() - start
        if before:
            kept = restore(ROOT / "mutants", before, set(args.mutants))
            print(f"kept the earlier results of {kept} mutants not rerun")
        if proc.returncode != 0:
            sys.stderr.write(f"mutmut exited with {proc.returncode}\n")
            return proc.returncode
    counts = collect(ROOT / "mutants", only)
    text = report(counts, seconds, command, args.sample or 1.0, estimate=not args.survivors)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text.split("\n\n")[1])
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

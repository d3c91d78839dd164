"""``lecnn reproduce`` and ``lecnn report``: the papers' numbers, measured."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from lecnn.cli import common
from lecnn.models import IMPLS
from lecnn.training.config import COMPILE_CHOICES


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="reproduce LeCun 1989 or LeNet-5 (1998) and write runs/REPRODUCTION.md",
        description="Run a paper's protocol for several seeds and implementations, then write the "
        "report. Variants: lecun1989 faithful|modern; lenet5 faithful|distort-paper|modern.",
    )
    p.add_argument("paper", choices=["lecun1989", "lenet5"])
    p.add_argument(
        "--variant",
        default="faithful",
        help="faithful (default), modern or distort-paper (the 1998 paper's kinds of distortion)",
    )
    p.add_argument("--distort", action="store_true", help="lenet5: same as --variant distort-paper")
    p.add_argument("--impl", default="both", choices=["both", *IMPLS])
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--seeds", type=common.whole_number, default=3, help="how many seeds (default 3)"
    )
    p.add_argument(
        "--first-seed", type=common.seed, default=0, help="seeds run from here (default 0)"
    )
    p.add_argument(
        "--epochs", type=common.positive_int, help="shorten to N passes (marked in the report)"
    )
    p.add_argument(
        "--limit", type=common.positive_int, help="shorten to N training digits (marked)"
    )
    p.add_argument(
        "--compile",
        default="auto",
        choices=list(COMPILE_CHOICES),
        help="each update as one compiled program (see lecnn train --help); auto: where it pays",
    )
    p.add_argument("--runs-dir", default="runs", help="where runs, summaries and the report go")
    p.add_argument("--no-progress", action="store_true")
    common.add_data_args(p)
    p.set_defaults(run=run_reproduce)

    p = sub.add_parser("report", help="write runs/REPRODUCTION.md from the run summaries")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(run=run_report)


def run_reproduce(args: argparse.Namespace) -> int:
    from lecnn.device import select_device
    from lecnn.errors import LecnnError
    from lecnn.repro.protocols import protocol
    from lecnn.repro.report import write_report
    from lecnn.training.distributed import SINGLE, gather_objects, join, launched

    variant = "distort-paper" if args.distort else args.variant
    if args.distort and args.paper != "lenet5":
        raise LecnnError("--distort applies to lenet5 only")
    if args.seeds < 1:  # zero seeds would write a report of nothing
        raise LecnnError(f"--seeds {args.seeds}: must be at least 1")
    _runs_dir(args.runs_dir, must_exist=False)
    proto = protocol(args.paper, variant)
    select_device(args.device)
    impls = list(IMPLS) if args.impl == "both" else [args.impl]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs = [(impl, seed) for impl in impls for seed in seeds]
    group = join(select_device("cpu")) if launched() else SINGLE  # Gloo, to share out the runs
    if group.main:
        spread = f", spread over {group.world} processes" if group.parallel else ""
        print(f"{proto.title}; {len(impls)} implementation(s) × {args.seeds} seed(s){spread}")
    failed = _train(args, proto, variant, runs[group.rank :: group.world], group)
    if group.parallel:
        failed = [f for part in gather_objects(failed) for f in part]
        if not group.main:
            return 1 if failed else 0
    print(f"report: {write_report(args.runs_dir, failed=failed)}")
    if failed:
        err = LecnnError(f"{len(failed)} run(s) failed: " + "; ".join(failed))
        err.exit_code = 1  # type: ignore[attr-defined]
        raise err
    return 0


def _typed_command(args: argparse.Namespace, variant: str) -> str:
    """The command to record in each summary: exactly what was typed, when run from the shell."""
    command = f"lecnn reproduce {args.paper} --variant {variant}"
    if sys.argv[1:2] == ["reproduce"]:
        command = "lecnn " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        threads = os.environ.get("OMP_NUM_THREADS")
        if threads:
            command = f"OMP_NUM_THREADS={threads} {command}"
    return command


def _train(args: argparse.Namespace, proto, variant: str, mine: list, group) -> list[str]:
    """Train this process's runs, a line for each; the failures, named (one process alone stops
    at the first; under torchrun the other runs go on and are kept)."""
    from lecnn.errors import LecnnError
    from lecnn.repro.run import run_one
    from lecnn.training.resume import first_line

    command, failed = _typed_command(args, variant), []
    rank = f" (rank {group.rank})" if group.parallel else ""
    for impl, seed in mine:
        try:
            s = run_one(
                proto, impl, seed, runs_dir=Path(args.runs_dir), device=args.device,
                data_dir=args.data_dir, epochs=args.epochs, limit=args.limit, command=command,
                compile=args.compile, progress_bar=False if args.no_progress else None,
            )  # fmt: skip
        except (LecnnError, OSError, RuntimeError) as e:
            if not group.parallel:
                raise
            failed.append(f"{impl} seed {seed} on rank {group.rank}: {first_line(e)}")
            print(f"{args.paper}/{variant} {impl} seed {seed} FAILED on rank {group.rank}: {e}")
            continue
        print(
            f"{args.paper}/{variant} {impl} seed {seed}: train error {100 * s['train_error']:.2f}% "
            f"test error {100 * s['test_error']:.2f}% ({s['test_misses']} misses), "
            f"{s['wall_seconds']:.0f} s{rank}"
        )
    return failed


def _runs_dir(path: str, *, must_exist: bool) -> Path:
    """``--runs-dir`` checked before any work: a folder (or, to be created, not a file)."""
    from lecnn.errors import LecnnError

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise LecnnError(f"--runs-dir {path}: is a file, not a folder")
    if must_exist and not (folder / "summaries").is_dir():
        raise LecnnError(
            f"--runs-dir {path}: no run summaries there ({folder / 'summaries'} is missing); "
            "run lecnn reproduce first or point --runs-dir at its folder"
        )
    return folder


def run_report(args: argparse.Namespace) -> int:
    from lecnn.repro.report import write_report

    _runs_dir(args.runs_dir, must_exist=True)
    print(f"report: {write_report(args.runs_dir)}")
    return 0

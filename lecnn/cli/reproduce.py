"""``lecnn reproduce`` and ``lecnn report``: the papers' numbers, measured."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lecnn.cli import common
from lecnn.models import IMPLS
from lecnn.training.config import COMPILE_CHOICES
from lecnn.training.interrupt import exit_status, signal_name


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="reproduce LeCun 1989 or LeNet-5 (1998) and write runs/REPRODUCTION.md",
        description="Run a paper's protocol for several seeds and implementations, then write the "
        "report. Variants: lecun1989 faithful|modern; lenet5 faithful|distort-pool|distort-paper|authors-code|modern.",
    )
    p.add_argument(
        "paper",
        nargs="?",
        choices=["lecun1989", "lenet5", "all"],
        help="a paper, or all: every protocol row of the report (largest runs first)",
    )
    _add_verify_flags(p)
    p.add_argument(
        "--variant",
        default="faithful",
        help="faithful (default), modern, distort-pool (the 1998 paper's distortion protocol: a "
        "fixed pool of distorted copies), distort-paper (the same kinds drawn afresh each pass) "
        "or, for lenet5, authors-code (LeNet-5 as its authors' Lush code trains it)",
    )
    p.add_argument(
        "--jobs",
        type=common.positive_int,
        help="runs trained at once, each in its own process on one thread (default: one per "
        "usable core; 1: one after another in this process)",
    )
    p.add_argument(
        "--distort",
        action="store_true",
        help="lenet5: same as --variant distort-pool (the paper's fixed pool of distorted copies)",
    )
    _add_run_flags(p)
    common.add_data_args(p)
    p.set_defaults(run=run_reproduce)

    p = sub.add_parser("report", help="write runs/REPRODUCTION.md from the run summaries")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(run=run_report)


def _add_verify_flags(p: argparse.ArgumentParser) -> None:
    """``--verify``: one committed run again, instead of a table."""
    p.add_argument(
        "--verify",
        metavar="SUMMARY_OR_ROW",
        help="rerun a committed run (a summary file, or a row such as lecun1989/faithful/manual "
        "with --seed) and say whether it gives the same numbers: exit 0 same, 1 different",
    )
    p.add_argument(
        "--seed", type=common.seed, help="with --verify and a row: its seed (default: the lowest)"
    )


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    """How the runs are made: implementations, device, seeds, shortening, compilation, folder."""
    p.add_argument("--impl", default="both", choices=["both", *IMPLS])
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--seeds", type=common.whole_number, help="how many seeds (default 3; 5 for all)"
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


def run_reproduce(args: argparse.Namespace) -> int:
    from lecnn.errors import LecnnError

    if args.verify is not None:
        if args.paper is not None:
            raise LecnnError("--verify reruns one committed run: leave the paper out")
        return _verify(args)
    if args.seed is not None:
        raise LecnnError("--seed picks the run --verify reruns; for a table use --first-seed")
    if args.paper is None:
        raise LecnnError("name a paper (lecun1989, lenet5 or all), or --verify SUMMARY_OR_ROW")
    return _reproduce(args)


def _verify(args: argparse.Namespace) -> int:
    """``--verify``: one committed run again, compared (``lecnn.repro.verify``)."""
    from lecnn.repro.verify import find_summary, verify

    path = find_summary(args.verify, args.seed, _runs_dir(args.runs_dir, must_exist=False))
    print(f"verify {path}", flush=True)
    verdict = verify(path, args.data_dir, args.device)
    print("\n".join(verdict.lines))
    return verdict.status


def _reproduce(args: argparse.Namespace) -> int:
    from lecnn.device import select_device
    from lecnn.errors import LecnnError
    from lecnn.repro.report import write_report
    from lecnn.training.distributed import ONE_PROCESS, gather_objects, join, launched
    from lecnn.training.jobs import default_jobs

    protos = _protocols(args)
    seeds, impls, runs = _planned(args, protos)
    _runs_dir(args.runs_dir, must_exist=False)
    select_device(args.device)
    ranks = join(select_device("cpu")) if launched() else ONE_PROCESS  # Gloo, to share out the runs
    jobs = args.jobs or default_jobs()
    if ranks.main:
        spread = f", spread over {ranks.world} processes" if ranks.parallel else ""
        title = protos[0][1].title if len(protos) == 1 else f"{len(protos)} protocols"
        print(f"{title}; {len(impls)} implementation(s) × {seeds} seed(s){spread}, "
              f"{min(jobs, len(runs))} at a time")  # fmt: skip
    failed, stopped = _train(args, runs[ranks.rank :: ranks.world], ranks, jobs)
    if ranks.parallel:
        failed = [f for part in gather_objects(failed) for f in part]
    if ranks.main:
        print(f"report: {write_report(args.runs_dir, failed=failed)}")
    ranks.barrier()  # the ranks leave the job together, once the report is written
    if not ranks.main:
        return 1 if failed else 0
    if stopped:
        print(f"stopped by {signal_name(stopped)}: the runs that were training saved their "
              "checkpoints; run the same command again to finish them")  # fmt: skip
        return exit_status(stopped)
    if failed:
        err = LecnnError(f"{len(failed)} run(s) failed: " + "; ".join(failed))
        err.exit_code = 1  # type: ignore[attr-defined]
        raise err
    return 0


def _planned(args: argparse.Namespace, protos: list) -> tuple[int, list[str], list[tuple]]:
    """(seeds, implementations, the runs as (protocol key, impl, seed)): seed by seed, both
    implementations of a seed together, so a stopped table has whole pairs."""
    from lecnn.errors import LecnnError

    seeds = (
        5 if args.seeds is None and args.paper == "all" else 3 if args.seeds is None else args.seeds
    )
    if seeds < 1:  # zero seeds would write a report of nothing
        raise LecnnError(f"--seeds {seeds}: must be at least 1")
    impls = list(IMPLS) if args.impl == "both" else [args.impl]
    runs = [(key, impl, seed) for key, _ in protos
            for seed in range(args.first_seed, args.first_seed + seeds) for impl in impls]  # fmt: skip
    return seeds, impls, runs


def _protocols(args: argparse.Namespace) -> list:
    """(key, protocol) of each protocol row asked for; for ``all``, every one, largest first."""
    from lecnn.errors import LecnnError
    from lecnn.repro.protocols import PROTOCOLS, protocol
    from lecnn.repro.run import estimated_cost

    if args.paper == "all":
        if args.distort or args.variant != "faithful":
            raise LecnnError("reproduce all runs every variant: leave --variant/--distort out")
        return sorted(PROTOCOLS.items(), key=lambda kv: -estimated_cost(kv[1], args.limit))
    variant = "distort-pool" if args.distort else args.variant
    if args.distort and args.paper != "lenet5":
        raise LecnnError("--distort applies to lenet5 only")
    return [(f"{args.paper}/{variant}", protocol(args.paper, variant))]


def _typed_command(args: argparse.Namespace) -> str:
    """The command to record in each summary: what was typed, when run from the shell, in a form
    a reader can paste (``lecnn.repro.provenance.pasteable``)."""
    from lecnn.repro.provenance import pasteable

    command = f"lecnn reproduce {args.paper}"
    if args.paper != "all":
        command += f" --variant {'distort-pool' if args.distort else args.variant}"
    if sys.argv[1:2] == ["reproduce"]:  # paths relative, the data folder as $LECNN_DATA
        command = "lecnn " + pasteable(sys.argv[1:])
        threads = os.environ.get("OMP_NUM_THREADS")
        if threads:
            command = f"OMP_NUM_THREADS={threads} {command}"
    return command


def _train(args: argparse.Namespace, mine: list, ranks, jobs: int) -> tuple[list[str], int]:
    """Train this process's runs, ``jobs`` at a time, a line for each as it ends; the failures,
    named, and whether Ctrl-C stopped them. One process alone, one job: it stops at the first
    failure, as it always did; otherwise the other runs go on and are kept."""
    from functools import partial

    from lecnn.repro.run import Options, reproduce_task
    from lecnn.training.jobs import run_all

    options = Options(
        runs_dir=Path(args.runs_dir), device=args.device, data_dir=args.data_dir,
        epochs=args.epochs, limit=args.limit, command=_typed_command(args), compile=args.compile,
        progress_bar=False if args.no_progress or jobs > 1 else None,
    )  # fmt: skip
    rank = f" (rank {ranks.rank})" if ranks.parallel else ""
    failed: list[str] = []

    def ended(outcome, done: int, left: float) -> None:
        key, impl, seed = outcome.task
        if outcome.error is not None:
            failed.append(f"{key} {impl} seed {seed}{rank}: {outcome.error}")
            print(f"{key} {impl} seed {seed} FAILED{rank}: {outcome.error}")
        else:
            print(_line(key, impl, seed, outcome.result) + rank)
        if len(mine) > 1:
            eta = f", about {left / 60:.0f} min left" if done < len(mine) else ""
            print(f"[{done}/{len(mine)} runs done{eta}]", flush=True)

    work = partial(reproduce_task, options)
    _, stopped = run_all(work, mine, jobs, ended, keep_going=ranks.parallel or jobs > 1)
    return failed, stopped


def _line(key: str, impl: str, seed: int, s: dict) -> str:
    """One ended run: its test error and wall time (or that it was skipped or stopped)."""
    if s.get("skipped"):
        return f"{key} {impl} seed {seed}: finished before (test error {100 * s['test_error']:.2f}%), skipped"
    if s["status"] != "finished":
        return f"{key} {impl} seed {seed}: stopped, checkpoint saved ({s['wall_seconds']:.0f} s)"
    resumed = " (resumed)" if s.get("resumed") else ""
    return (
        f"{key} {impl} seed {seed}: train error {100 * s['train_error']:.2f}% "
        f"test error {100 * s['test_error']:.2f}% ({s['test_misses']} misses), "
        f"{s['wall_seconds']:.0f} s{resumed}"
    )


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

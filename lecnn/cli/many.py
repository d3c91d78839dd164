"""``lecnn train --seeds N`` / ``--sweep NAME=A,B,C``: a set of runs from one command, each in
its own folder under ``--logdir``, trained as groups or each alone (``--group``) on every core
(``--jobs``); the same command run again skips finished runs and resumes the others."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

from lecnn.cli.common import passes
from lecnn.errors import LecnnError
from lecnn.training.config import TrainConfig
from lecnn.training.interrupt import exit_status, signal_name


def add_flags(p: argparse.ArgumentParser) -> None:
    from lecnn.cli.common import positive_int

    p.add_argument(
        "--seeds", type=positive_int, metavar="N",
        help="train N runs, seeds --seed, --seed+1, ... (folders RUN_DIR/seed-K)",
    )  # fmt: skip
    p.add_argument(
        "--sweep", action="append", metavar="NAME=A,B,C",
        help="one run per value (and seed) of lr, weight-decay, or an option of --optimizer or "
        "--augment-kind (e.g. mu=0.02,0.1 for sdlm); folders RUN_DIR/NAME-A_seed-K; repeat "
        "for every combination",
    )  # fmt: skip
    p.add_argument(
        "--group", choices=("auto", "on", "off"), default="auto",
        help="with --seeds/--sweep: train the runs as one program (one update for all, each run "
        "its own data order, draws and optimizer), or each alone; auto: where it measured "
        "faster (on CUDA; on the CPU see runs/bench/bench_grouped-cpu.txt)",
    )  # fmt: skip
    p.add_argument(
        "--jobs", type=positive_int, metavar="N",
        help="with --seeds/--sweep: worker processes, one thread each, a group or a run each "
        "(default: every usable core on the CPU, 1 on a GPU)",
    )  # fmt: skip


def wanted(args: argparse.Namespace) -> bool:
    """Whether the command asks for a set of runs."""
    return args.seeds is not None or bool(args.sweep)


def run_many(args: argparse.Namespace, config: TrainConfig, given: set[str]) -> int:
    from lecnn.device import select_device
    from lecnn.logs.tensorboard import timestamped_run_dir
    from lecnn.training.jobs import default_jobs
    from lecnn.training.many import group_count, group_pays, refuse_torchrun, train_all
    from lecnn.training.sweep import Sweep, expand

    if args.resume:
        raise LecnnError(
            "--resume continues one run; to continue a set of runs, give its command again "
            "with the same --logdir"
        )
    refuse_torchrun()
    sweeps = [Sweep.parse(s) for s in args.sweep or ()]
    resolved = config.resolved()
    device = select_device(resolved.device)
    for c in expand(config, args.seeds or 1, sweeps, Path("."))[0]:
        c.resolved()  # every run's settings checked before a folder is made
    parent = _parent(config, resolved, timestamped_run_dir)
    configs, set_by = expand(config, args.seeds or 1, sweeps, parent)
    jobs = args.jobs or (1 if device.type != "cpu" else default_jobs())
    jobs = min(jobs, len(configs))
    groups = group_count(len(configs), jobs)
    group = {"on": True, "off": False}.get(args.group)
    if group is None:
        group = group_pays(device.type, resolved.batch_size, math.ceil(len(configs) / groups))
    how = f"as {groups} group{'s' * (groups > 1)}" if group else "each alone"
    jobs = groups if group else jobs
    print(
        f"{len(configs)} runs of {resolved.model} ({resolved.impl}) on {device.type}, {how}, "
        f"{jobs} worker{'s' * (jobs > 1)}; folders under {parent}"
    )
    runs, stopped = train_all(
        configs, given | set_by, group=group, jobs=jobs, overwrite=args.overwrite,
        on_run=lambda r: print(line(r), flush=True),
        on_unit=lambda done, total, left: _progress(done, total, left, "groups" if group else "runs"),
        progress_bar=False if args.no_progress else None,
    )  # fmt: skip
    _write_summary(parent, runs, group, jobs)
    return _ending(runs, stopped, parent)


def _parent(config: TrainConfig, resolved: TrainConfig, make) -> Path:
    """The folder that holds the runs' folders: ``--logdir``, or a new timestamped one; never a
    single run's own folder."""
    from lecnn.training.rundir import holds_run

    if not config.logdir:
        return make(f"{resolved.model}-{resolved.impl}")
    parent = Path(config.logdir)
    if parent.exists() and not parent.is_dir():
        raise LecnnError(f"--logdir {parent}: is a file, not a folder; choose a folder")
    if parent.is_dir() and holds_run(parent):
        raise LecnnError(
            f"--logdir {parent}: holds a single run; a set of runs needs a folder of its own"
        )
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def line(r: dict[str, Any]) -> str:
    """One ended run."""
    name, status = r["name"], r["status"]
    if status in ("diverged", "failed"):
        return f"{name}: {status.upper()}: {r['message']}"
    if status == "interrupted":
        return f"{name}: stopped, checkpoint saved"
    done = f"test error {r['test_error']:.2%} ({r['test_misses']} misses)"
    if status == "skipped":
        return f"{name}: finished before ({done}), skipped"
    return (
        f"{name}: {done}, train error {r['train_error']:.2%}, {passes(r['passes'])} in "
        f"{r['train_seconds']:.1f} s of training"
    )


def _progress(done: int, total: int, left: float, what: str) -> None:
    if total > 1:
        eta = f", about {left / 60:.1f} min left" if done < total and math.isfinite(left) else ""
        print(f"[{done}/{total} {what} done{eta}]", flush=True)


def _write_summary(parent: Path, runs: list[dict[str, Any]], group: bool, jobs: int) -> None:
    from lecnn.training.checkpoint import write_atomically

    text = json.dumps({"grouped": group, "jobs": jobs, "runs": runs}, indent=2)
    write_atomically(parent / "runs.json", lambda f: f.write(text.encode()))


def _ending(runs: list[dict[str, Any]], stopped: int, parent: Path) -> int:
    if stopped:
        print(
            f"stopped by {signal_name(stopped)}: checkpoints saved; continue with the same command "
            f"and --logdir {parent}"
        )
        return exit_status(stopped)
    errors = [r["test_error"] for r in runs if r["status"] in ("finished", "skipped")]
    if errors:
        spread = f" ± {statistics.stdev(errors):.2%}" if len(errors) > 1 else ""
        print(
            f"done: {len(errors)} of {len(runs)} runs, test error {statistics.mean(errors):.2%}"
            f"{spread} (best {min(errors):.2%}, worst {max(errors):.2%}); each run's results in "
            f"{parent}/*/results.json, all in {parent / 'runs.json'}; view with: tensorboard "
            f"--logdir {parent}"
        )
    bad = [r["name"] for r in runs if r["status"] in ("diverged", "failed")]
    if bad:
        print(f"{len(bad)} run{'s' * (len(bad) > 1)} did not finish: {', '.join(bad)}")
        return 1
    return 0

"""Training a set of runs (``lecnn train --seeds N``, ``--sweep``): as groups (``GroupTrainer``,
one vmapped update for many runs) or each alone, spread over worker processes, one thread each
(``jobs.run_all``). Either way each run writes its own folder, and the same command run again
skips the finished runs and resumes the others from their checkpoints.

``--group auto`` decides by the measurement in runs/bench/bench_grouped-cpu.txt (``group_pays``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lecnn.errors import LecnnError
from lecnn.training.config import TrainConfig
from lecnn.training.distributed import launched
from lecnn.training.jobs import TaskOutcome, run_all
from lecnn.training.state import Diverged

#: on the CPU, the fewest runs per group (one thread) at which one group beat the same runs each
#: trained alone with the compiled update, by batch size (runs/bench/bench_grouped-cpu.txt);
#: ``None``: it did not pay at any size measured
CPU_GROUP_FROM: dict[str, int | None] = {"per-example": None, "batched": None}


def group_pays(device_type: str, batch_size: int, runs_per_group: int) -> bool:
    """``--group auto``: whether one group trains these runs faster than each run alone. On
    CUDA an update is bound by launching kernels, and a group launches once for all its runs;
    on the CPU it is the measured threshold."""
    if runs_per_group < 2:
        return False
    if device_type == "cuda":
        return True
    least = CPU_GROUP_FROM["per-example" if batch_size == 1 else "batched"]
    return least is not None and runs_per_group >= least


def group_count(runs: int, jobs: int) -> int:
    """How many groups ``runs`` make on ``jobs`` workers: one per worker, none smaller than two
    runs (a group of one is a run alone)."""
    return max(1, min(jobs, runs // 2))


@dataclass(frozen=True)
class Unit:
    """Runs one worker trains: a group, or one run alone."""

    configs: tuple[dict[str, Any], ...]
    given: frozenset[str]
    grouped: bool
    overwrite: bool


def units(configs: Sequence[TrainConfig], given: set[str], *, group: bool, jobs: int,
          overwrite: bool) -> list[Unit]:  # fmt: skip
    """The work: with ``group``, the runs dealt round-robin into ``jobs`` groups (one per
    worker; none smaller than two runs); otherwise one unit per run."""
    dicts = [c.to_dict() for c in configs]
    if group:
        n = group_count(len(dicts), jobs)
        return [Unit(tuple(dicts[i::n]), frozenset(given), True, overwrite) for i in range(n)]
    return [Unit((d,), frozenset(given), False, overwrite) for d in dicts]


def train_unit(unit: Unit, progress_bar: bool | None = False) -> dict[str, Any]:
    """Train ``unit``'s runs; a summary of each (``runs``), and whether Ctrl-C stopped them."""
    configs = [TrainConfig.from_dict(d) for d in unit.configs]
    if unit.grouped:
        from lecnn.training.grouped import GroupTrainer

        group = GroupTrainer(configs, given=set(unit.given), overwrite=unit.overwrite)
        runs = [summary(o.run_dir, o.result, o.diverged, o.skipped) for o in group.run()]
    else:
        runs = [_alone(c, set(unit.given), unit.overwrite, progress_bar) for c in configs]
    stopped = any(r["status"] == "interrupted" for r in runs)
    return {"runs": runs, "status": "interrupted" if stopped else "finished"}


def _alone(config: TrainConfig, given: set[str], overwrite: bool, bar: bool | None) -> dict:
    from lecnn.training.grouped import member

    folder = Path(config.logdir or "")
    trainer = member(config, given, None, overwrite=overwrite, progress_bar=bar)
    if trainer is None:
        return summary(folder, None, None, True)
    try:
        return summary(folder, trainer.run(), None, False)
    except Diverged as e:
        return summary(folder, None, e, False)


def summary(run_dir: Path, result, diverged: Diverged | None, skipped: bool) -> dict[str, Any]:
    """One run's line of the set: how it ended, its errors and training time."""
    out: dict[str, Any] = {"run_dir": str(run_dir), "name": run_dir.name}
    if diverged is not None:
        return {**out, "status": "diverged", "message": str(diverged)}
    if skipped:
        from lecnn.training.results import finished_results

        r, status = finished_results(run_dir) or {}, "skipped"
    else:
        r, status = result.results, result.status
    final = r.get("final") or {}
    return {
        **out, "status": status, "test_error": final.get("test_error"),
        "test_misses": final.get("test_misses"), "train_error": final.get("train_error"),
        "train_seconds": r.get("train_seconds"), "passes": r.get("epochs_done"),
    }  # fmt: skip


def train_all(
    configs: Sequence[TrainConfig],
    given: set[str],
    *,
    group: bool,
    jobs: int,
    overwrite: bool = False,
    on_run: Callable[[dict[str, Any]], None] = lambda s: None,
    on_unit: Callable[[int, int, float], None] = lambda done, total, left: None,
    progress_bar: bool | None = False,
) -> tuple[list[dict[str, Any]], int]:
    """Train ``configs`` (each with its own ``logdir``): a summary per run, in their order, and
    the stop signal that stopped them (0: none). ``on_run`` sees each run's summary as its unit ends; a run whose
    worker failed is a summary with status ``failed`` and the reason."""
    from functools import partial

    todo = units(configs, given, group=group, jobs=jobs, overwrite=overwrite)

    def ended(outcome: TaskOutcome, done: int, left: float) -> None:
        for r in _runs_of(outcome):
            on_run(r)
        on_unit(done, len(todo), left)

    work = partial(train_unit, progress_bar=progress_bar if jobs <= 1 else False)
    outcomes, stopped = run_all(work, todo, jobs, ended, keep_going=True)
    order = {str(Path(c.logdir or "")): i for i, c in enumerate(configs)}
    runs = sorted((r for o in outcomes for r in _runs_of(o)), key=lambda r: order[r["run_dir"]])
    return runs, stopped


def _runs_of(outcome: TaskOutcome) -> list[dict[str, Any]]:
    """The summaries of a unit's runs; each run of a unit whose worker failed, with the reason."""
    if outcome.error is None:
        return outcome.result["runs"]
    return [
        {"run_dir": d["logdir"], "name": Path(d["logdir"]).name, "status": "failed",
         "message": outcome.error} for d in outcome.task.configs
    ]  # fmt: skip


def refuse_torchrun() -> None:
    """A set of runs is trained by this process and its workers, not shared over torchrun ranks."""
    if launched():
        raise LecnnError(
            "--seeds and --sweep train their runs in this process and its workers: start "
            "lecnn train without torchrun (lecnn reproduce shares its runs over ranks)"
        )

"""Independent runs on every core: each in a worker process of its own, one thread each, the
results collected as they end. A run that fails is named and the others go on; Ctrl-C reaches
every worker, whose run saves its checkpoint and stops (``lecnn reproduce`` run again resumes it).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from lecnn.training.interrupt import ignore_stop_signals, last_stop_signal, stop_signals_call


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which containers and ``taskset`` set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """One worker per usable core, shared among the torchrun ranks on this machine."""
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, usable_cores() // per_node)


@dataclass
class TaskOutcome:
    """How one task ended: its result, or the one-line reason it failed."""

    task: Any
    result: Any = None
    error: str | None = None
    started: bool = True  # False: a stop came first; the task is left for the next time


#: in a worker: the parent's "stop" (set once a stop signal came), read before each task starts
_stop: Any = None


def _one_thread(stop: Any) -> None:
    """A worker's start: one thread (the runs are many, not wide), and Ctrl-C (or a scheduler's
    SIGTERM, ...) left to the run's own handler (``Trainer`` saves and stops); between runs they
    are ignored, the parent decides (``stop``: an event it sets)."""
    global _stop
    _stop = stop
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    ignore_stop_signals()
    # the parent prints a line per run as it ends; the runs' own pass lines would interleave
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the worker)


def _call(work: Callable[[Any], Any], task: Any) -> TaskOutcome:
    from lecnn.errors import LecnnError
    from lecnn.training.resume import first_line

    if _stop is not None and _stop.is_set():  # handed over before the stop, not yet begun
        return TaskOutcome(task, started=False)
    try:
        return TaskOutcome(task, result=work(task))
    except (LecnnError, OSError, RuntimeError) as e:  # the run's own failure, named
        return TaskOutcome(task, error=first_line(e))


def run_all(
    work: Callable[[Any], Any],
    tasks: Sequence[Any],
    jobs: int,
    on_end: Callable[[TaskOutcome, int, float], None],
    keep_going: bool = True,
) -> tuple[list[TaskOutcome], int]:
    """``work(task)`` for every task, ``jobs`` at a time in worker processes (``jobs`` 1: one
    after another in this process, as before: there the first failure stops them all unless
    ``keep_going``). ``on_end(outcome, done, seconds_left)`` runs here as each ends. Returns the
    outcomes in the tasks' order, and the stop signal that stopped them (0: none did)."""
    if jobs <= 1:
        return _serial(work, tasks, on_end, keep_going)
    start, outcomes = time.perf_counter(), {}
    pool, stop = _pool(jobs)
    futures = {pool.submit(_call, work, task): i for i, task in enumerate(tasks)}
    asked: list[int] = []  # a stop signal: noted, never an exception mid-bookkeeping
    try:
        with stop_signals_call(lambda signum, _: asked.append(signum)):
            pending: set[Future] = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                if asked:
                    pending = _stop_all(pool, pending, stop, asked[-1])
                for f in finished:
                    outcome = None if f.cancelled() else f.result()
                    if outcome is None or not outcome.started:
                        continue
                    outcomes[futures[f]] = outcome
                    on_end(outcome, len(outcomes), _left(start, len(outcomes), len(tasks)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [outcomes[i] for i in sorted(outcomes)], asked[-1] if asked else 0


def _pool(jobs: int) -> tuple[ProcessPoolExecutor, Any]:
    """``jobs`` worker processes, and the event that tells them a stop came."""
    context = multiprocessing.get_context("spawn")  # no fork of a process torch has threaded
    # the pool hands a worker its next task before the current one ends: cancelling the futures
    # cannot hold that one back, the event can
    stop = context.Event()
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_one_thread, initargs=(stop,)
    )
    return pool, stop


def _stop_all(pool: ProcessPoolExecutor, pending: set[Future], stop: Any, signum: int) -> set:
    """A stop signal came: no task begins any more, the running ones save their checkpoints and
    stop; what is still pending (the running ones, to be collected)."""
    stop.set()
    for f in pending:
        f.cancel()  # not started: left for the next time
    _forward(pool, signum)
    return {f for f in pending if not f.cancelled()}


def _serial(work, tasks, on_end, keep_going: bool) -> tuple[list[TaskOutcome], int]:
    start, outcomes = time.perf_counter(), []
    for task in tasks:
        outcome = _call(work, task) if keep_going else TaskOutcome(task, result=work(task))
        outcomes.append(outcome)
        on_end(outcome, len(outcomes), _left(start, len(outcomes), len(tasks)))
        if isinstance(outcome.result, dict) and outcome.result.get("status") == "interrupted":
            return outcomes, last_stop_signal()
    return outcomes, 0


def _forward(pool: ProcessPoolExecutor, signum: int) -> None:
    """A stop signal sent to this process alone (``kill -TERM``, a scheduler) reaches its
    workers too."""
    for pid in list(getattr(pool, "_processes", {}) or {}):
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _left(start: float, done: int, total: int) -> float:
    """Seconds left at the pace so far (the runs are taken largest first)."""
    elapsed = time.perf_counter() - start
    return elapsed / done * (total - done) if done else float("nan")

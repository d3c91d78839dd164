"""A run folder belongs to one run: an advisory lock while a process writes it, and no new run on
top of another run's checkpoint unless asked to replace it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO

from lecnn.errors import LecnnError
from lecnn.training.checkpoint import FILENAME, remove_stale_temps

try:  # POSIX; elsewhere the lock is skipped (the ownership check still holds)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCKFILE = ".lock"
RESULTS = "results.json"
SUB_RUNS = ("train", "test", "evaluate")


class RunLock:
    """An exclusive ``flock`` on ``RUN/.lock``; the OS releases it when the process dies, so a
    killed run never leaves the folder locked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        f = open(self.folder / LOCKFILE, "a+")  # noqa: SIM115 - held until release()
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "?"
                f.close()
                raise LecnnError(
                    f"{self.folder}: another lecnn process (pid {holder}) is writing this run "
                    "folder; wait for it to end or choose another --logdir"
                ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None


class Unclaimed:
    """What a rank other than 0 holds in a data-parallel run: rank 0 claimed the folder."""

    def release(self) -> None:
        pass


def holds_run(folder: Path) -> list[str]:
    """The files in ``folder`` that show another run lives there."""
    return [name for name in (FILENAME, RESULTS) if (folder / name).exists()]


def clear_run(folder: Path) -> None:
    """Remove a run's own files from ``folder`` (``--overwrite``); anything else stays."""
    for name in (FILENAME, RESULTS):
        (folder / name).unlink(missing_ok=True)
    for events in folder.glob("events.out.tfevents.*"):
        events.unlink()
    for sub in SUB_RUNS:
        if (folder / sub).is_dir():
            shutil.rmtree(folder / sub)


def remove_if_unused(folder: Path) -> None:
    """Remove ``folder`` if it holds nothing but the lock file (a run that failed to start)."""
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= {LOCKFILE}:
        (folder / LOCKFILE).unlink(missing_ok=True)
        folder.rmdir()


def claim(folder: Path, *, resume: bool, overwrite: bool) -> RunLock:
    """Create ``folder`` if needed, lock it, clean up stale temp files, and check that it is free
    for a new run (or holds the run being resumed). Returns the held lock."""
    if folder.exists() and not folder.is_dir():
        raise LecnnError(f"--logdir {folder}: is a file, not a folder; choose a folder")
    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder)
    lock.acquire()
    try:
        remove_stale_temps(folder)
        if not resume:
            existing = holds_run(folder)
            if existing and not overwrite:
                raise LecnnError(
                    f"{folder} already holds a run ({', '.join(existing)}); continue it with "
                    f"--resume {folder}, replace it with --overwrite, or choose another --logdir"
                )
            if existing:
                clear_run(folder)
    except BaseException:
        lock.release()
        raise
    return lock


def resumable(folder: Path) -> Path | None:
    """``folder`` when it holds a checkpoint to continue from (a run stopped by Ctrl-C or a crash),
    else None."""
    return folder if (folder / FILENAME).is_file() else None

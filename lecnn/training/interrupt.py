"""Signals that ask a job to end, during a run: a handler for the length of a block, on the main
thread (where Python delivers signals), then the previous ones back.

Ctrl-C is one; batch schedulers, container runtimes and service managers send SIGTERM and kill
after a grace period (Slurm at its time limit, ``docker stop``, systemd, Kubernetes, PBS), a closed
terminal sends SIGHUP, and schedulers that warn ahead send SIGUSR1 or SIGUSR2 (Slurm's
``--signal``, SGE's ``-notify``). Each of them stops a run as Ctrl-C does: the current update
finishes, a checkpoint is saved, and the process exits with 128 + the signal's number, the
status a shell reports for a program that signal ended (130 for Ctrl-C, 143 for SIGTERM)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: the signals that stop a run with its checkpoint saved, where the platform has them
STOP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
_received: list[int] = []  # the stop signals this process was sent inside a handler block


@contextmanager
def _handled(signals: list[int] | tuple[int, ...], handler: Callable[..., Any]) -> Iterator[None]:
    """``handler(signum, frame)`` for each of ``signals`` for the block (the main thread only:
    Python delivers signals there), then the previous handlers are back."""
    if sys.platform == "win32" or not in_main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def stop_signals_call(handler: Callable[..., Any]) -> Iterator[None]:
    """Every signal of ``STOP_SIGNALS`` calls ``handler(signum, frame)`` for the block."""

    def noted(signum: int, frame: Any) -> None:
        _received.append(signum)
        handler(signum, frame)

    with _handled(STOP_SIGNALS, noted):
        yield


class Stopped(KeyboardInterrupt):
    """A stop signal ended a command that has no checkpoint to save at that moment (a run's
    own handler saves one; see ``stop_signals_call``): the command stops as Ctrl-C stops it, and
    says which signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = int(signum)


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """For the block, each stop signal but SIGINT (which Python turns into KeyboardInterrupt)
    raises ``Stopped``: a scheduler's SIGTERM ends any command the way Ctrl-C does, where the
    default would kill it without a word. A run inside the block handles them itself."""

    def stop(signum: int, frame: Any) -> None:
        raise Stopped(signum)

    with _handled([s for s in STOP_SIGNALS if s != signal.SIGINT], stop):
        yield


def ignore_stop_signals() -> None:
    """A worker between runs: the stop signals are the parent's to act on."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def last_stop_signal() -> int:
    """The last stop signal this process received (SIGINT when none: a stop asked in code)."""
    return _received[-1] if _received else int(signal.SIGINT)


def signal_name(signum: int) -> str:
    """``SIGTERM``, or ``Ctrl-C`` for SIGINT."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def exit_status(signum: int) -> int:
    """128 + the signal's number: what a shell reports for a program that signal ended."""
    return 128 + int(signum)


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()

"""Ctrl-C during a run: a handler for the length of a block, on the main thread (where Python
delivers signals), then the previous one back."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigint_calls(handler: Callable[..., Any]) -> Iterator[None]:
    """Ctrl-C calls ``handler`` for the block (the main thread only: Python delivers signals
    there), then the previous handler is back."""
    if sys.platform == "win32" or not in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()

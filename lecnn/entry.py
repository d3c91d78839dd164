"""The ``lecnn`` program's entry point, light enough to hold Ctrl-C from its first instant.

Importing the command line takes a second or more (torch). A Ctrl-C in that second used to end
lecnn with the import's traceback, or, caught inside some library's import, to be lost while the
command ran on. Here it is held until the import is done, then ends lecnn in one line."""

from __future__ import annotations

import signal
import sys

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program Ctrl-C ended


def main() -> int:
    """Import the command line and run it; Ctrl-C while importing or parsing the arguments ends
    in one line, exit 130 (a command's own Ctrl-C is the command's: ``lecnn.cli._command``)."""
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        from lecnn.cli import main as command_line
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        if held:
            raise KeyboardInterrupt
        return command_line()
    except KeyboardInterrupt:
        sys.stderr.write("lecnn: interrupted\n")
        return INTERRUPTED

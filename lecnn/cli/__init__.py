"""The ``lecnn`` command line: data → layers → models → training → logging, one subcommand each.

Exit codes: 0 done; 1 a run diverged; 2 bad input or an unusable environment (paths, permissions,
disk full, absent device or data, output that cannot be written); 130 interrupted (Ctrl-C); 141
the reader of a pipe stopped reading (``| head``), silently, as other programs; 70 a bug in lecnn
(the only case that prints a traceback)."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
import warnings

from lecnn import __version__
from lecnn.cli import evaluate, inspect, lecture, reproduce, train
from lecnn.cli.common import Parser
from lecnn.errors import LecnnError
from lecnn.training.distributed import leave
from lecnn.training.interrupt import Stopped, exit_status, signal_name, stop_signals_raise

BUG = 70  # EX_SOFTWARE

_OS_HINTS = {
    errno.ENOSPC: "the disk is full; free some space",
    errno.EDQUOT: "the disk quota is exhausted; free some space",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.EROFS: "the file system is read-only; choose another folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder where a file was expected",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "the name is too long",
}


def build_parser() -> Parser:
    parser = Parser(prog="lecnn", description="Backpropagation from the lecture to LeNet-5.")
    parser.add_argument("--version", action="version", version=f"lecnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    train.add_parser(sub)
    evaluate.add_parsers(sub)
    inspect.add_parsers(sub)
    reproduce.add_parsers(sub)
    lecture.add_parsers(sub)
    return parser


def describe_os_error(e: OSError) -> str:
    """One line for an OSError: the path, what went wrong, what to do."""
    where = e.filename if e.filename is not None else ""
    fallback = e.strerror or type(e).__name__
    hint = _OS_HINTS.get(e.errno, fallback) if e.errno is not None else fallback
    return f"{where}: {hint}" if where else hint


#: the status of a program whose reader closed the pipe (128 + SIGPIPE), as `head` leaves a shell
PIPE_CLOSED = 141


def _reader_gone() -> int:
    """Output piped into a reader that stopped (``| head``, ``| grep -q``): nothing more to say,
    no error line; stdout goes to nowhere so the interpreter's last flush fails on nothing."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout to redirect
        pass
    return PIPE_CLOSED


def _flushed(code: int, command: str) -> int:
    """``code``, once what was printed has really been written: a full disk or a closed pipe
    surfaces here, inside lecnn, not as a silent loss at the interpreter's exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    except OSError as e:
        return _unwritable(e, command)
    return code


def _unwritable(e: OSError, command: str) -> int:
    """Output that could not be written (a full disk, a read-only file): one line, exit 2."""
    sys.stderr.write(f"lecnn{command}: error: cannot write the output: {describe_os_error(e)}\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version or a usage error: argparse has written its text
        return _flushed(e.code if isinstance(e.code, int) else 2, "")
    except BrokenPipeError:
        return _reader_gone()
    except OSError as e:  # the help could not be written
        return _unwritable(e, "")
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for records of what was run
    if args.command is None:
        parser.print_help()
        return _flushed(2, "")
    return _command(args)


def _command(args: argparse.Namespace) -> int:
    """Run the command, every failure one line on stderr and its exit status."""
    prefix = f"lecnn {args.command}: error:"
    try:
        with warnings.catch_warnings(), stop_signals_raise():
            # library deprecation notices are not the user's business: stderr is for errors
            warnings.simplefilter("ignore")
            return _flushed(args.run(args), f" {args.command}")
    except BrokenPipeError:
        return _reader_gone()
    except LecnnError as e:
        sys.stderr.write(f"{prefix} {e}\n")
        return getattr(e, "exit_code", 2)
    except Stopped as e:  # a scheduler's SIGTERM, ...: as Ctrl-C, with the signal's status
        sys.stderr.write(f"lecnn {args.command}: stopped by {signal_name(e.signum)}\n")
        return exit_status(e.signum)
    except KeyboardInterrupt:
        sys.stderr.write(f"lecnn {args.command}: interrupted\n")
        return 130
    except OSError as e:
        sys.stderr.write(f"{prefix} {describe_os_error(e)}\n")
        return 2
    except MemoryError:
        sys.stderr.write(f"{prefix} out of memory; try a smaller --batch-size or --limit\n")
        return 2
    except Exception:
        traceback.print_exc()
        sys.stderr.write(
            f"lecnn {args.command}: internal error: this is a bug in lecnn; please report it "
            "with the traceback above\n"
        )
        return BUG
    finally:
        leave()  # a torchrun job joined by the command, left before the interpreter shuts down

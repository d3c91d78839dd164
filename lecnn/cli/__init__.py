"""The ``lecnn`` command line: data → layers → models → training → logging, one subcommand each."""

from __future__ import annotations

import sys

from lecnn import __version__
from lecnn.cli import evaluate, inspect, lecture, reproduce, train
from lecnn.cli.common import Parser
from lecnn.errors import LecnnError


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except LecnnError as e:
        sys.stderr.write(f"lecnn {args.command}: error: {e}\n")
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        sys.stderr.write(f"lecnn {args.command}: interrupted\n")
        return 130

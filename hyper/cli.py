"""The ``hyper`` command line.

``hyper --version`` and ``hyper demo`` (hyper talking HTTP/2 to itself on
loopback, see :mod:`hyper.demo`) exist for now; the full client
(``hyper GET https://...``) comes later.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hyper import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyper", description="HTTP/2 for Python.")
    parser.add_argument("--version", action="version", version=f"hyper {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("demo", help="run hyper against its own HTTP/2 server on loopback")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit status.

    :param argv: arguments without the program name; ``sys.argv[1:]`` when None.
    :returns: 0 on success, 2 when no command is given (usage is printed).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from hyper.demo import run_demo

        return run_demo()
    parser.print_usage(sys.stderr)
    return 2

"""The ``hyper`` command line (placeholder).

Only ``hyper --version`` and ``hyper demo`` exist for now; the full client
(``hyper GET https://...``) replaces this module later.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hyper import __version__

# What the demo advertises: HTTP/2 over TLS (ALPN "h2") and cleartext HTTP/2 with
# prior knowledge ("h2c"; no Upgrade: h2c dance, RFC 9113 section 3.3).
_PROTOCOLS = (
    ("h2", "HTTP/2 over TLS, negotiated with ALPN"),
    ("h2c", "HTTP/2 over cleartext TCP, prior knowledge"),
)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyper", description="HTTP/2 for Python.")
    parser.add_argument("--version", action="version", version=f"hyper {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("demo", help="show the version and the protocols hyper speaks")
    return parser


def _demo() -> int:
    print(f"hyper {__version__}")
    print("protocols:")
    for name, description in _PROTOCOLS:
        print(f"  {name:<4} {description}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit status.

    :param argv: arguments without the program name; ``sys.argv[1:]`` when None.
    :returns: 0 on success, 2 when no command is given (usage is printed).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo()
    parser.print_usage(sys.stderr)
    return 2

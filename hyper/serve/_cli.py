"""``hyper serve``: the command line of :class:`hyper.serve.Server`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence

from hyper.aio import ServerLimits
from hyper.serve._listen import raise_fd_limit
from hyper.serve._server import Server, server_context, stderr_log

_DESCRIPTION = """\
Serve DIR (default: the current directory) over HTTP/2 and HTTP/1.1. With
--cert and --key: TLS, ALPN h2 and http/1.1. Without: HTTP/2 with prior
knowledge, the Upgrade: h2c handshake, and plain HTTP/1.1. Prints
'serving DIR at URL' once listening; SIGINT or SIGTERM shuts it down
gracefully (exit status 0).
"""


def _push(value: str) -> tuple[str, str]:
    path, sep, asset = value.partition("=")
    if not sep or not path.startswith("/") or not asset.startswith("/"):
        raise argparse.ArgumentTypeError(f"expected /PATH=/ASSET, got {value!r}")
    return path, asset


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {value!r}")
        return number

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyper serve", description=_DESCRIPTION)
    add = parser.add_argument
    add("dir", nargs="?", default=".", metavar="DIR", help="the directory to serve")
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    add("--cert", metavar="FILE", help="TLS certificate chain (PEM)")
    add("--key", metavar="FILE", help="TLS private key (PEM)")
    add("--push", type=_push, action="append", default=[], metavar="PATH=ASSET",
        help="push ASSET with responses to PATH (repeatable)")  # fmt: skip
    add("--push-from-link", action="store_true",
        help="push what HTML pages name with <link rel=preload>")  # fmt: skip
    add("--concurrency", type=_positive(int), default=100, metavar="N",
        help="requests served at once per HTTP/2 connection (default 100)")  # fmt: skip
    add("--max-connections", type=_positive(int), default=1000, metavar="N",
        help="connections at once (default 1000)")  # fmt: skip
    add("--handshake-timeout", type=_positive(float), default=10.0, metavar="S",
        help="seconds for a preface, SETTINGS or request head (default 10)")  # fmt: skip
    add("--idle-timeout", type=_positive(float), default=300.0, metavar="S",
        help="seconds an idle connection is kept (default 300)")  # fmt: skip
    add("--shutdown-timeout", type=_positive(float), default=10.0, metavar="S",
        help="seconds a graceful shutdown waits for responses (default 10)")  # fmt: skip
    add("--send-timeout", type=_positive(float), default=30.0, metavar="S",
        help="seconds a client may take no data (or give no window) before it "
             "is dropped (default 30)")  # fmt: skip
    add("-v", "--verbose", action="store_true", help="access log on stderr")
    return parser


async def _serve(server: Server, shown: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    sys.stdout.write(f"serving {shown} at {server.url}\n")
    sys.stdout.flush()
    await stop.wait()
    await server.close()


def main(argv: Sequence[str]) -> int:
    """Run ``hyper serve`` with ``argv`` (after the word ``serve``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not os.path.isdir(args.dir):
        parser.error(f"not a directory: {args.dir}")
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    context = None
    if args.cert:
        try:
            context = server_context(args.cert, args.key)
        except (OSError, ValueError) as exc:
            print(f"hyper serve: error: cannot load the certificate: {exc}", file=sys.stderr)
            return 1
    pushes: dict[str, list[str]] = {}
    for path, asset in args.push:
        pushes.setdefault(path, []).append(asset)
    limits = ServerLimits(
        handshake_timeout=args.handshake_timeout,
        idle_timeout=args.idle_timeout,
        shutdown_timeout=args.shutdown_timeout,
        max_connections=args.max_connections,
        send_timeout=args.send_timeout,
    )
    # One descriptor per connection: the common soft limit of 1,024 is
    # below the default cap. The hard limit is ours to take.
    raise_fd_limit()
    server = Server(
        args.dir,
        host=args.host,
        port=args.port,
        ssl=context,
        pushes=pushes,
        push_from_link=args.push_from_link,
        concurrency=args.concurrency,
        limits=limits,
        log=stderr_log if args.verbose else None,
    )
    try:
        asyncio.run(_serve(server, args.dir))
    except OSError as exc:
        print(f"hyper serve: error: {exc}", file=sys.stderr)
        return 1
    return 0

"""``hyper serve``: the command line of :class:`hyper.serve.Server`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hyper.aio import ServerLimits
from hyper.serve._cache import CACHE_BYTES, CACHE_CHECK
from hyper.serve._listen import bind, raise_fd_limit
from hyper.serve._log import AccessLog, stderr_log
from hyper.serve._server import Server, server_context, server_url
from hyper.serve._workers import Supervisor, WorkerPipes, balanced_reuse_port, default_workers

_DESCRIPTION = """\
Serve DIR (default: the current directory) over HTTP/2 and HTTP/1.1. With
--cert and --key: TLS, ALPN h2 and http/1.1. Without: HTTP/2 with prior
knowledge, the Upgrade: h2c handshake, and plain HTTP/1.1. Prints
'serving DIR at URL' once listening; SIGINT or SIGTERM shuts it down
gracefully (exit status 0); SIGHUP reopens --access-log (without one, it
shuts down as SIGTERM does).
"""

_SUFFIXES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


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


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value!r}")
    return number


def _size(value: str) -> int:
    """A byte count: ``65536``, ``64K``, ``32M``, ``1G``."""
    text = value.strip().lower()
    if text.endswith("b"):
        text = text[:-1]
    digits, unit = text, ""
    if text and text[-1] in _SUFFIXES:
        digits, unit = text[:-1], text[-1]
    if not digits.isascii() or not digits.isdigit():
        raise argparse.ArgumentTypeError(f"not a size (like 65536, 64K, 32M): {value!r}")
    return int(digits) * _SUFFIXES[unit]


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
        help="connections at once, per worker (default 1000)")  # fmt: skip
    add("--handshake-timeout", type=_positive(float), default=10.0, metavar="S",
        help="seconds for a preface, SETTINGS or request head (default 10)")  # fmt: skip
    add("--idle-timeout", type=_positive(float), default=300.0, metavar="S",
        help="seconds an idle connection is kept (default 300)")  # fmt: skip
    add("--shutdown-timeout", type=_positive(float), default=10.0, metavar="S",
        help="seconds a graceful shutdown waits for responses (default 10)")  # fmt: skip
    add("--send-timeout", type=_positive(float), default=30.0, metavar="S",
        help="seconds a client may take no data (or give no window) before it "
             "is dropped (default 30)")  # fmt: skip
    workers = default_workers() if hasattr(os, "fork") else 1
    add("--workers", type=_positive(int), default=workers, metavar="N",
        help=f"processes serving the port (default: one per CPU, here {workers}; "
             "1: this process alone)")  # fmt: skip
    add("--no-reuse-port", dest="reuse_port", action="store_false",
        default=balanced_reuse_port(),
        help="workers accept on one shared socket instead of a socket each "
             "with SO_REUSEPORT (the default where the kernel balances those)")  # fmt: skip
    add("--cache-size", type=_size, default=CACHE_BYTES, metavar="BYTES",
        help="memory for files up to 64K answered from memory and for "
             "compressed bodies, per worker (default 32M; 0: none)")  # fmt: skip
    add("--cache-check", type=_non_negative, default=CACHE_CHECK, metavar="S",
        help="seconds a cached file is served before it is looked up again "
             "(default 1; 0: on every request)")  # fmt: skip
    add("-v", "--verbose", action="store_true", help="access log on stderr")
    add("--access-log", metavar="FILE",
        help="access log appended to FILE instead (reopened on SIGHUP)")  # fmt: skip
    return parser


async def _serve(
    server: Server,
    access_log: AccessLog | None,
    announce: Callable[[Server], None],
    alive: int | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM (or SIGHUP without an access log, or,
    for a worker, its supervisor's end of the ``alive`` pipe closing)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if hasattr(signal, "SIGHUP"):
        hup = stop.set if access_log is None else access_log.reopen
        loop.add_signal_handler(signal.SIGHUP, hup)
    await server.start()
    if alive is not None:

        def orphaned() -> None:  # readable at EOF only: the supervisor is gone
            loop.remove_reader(alive)
            stop.set()

        loop.add_reader(alive, orphaned)
    announce(server)
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
    if args.workers > 1 and not hasattr(os, "fork"):  # pragma: no cover - Windows
        parser.error("--workers above 1 needs os.fork()")
    context = None
    if args.cert:
        try:
            context = server_context(args.cert, args.key)
        except (OSError, ValueError) as exc:
            print(f"hyper serve: error: cannot load the certificate: {exc}", file=sys.stderr)
            return 1
    access_log = None
    if args.access_log:
        try:
            access_log = AccessLog(args.access_log)
        except OSError as exc:
            print(f"hyper serve: error: cannot open the access log: {exc}", file=sys.stderr)
            return 1
    # One descriptor per connection: the common soft limit of 1,024 is
    # below the default cap. The hard limit is ours to take.
    raise_fd_limit()
    try:
        if args.workers == 1:
            return _single(args, context, access_log)
        return _supervise(args, context, access_log)
    except OSError as exc:
        print(f"hyper serve: error: {exc}", file=sys.stderr)
        return 1


def _server(
    args: argparse.Namespace,
    context: ssl.SSLContext | None,
    access_log: AccessLog | None,
    **where: Any,
) -> Server:
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
    log_line: Callable[[str], None] | None = access_log
    if log_line is None and args.verbose:
        log_line = stderr_log
    if log_line is not None and args.workers > 1:
        log_line = _prefixed(log_line, f"[{os.getpid()}] ")  # which worker answered

    where.setdefault("host", args.host)
    where.setdefault("port", args.port)
    return Server(
        args.dir,
        ssl=context,
        pushes=pushes,
        push_from_link=args.push_from_link,
        concurrency=args.concurrency,
        limits=limits,
        log=log_line,
        cache_bytes=args.cache_size,
        cache_check=args.cache_check,
        **where,
    )


def _prefixed(write: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    def log_line(line: str) -> None:
        write(prefix + line)

    return log_line


def _announce(shown: str, url: str) -> None:
    sys.stdout.write(f"serving {shown} at {url}\n")
    sys.stdout.flush()


def _single(
    args: argparse.Namespace, context: ssl.SSLContext | None, access_log: AccessLog | None
) -> int:
    server = _server(args, context, access_log)
    asyncio.run(_serve(server, access_log, lambda s: _announce(args.dir, s.url)))
    return 0


def _supervise(
    args: argparse.Namespace, context: ssl.SSLContext | None, access_log: AccessLog | None
) -> int:
    """``--workers N``: bind here (to learn the port, and hold it), then fork."""
    reuse_port = args.reuse_port
    # With SO_REUSEPORT the sockets here only hold the port (bound, never
    # listening: no connection waits on them); each worker listens on its own.
    held = bind(args.host, args.port, reuse_port=reuse_port, listen=not reuse_port)
    port = held[0].getsockname()[1]
    url = server_url(args.host, port, context is not None)
    if access_log is not None:
        access_log.close()  # each worker opens its own (SIGHUP reopens it there)

    def run_worker(inherited: list[socket.socket] | None, pipes: WorkerPipes) -> int:
        own_log = AccessLog(args.access_log) if args.access_log else None
        if inherited is None:
            for sock in held:
                sock.close()
            server = _server(args, context, own_log, port=port, reuse_port=True)
        else:
            server = _server(args, context, own_log, sockets=inherited)

        def ready(_: Server) -> None:
            os.write(pipes.ready, b"%d\n" % os.getpid())

        asyncio.run(_serve(server, own_log, ready, pipes.alive))
        return 0

    supervisor = Supervisor(
        args.workers,
        run_worker,
        sockets=None if reuse_port else held,
        shutdown_timeout=args.shutdown_timeout,
        forward_hup=access_log is not None,
    )
    try:
        return supervisor.run(lambda: _announce(args.dir, url))
    finally:
        for sock in held:
            sock.close()

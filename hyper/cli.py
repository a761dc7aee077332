"""The ``hyper`` command line: make one HTTP request, write the body to stdout.

``hyper [options] [METHOD] URL [ITEM ...]``, as the historic hyper tool (and
httpie): ``Header:Value``, ``name==value`` (query) and ``name=value`` (JSON
body) items, with the curl spellings people expect (``-v``, ``-o``, ``-k``,
``--data``, ``--fail``) and curl's exit statuses. ``hyper demo`` runs
:mod:`hyper.demo` instead, and ``hyper serve`` :mod:`hyper.serve`.

Everything about HTTP (protocol choice, TLS, framing, content decoding) is the
connection's business; this module only parses arguments, builds one request
and copies the response out. The historic helpers (``parse_argument``,
``set_url_info``, ``set_request_data``, ``request``...) sit at the end, over
the same parser. The body is never decoded as text: the bytes go
to ``sys.stdout.buffer`` or the ``-o`` file piece by piece as they arrive.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import socket
import ssl
import sys
import time
import traceback
from collections.abc import Sequence
from typing import IO, Callable, NamedTuple, TextIO
from urllib.parse import urlencode

from hyper import __version__
from hyper.common._request import (
    RequestDefaults,
    authority,
    file_length,
    http11_fields,
    user_agent,
)
from hyper.common.decoder import accept_encoding
from hyper.common.exceptions import InvalidArgumentError
from hyper.common.headers import HTTPHeaderMap
from hyper.common.response import BaseResponse
from hyper.common.util import HTTPVersion, parse_url
from hyper.connection import HTTPConnection
from hyper.engine.header_rules import prepare_outbound
from hyper.http11.connection import HTTP11Connection

EXIT_OK = 0
EXIT_ERROR = 1  # a bad item, URL or file, or any failure without a code of its own
EXIT_USAGE = 2  # argparse: unknown option, missing URL
EXIT_CONNECT = 7  # curl: could not connect, or the connection failed
EXIT_HTTP = 22  # curl --fail: the server answered 400 or above
EXIT_WRITE = 23  # curl: the body could not be written (binary output to a terminal)
EXIT_TIMEOUT = 28  # curl: operation timed out

_EPILOG = """\
items:
  Header:Value    a request header
  name==value     a query parameter, URL-encoded and added to the URL
  name=value      a JSON body field (sets content-type: application/json)
  A backslash escapes ':' or '=' in a name.

URL: the scheme defaults to https and the host to localhost, so
'hyper /path' is https://localhost/path and 'hyper :8443/x' is
https://localhost:8443/x. METHOD is a first word followed by the URL: GET,
HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE or CONNECT in any case ('hyper
get example.com' means GET), or another method written in capitals
(PROPFIND). It wins over a host of that name ('hyper head /x' is HEAD
https://localhost/x); a lone word is always the URL. Without METHOD: GET, or
POST when there is a body. 'hyper demo' runs hyper against itself;
'hyper serve --help' tells how to serve a directory.

exit status:
  0   success (any HTTP status, unless --fail)
  1   a bad item, URL or file, or another error
  2   bad command-line usage
  7   could not connect, or the connection failed (TLS errors too)
  22  --fail and the server answered with a status of 400 or more
  23  a binary body was not written to the terminal (use -o FILE, or -o -)
  28  timed out
"""

# A redraw costs a terminal write; ten a second looks live and costs nothing.
_REDRAW_INTERVAL = 0.1
# A METHOD is one of the methods every HTTP library knows (RFC 9110 9.3, and
# PATCH), in any case, as historic hyper upper-cased it ("hyper get /x"); or
# any other token written in capitals (PROPFIND, M-SEARCH). Any other first
# word is the URL, so "hyper localhost /x" is never a method.
_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)
_METHOD = re.compile(r"[A-Z][A-Z_-]*\Z")
_SEPARATORS = ("==", ":", "=")  # "==" before "=" where both start


class _CommandError(Exception):
    """A failure this module reports itself, with the exit status to use."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


class _Items(NamedTuple):
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    json: dict[str, str]


class _Target(NamedTuple):
    secure: bool
    host: str
    port: int
    path: str  # the request target: path and query


# ---------------------------------------------------------------------------
# Parsing (pure functions)


def _split_item(item: str) -> tuple[str, str, str]:
    """Split an ITEM at its first unescaped separator: ``(name, separator, value)``."""
    name: list[str] = []
    i = 0
    while i < len(item):
        if item[i] == "\\" and i + 1 < len(item) and item[i + 1] in ":=\\":
            name.append(item[i + 1])
            i += 2
            continue
        for sep in _SEPARATORS:
            if item.startswith(sep, i):
                return "".join(name), sep, item[i + len(sep) :]
        name.append(item[i])
        i += 1
    raise _CommandError(f"{item!r} is not Header:Value, name==value or name=value")


def _parse_items(items: Sequence[str]) -> _Items:
    """Sort ITEMs into headers, query parameters and JSON fields, in order given.

    :raises _CommandError: an item has no separator or an empty name.
    """
    parsed = _Items([], [], {})
    for item in items:
        name, sep, value = _split_item(item)
        if not name:
            raise _CommandError(f"{item!r} has an empty name")
        if sep == ":":
            parsed.headers.append((name.strip(), value.strip()))
        elif sep == "==":
            parsed.query.append((name, value))
        else:
            parsed.json[name] = value
    return parsed


def _split_words(words: Sequence[str]) -> tuple[str | None, str, list[str]]:
    """``[METHOD] URL [ITEM ...]`` -> (method or None, url, items). A first
    word followed by another is the METHOD when it is a known method in any
    case (upper-cased) or a token in capitals; a lone word is the URL."""
    if len(words) >= 2:
        first = words[0]
        upper = first.upper()
        if upper in _KNOWN_METHODS:
            return upper, words[1], list(words[2:])
        if _METHOD.match(first):
            return first, words[1], list(words[2:])
    return None, words[0], list(words[1:])


def _parse_url(text: str, query: Sequence[tuple[str, str]] = ()) -> _Target:
    """Complete ``text`` (https, localhost) and add the query parameters.

    :raises _CommandError: not an http(s) URL hyper can use.
    """
    if text.startswith(":"):
        text = "localhost" + text
    if text.startswith("/"):
        text = "https://localhost" + text
    elif "://" not in text:
        text = "https://" + text
    try:
        scheme, host, port, path = parse_url(text)
    except ValueError as exc:
        raise _CommandError(str(exc)) from None
    if query:
        path += ("&" if "?" in path else "?") + urlencode(query)
    return _Target(scheme == "https", host, port, path)


# ---------------------------------------------------------------------------
# The request


def _ssl_context(args: argparse.Namespace, handshakes: list[ssl.SSLObject]) -> ssl.SSLContext:
    """The command's own context: ``--cacert``, ``-k``, ``--http1.1``'s ALPN
    offer; each finished TLS handshake lands in ``handshakes`` (for ``-v``)."""
    from hyper.tls import init_context

    context = init_context(cert_path=getattr(args, "cacert", None))
    if getattr(args, "insecure", False):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if getattr(args, "http11", False):
        context.set_alpn_protocols(["http/1.1"])

    class _Recorded(ssl.SSLObject):
        # sslobject_class is ssl's documented hook: the version, cipher and
        # ALPN choice of the connection, without reaching into hyper's.
        def do_handshake(self) -> None:
            super().do_handshake()
            handshakes.append(self)

    context.sslobject_class = _Recorded
    return context


def _open_connection(
    target: _Target, args: argparse.Namespace, handshakes: list[ssl.SSLObject] | None = None
) -> HTTPConnection | HTTP11Connection:
    """A connection to ``target`` as the options ask (nothing is sent yet):
    HTTP/1.1 only with ``--http1.1``, else whichever the server speaks."""
    seen = [] if handshakes is None else handshakes
    context = _ssl_context(args, seen) if target.secure else None
    timeout = getattr(args, "timeout", None)
    if getattr(args, "http11", False):
        # force_proto: HTTP/1.1 and nothing else, not even the h2c offer a
        # plaintext HTTP11Connection makes on its first request.
        return HTTP11Connection(
            target.host,
            target.port,
            secure=target.secure,
            ssl_context=context,
            timeout=timeout,
            force_proto="http/1.1",
        )
    return HTTPConnection(
        target.host,
        target.port,
        secure=target.secure,
        ssl_context=context,
        force_proto="h2" if getattr(args, "h2", False) else None,
        timeout=timeout,
    )


def _request_fields(
    conn: HTTPConnection | HTTP11Connection,
    target: _Target,
    method: str,
    headers: Sequence[tuple[str, str]],
    length: int | None,
    has_body: bool,
) -> list[tuple[bytes, bytes]]:
    """
    The request's whole header block as it goes out on ``conn`` (connected,
    its protocol known): the caller's fields and every one hyper adds. It is
    sent as it is (the connection then adds nothing), so ``-v`` shows what
    was sent. HTTP/2: the pseudo-headers and fields as the engine encodes
    them (:meth:`RequestDefaults.fields`, ``prepare_outbound``). HTTP/1.1:
    :func:`~hyper.common._request.http11_fields`, the rule
    :class:`HTTP11Connection` adds its fields by.
    """
    if conn.version is HTTPVersion.http20:
        defaults = RequestDefaults(target.host, target.port, target.secure)
        fields = defaults.fields(method, target.path, list(headers), length)
        return prepare_outbound(fields, client_side=True)
    return http11_fields(
        method.encode("ascii"),
        [(name.encode("utf-8"), value.encode("utf-8")) for name, value in headers],
        authority(target.host, target.port, 443 if target.secure else 80),
        length,
        has_body,
        accept_encoding=accept_encoding(),
        user_agent=user_agent(),
    )


def _body_size(body: bytes | IO[bytes] | None) -> int | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return len(body)
    return file_length(body)


def _open_body(data: str | None, stack: contextlib.ExitStack) -> bytes | IO[bytes] | None:
    """The ``--data`` body: a file or stdin (streamed, never read whole), or the text."""
    if data is None:
        return None
    if data in ("-", "@-"):
        return sys.stdin.buffer
    if data.startswith("@"):
        try:
            return stack.enter_context(open(data[1:], "rb"))
        except OSError as exc:
            raise _CommandError(f"cannot read {data[1:]!r}: {exc.strerror}") from exc
    # os.fsencode undoes the surrogateescape decoding of argv: the bytes typed are sent.
    return os.fsencode(data)


def _has_header(headers: Sequence[tuple[str, str]], name: str) -> bool:
    return any(n.lower() == name for n, _ in headers)


# ---------------------------------------------------------------------------
# Output


def _human(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} TiB"


def _clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` past an hour."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Progress:
    """A one-line download meter (bytes, rate, and the total, percentage and
    ETA when the length is known), redrawn at most every :data:`_REDRAW_INTERVAL`."""

    def __init__(
        self, out: TextIO, total: int | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self._clock = clock
        self._start = clock()
        self._drawn_at: float | None = None
        self._width = 0

    def update(self, size: int) -> None:
        self.done += size
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= _REDRAW_INTERVAL:
            self._draw(now)

    def finish(self) -> None:
        self._draw(self._clock())
        self.out.write("\n")
        self.out.flush()

    def line(self, now: float) -> str:
        text = _human(self.done)
        if self.total:
            text += f" / {_human(self.total)}  {100 * self.done // self.total:3d}%"
        elapsed = now - self._start
        if elapsed > 0:
            rate = self.done / elapsed
            text += f"  {_human(rate)}/s"
            if self.total and 0 < self.done < self.total and rate > 0:
                text += f"  ETA {_clock((self.total - self.done) / rate)}"
        return text

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        text = self.line(now)
        # Spaces wipe what is left of a longer earlier line.
        self.out.write("\r" + text.ljust(self._width))
        self.out.flush()
        self._width = len(text)


def _body_length(headers: HTTPHeaderMap) -> int | None:
    """Content-length, when it also counts the bytes we write (no content-encoding)."""
    if headers.get(b"content-encoding"):
        return None
    values = headers.get(b"content-length")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def _open_output(path: str) -> IO[bytes]:
    try:
        return open(path, "wb")
    except OSError as exc:
        raise _CommandError(f"cannot write {path!r}: {exc.strerror}") from exc


def _save(resp: BaseResponse, path: str, silent: bool) -> None:
    meter = sys.stderr.isatty() and not silent
    progress = _Progress(sys.stderr, _body_length(resp.headers)) if meter else None
    with _open_output(path) as f:
        for chunk in resp.read_chunked():
            f.write(chunk)
            if progress is not None:
                progress.update(len(chunk))
    if progress is not None:
        progress.finish()


# curl's words, with curl's remedy: raw bytes can leave a terminal unusable.
_BINARY_WARNING = """\
Warning: Binary output can mess up your terminal. Use "--output -" to tell
Warning: hyper to output it to your terminal anyway, or consider "--output
Warning: <FILE>" to save to a file."""


def _print_body(resp: BaseResponse, guard_terminal: bool, silent: bool) -> None:
    """The body to stdout as it arrives. ``guard_terminal``: stdout is a
    terminal and ``-o -`` did not ask for whatever comes: a piece holding a
    NUL byte (curl's test for binary) stops the output with curl's warning."""
    out = sys.stdout.buffer
    try:
        for chunk in resp.read_chunked():
            if guard_terminal and b"\0" in chunk:
                if not silent:
                    print(_BINARY_WARNING, file=sys.stderr)
                raise _CommandError("", EXIT_WRITE)
            out.write(chunk)
            out.flush()  # a long stream shows up as it arrives
    except BrokenPipeError:
        # The reader went away (hyper ... | head): stop, and point stdout at
        # devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        raise _CommandError("stdout closed before the body was written") from None


def _show_connection(
    conn: HTTPConnection | HTTP11Connection, target: _Target, handshakes: list[ssl.SSLObject]
) -> None:
    """What curl -v says about the connection: where, TLS, the protocol."""
    lines = [f"* connected to {target.host} port {target.port}"]
    if handshakes:
        tls = handshakes[-1]
        cipher = tls.cipher()
        lines.append(f"* TLS: {tls.version()}, cipher {cipher[0] if cipher else '?'}")
        lines.append(f"* ALPN: server accepted {tls.selected_alpn_protocol() or 'nothing'}")
    lines.append(f"* using {conn.version.value}")
    print("\n".join(lines), file=sys.stderr)


def _show_request(
    method: str,
    target: _Target,
    fields: Sequence[tuple[bytes, bytes]],
    version: str,
    upgrading: bool,
) -> None:
    """The request line and every field as sent (HTTP/2: pseudo-headers first,
    as the frames carry them)."""
    lines = [f"> {method} {target.path} {version}"]
    lines += [
        f"> {name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in fields
    ]
    if upgrading:
        lines.append("* asking to switch to HTTP/2 (Upgrade: h2c, HTTP2-Settings, Connection)")
    print("\n".join(lines), ">", sep="\n", file=sys.stderr)


def _show_response(resp: BaseResponse, version: str) -> None:
    lines = [f"< {version} {resp.status} {resp.reason}".rstrip()]
    lines += [
        f"< {n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in resp.headers.iter_raw()
    ]
    print("\n".join(lines), "<", sep="\n", file=sys.stderr)


# ---------------------------------------------------------------------------
# The command


def _words(args: argparse.Namespace) -> list[str]:
    # argparse fills METHOD whenever there are two words; _split_words decides.
    first = [] if args.method is None else [args.method]
    return [*first, args.url, *args.items]


def _fetch(args: argparse.Namespace) -> int:
    method, url, words = _split_words(_words(args))
    items = _parse_items(words)
    target = _parse_url(url, items.query)
    headers = list(items.headers)
    with contextlib.ExitStack() as stack:
        body = _open_body(args.data, stack)
        if items.json:
            if body is not None:
                raise _CommandError("JSON items (name=value) and --data cannot be combined")
            body = json.dumps(items.json).encode("utf-8")
            if not _has_header(headers, "content-type"):
                headers.append(("content-type", "application/json"))
        method = method or ("GET" if body is None else "POST")

        handshakes: list[ssl.SSLObject] = []
        conn = _open_connection(target, args, handshakes)
        stack.callback(conn.close)
        conn.connect()
        fields = _request_fields(conn, target, method, headers, _body_size(body), body is not None)
        if args.verbose:
            _show_connection(conn, target, handshakes)
            upgrading = (
                isinstance(conn, HTTPConnection)
                and not target.secure
                and conn.version is HTTPVersion.http11
                and body is None
                and not args.h2
            )
            _show_request(method, target, fields, conn.version.value, upgrading)
        conn.request(method, target.path, body=body, headers=fields, encode_chunked=True)
        resp = conn.getresponse()
        if args.verbose:
            _show_response(resp, resp.version.value)
        if args.fail and resp.status >= 400:
            raise _CommandError(f"the server answered {resp.status}", EXIT_HTTP)
        if args.output and args.output != "-":
            _save(resp, args.output, args.silent)
        else:
            guard = args.output != "-" and sys.stdout.isatty()
            _print_body(resp, guard, args.silent)
    return EXIT_OK


def _exit_status(exc: BaseException) -> int:
    # socket.timeout is only an alias of TimeoutError from Python 3.10 on.
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return EXIT_TIMEOUT
    if isinstance(exc, ConnectionError):  # hyper's connection errors subclass it
        return EXIT_CONNECT
    return EXIT_ERROR


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hyper",
        usage="hyper [-h] [--version] [--debug] [--h2] [options] [METHOD] URL [ITEM ...]",
        description="Make an HTTP request (HTTP/2 where the server speaks it); "
        "the response body goes to stdout.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("method", nargs="?", metavar="METHOD", help="GET, post, PUT, ... in any case (see below)")
    add("url", metavar="URL", help="what to fetch (see below)")
    add("items", nargs="*", metavar="ITEM", help="Header:Value, name==value or name=value")
    add("--version", action="version", version=f"hyper {__version__}")
    add("--debug", action="store_true", help="log at DEBUG level; tracebacks on errors")
    add("--h2", action="store_true", help="speak HTTP/2 without negotiating it")
    add("--http1.1", dest="http11", action="store_true", help="speak HTTP/1.1 only")
    add("-v", "--verbose", action="store_true", help="show request and response heads")
    add("-o", "--output", metavar="FILE", help="write the body to FILE (-: stdout, binary too)")
    add("-s", "--silent", action="store_true", help="no progress meter, no warnings")
    add("-k", "--insecure", action="store_true", help="do not verify the certificate")
    add("--cacert", metavar="FILE", help="trust the CA certificate(s) in FILE")
    add("--timeout", type=_seconds, metavar="SECONDS", help="connect and read timeout")
    add("--data", metavar="DATA", help="the body: TEXT, @FILE, or - for stdin")
    add("--fail", action="store_true", help="exit 22 on an HTTP status of 400 or more")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit status.

    :param argv: arguments without the program name; ``sys.argv[1:]`` when None.
    :returns: one of the ``EXIT_*`` statuses (``hyper --help`` lists them).
    """
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["serve"]:
        from hyper.serve._cli import main as serve_main

        return serve_main(words[1:])
    parser = _build_parser()
    args = parser.parse_intermixed_args(words)
    if args.h2 and args.http11:
        parser.error("--h2 and --http1.1 cannot be combined")
    if _words(args) == ["demo"]:
        from hyper.demo import run_demo

        return run_demo()
    if args.debug:
        logging.basicConfig(stream=sys.stderr, format="%(name)s %(levelname)s: %(message)s")
        logging.getLogger("hyper").setLevel(logging.DEBUG)
    try:
        return _fetch(args)
    except KeyboardInterrupt:
        return 130  # 128 + SIGINT, as a shell reports it
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        status = exc.status if isinstance(exc, _CommandError) else _exit_status(exc)
        if status == EXIT_WRITE and isinstance(exc, _CommandError) and not str(exc):
            return status  # the warning said it all
        message = str(exc) or type(exc).__name__
        print(f"hyper: error: {message}", file=sys.stderr)
        return status


# ---------------------------------------------------------------------------
# The historic helpers (hyper 0.7's cli), for scripts that drive the command
# line from Python. They sit on the functions above: one parser, one URL rule,
# one way to connect.

SEP_HEADERS = ":"
SEP_QUERY = "=="
SEP_DATA = "="
SEP_JSON = "@="
#: The separators an item is tried with, in this order.
SEP_GROUP_ITEMS = [SEP_JSON, SEP_HEADERS, SEP_QUERY, SEP_DATA]


class KeyValue:
    """One ``key<sep>value`` item from the command line; ``orig`` is the item as typed."""

    def __init__(self, key: str, value: str, sep: str, orig: str) -> None:
        self.key = key
        self.value = value
        self.sep = sep
        self.orig = orig

    def __repr__(self) -> str:
        return f"KeyValue({self.key!r}, {self.value!r}, {self.sep!r}, {self.orig!r})"


class KeyValueArgType:
    """An ``argparse`` type: split an item at the first separator (tried in
    the order given) that it contains, into a :class:`KeyValue`."""

    def __init__(self, *separators: str) -> None:
        self.separators = separators

    def __call__(self, string: str) -> KeyValue:
        """:raises argparse.ArgumentTypeError: no separator in ``string``
        (historic hyper returned None, which failed later)."""
        for sep in self.separators:
            key, found, value = string.partition(sep)
            if found:
                return KeyValue(key, value, sep, string)
        raise argparse.ArgumentTypeError(f"{string!r} has none of {', '.join(self.separators)}")


class UrlInfo:
    """Where a request goes, as :func:`set_url_info` reads it from the URL.
    ``path`` is the request target (with the query, if any)."""

    def __init__(self) -> None:
        self.fragment: str | None = None
        self.host = "localhost"
        self.netloc: str | None = None
        self.path = "/"
        self.port = 443
        self.query: str | None = None
        self.scheme = "https"
        self.secure = False


def set_url_info(args: argparse.Namespace) -> None:
    """Read ``args._url`` (completed as on the command line: https and
    localhost by default) into ``args.url``, a :class:`UrlInfo`.

    :raises InvalidArgumentError: not an http(s) URL hyper can use.
    """
    try:
        target = _parse_url(args._url)
    except _CommandError as exc:
        raise InvalidArgumentError(str(exc)) from None
    info = UrlInfo()
    info.scheme = "https" if target.secure else "http"
    info.secure = target.secure
    info.host = target.host
    info.port = target.port
    info.path = target.path
    host = f"[{target.host}]" if ":" in target.host else target.host
    info.netloc = f"{host}:{target.port}"
    _, _, query = target.path.partition("?")
    info.query = query or None
    _, _, fragment = args._url.partition("#")
    info.fragment = fragment or None
    args.url = info


def set_request_data(args: argparse.Namespace) -> None:
    """
    Turn ``args.items`` (:class:`KeyValue`\\ s) into ``args.headers`` (a
    dict), query parameters added to ``args.url.path``, and ``args.body``
    (the ``=`` and ``@=`` items as a JSON object, with ``content-type:
    application/json``); ``args.method`` defaults to POST with a body, else
    GET, and is upper-cased.

    :raises InvalidArgumentError: an ``@=`` value is not JSON.
    """
    body: dict[str, object] = {}
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    for item in args.items:
        if item.sep == SEP_JSON:
            try:
                body[item.key] = json.loads(item.value)
            except ValueError as exc:
                raise InvalidArgumentError(f"{item.orig!r}: the value is not JSON") from exc
        elif item.sep == SEP_HEADERS:
            if item.key:
                headers[item.key] = item.value
            else:
                # ":authority:value": the leading colon of a pseudo-header
                # was taken for the separator.
                name, _, value = item.value.partition(":")
                headers[":" + name] = value
        elif item.sep == SEP_QUERY:
            params[item.key] = item.value
        elif item.sep == SEP_DATA:
            body[item.key] = item.value
    if params:
        args.url.path += ("&" if "?" in args.url.path else "?") + urlencode(params)
    if body:
        headers.setdefault("content-type", "application/json")
        args.body = json.dumps(body)
    elif not hasattr(args, "body"):
        args.body = None
    if getattr(args, "method", None) is None:
        args.method = "POST" if args.body else "GET"
    args.method = args.method.upper()
    args.headers = headers


def parse_argument(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line (``sys.argv[1:]`` when None) into the historic
    namespace: ``method``, ``url`` (:class:`UrlInfo`), ``headers``, ``body``,
    ``items`` and the options.

    :raises SystemExit: bad usage (argparse's exit 2).
    :raises InvalidArgumentError: a bad URL or JSON value.
    """
    args = _build_parser().parse_intermixed_args(argv)
    method, url, words = _split_words(_words(args))
    split = KeyValueArgType(*SEP_GROUP_ITEMS)
    args.method = method
    args._url = url
    args.items = [split(word) for word in words]
    if args.data is not None and (args.data.startswith("@") or args.data == "-"):
        # A file or stdin body is streamed by main(); this namespace holds text.
        raise InvalidArgumentError("--data @FILE and --data - are only read by main()")
    args.body = args.data
    set_url_info(args)
    set_request_data(args)
    return args


def get_content_type_and_charset(response: BaseResponse) -> tuple[str, str]:
    """The response's media type, lower-cased, and its charset: ``('unknown',
    'utf-8')`` without a content-type, ``utf-8`` when it names none."""
    values = response.headers.get(b"content-type")
    if not values:
        return "unknown", "utf-8"
    media_type, _, params = values[0].decode("latin-1").lower().partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return media_type.strip(), charset


def request(args: argparse.Namespace) -> bytes:
    """Make the request :func:`parse_argument` describes and return the
    response body (decoded of its content-coding). ``args.h2`` speaks HTTP/2
    without negotiating it."""
    info = args.url
    target = _Target(info.secure, info.host, info.port, info.path)
    conn = _open_connection(target, args)
    try:
        conn.request(args.method, info.path, args.body, args.headers, encode_chunked=True)
        return conn.getresponse().read()
    finally:
        conn.close()

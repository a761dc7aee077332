"""
``hyper demo``: hyper talking HTTP/2 to itself on loopback, fully offline.

``hyper serve`` (:class:`hyper.serve.ServerThread`) serves a small site from
a temporary directory on 127.0.0.1, and every front door of hyper's clients
talks to it: :class:`hyper.HTTP20Connection` (a pushed stylesheet, a
compressed text, a 304, a Range, a large file, a burst of requests from
several threads on one connection), :class:`hyper.HTTPConnection` (the h2c
upgrade), the async client, and the requests adapter and the httpx
transports when requests and httpx are installed (else it says how to
install them). It prints what happened and how fast, and exits non-zero if
anything came back wrong.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO


def _check(label: str, ok: bool, detail: str, out: TextIO) -> bool:
    out.write(f"  {'ok ' if ok else 'BAD'} {label:<34} {detail}\n")
    return ok


# What the demo serves: a page that names its stylesheet with rel=preload
# (so ``hyper serve --push-from-link`` pushes it), a compressible text, and
# a large binary file to stream.
_PAGE = b"<!doctype html><title>hyper demo</title><link rel=preload href=/style.css as=style>hi\n"
_STYLE = b"body { font-family: sans-serif }\n"
_TEXT = b"hyper decodes br and gzip on the fly. " * 2000
_BIG = 32 << 20


def _write_site(root: str) -> None:
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(_PAGE)
    with open(os.path.join(root, "style.css"), "wb") as f:
        f.write(_STYLE)
    with open(os.path.join(root, "text.txt"), "wb") as f:
        f.write(_TEXT)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        block = bytes(range(256)) * 4096
        for _ in range(_BIG // len(block)):
            f.write(block)


def _rate(count: int, seconds: float, unit: str) -> str:
    return f"{count / max(seconds, 1e-9):.0f} {unit}"


def _blocking(port: int, requests: int, threads: int, out: TextIO) -> bool:
    from hyper import HTTP20Connection

    good = True
    target = f"127.0.0.1:{port}"
    with HTTP20Connection(target, secure=False, enable_push=True, timeout=10) as conn:
        conn.request("GET", "/")
        resp = conn.getresponse()
        page = resp.read()
        pushes = list(resp.pushes)
        pushed = [push.path.decode() for push in pushes]
        style = pushes[0].getresponse().read() if pushes else b""
        good &= _check("GET / (push from Link)", resp.status == 200 and page == _PAGE
                       and pushed == ["/style.css"] and style == _STYLE,
                       f"{resp.status}, {len(page)} bytes, pushed {pushed}", out)  # fmt: skip

        conn.request("GET", "/text.txt")
        resp = conn.getresponse()
        coding = resp.headers.get(b"content-encoding", [b"identity"])[0].decode()
        text = resp.read()
        good &= _check("GET /text.txt (decoded)", text == _TEXT,
                       f"{len(text)} bytes from {coding}", out)  # fmt: skip

        conn.request("HEAD", "/")
        head = conn.getresponse()
        head.read()
        etag = head.headers.get(b"etag", [b""])[0].decode()
        conn.request("GET", "/", headers={"if-none-match": etag})
        status = conn.getresponse().status
        good &= _check("GET / (If-None-Match)", status == 304, f"{status}", out)

        conn.request("GET", "/big.bin", headers={"range": "bytes=100-199"})
        resp = conn.getresponse()
        part = resp.read()
        ranged = resp.status == 206 and part == bytes(range(100, 200))
        good &= _check("GET /big.bin (Range)", ranged, f"{resp.status}, {len(part)} bytes", out)

        start = time.perf_counter()
        conn.request("GET", "/big.bin")
        resp = conn.getresponse()
        got = 0
        for chunk in resp.read_chunked():
            got += len(chunk)
        elapsed = time.perf_counter() - start
        good &= _check(f"GET {_BIG >> 20} MiB", got == _BIG,
                       _rate(_BIG // 1_000_000, elapsed, "MB/s"), out)  # fmt: skip

        def fetch(_: int) -> bool:
            stream_id = conn.request("GET", "/style.css")
            return conn.getresponse(stream_id).read() == _STYLE

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(fetch, range(requests)))
        elapsed = time.perf_counter() - start
        rate = _rate(requests, elapsed, "requests/s on one connection")
        good &= _check(f"{requests} GETs from {threads} threads", all(results), rate, out)
    return good


def _negotiating(port: int, out: TextIO) -> bool:
    from hyper import HTTPConnection

    conn = HTTPConnection(f"127.0.0.1:{port}", secure=False, timeout=10)
    try:
        conn.request("GET", "/style.css")
        first = conn.get_response().read()
        conn.request("GET", "/text.txt")
        text = conn.get_response().read()
        version = conn.version.value
    finally:
        conn.close()
    return _check("HTTPConnection (h2c upgrade)", first == _STYLE and text == _TEXT,
                  f"2 GETs over {version}", out)  # fmt: skip


def _async(port: int, requests: int, out: TextIO) -> bool:
    from hyper.aio.connection import AsyncHTTP20Connection

    async def run() -> tuple[bool, float]:
        async with AsyncHTTP20Connection(f"127.0.0.1:{port}", timeout=10) as conn:
            start = time.perf_counter()

            async def fetch() -> bool:
                stream_id = await conn.request("GET", "/style.css")
                return await (await conn.get_response(stream_id)).read() == _STYLE

            results = await asyncio.gather(*(fetch() for _ in range(requests)))
            return all(results), time.perf_counter() - start

    ok, elapsed = asyncio.run(run())
    rate = _rate(requests, elapsed, "requests/s, one task each")
    return _check(f"{requests} async GETs", ok, rate, out)


class _Skipped(Exception):
    """A part needs an extra that is not installed; the message says which."""

    def __init__(self, message: str, extra: str) -> None:
        super().__init__(message)
        self.extra = extra


def _extra(module: str, extra: str) -> Any:
    """Import ``module``, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        message = f"{module} is not installed: pip install 'hyper[{extra}]'"
        raise _Skipped(message, extra) from None


def _adapter(port: int, out: TextIO) -> bool:
    requests = _extra("requests", "requests")
    # Imported by name: the adapter is optional (it needs requests).
    adapter_class: Any = importlib.import_module("hyper.contrib").HTTP2Adapter
    with requests.Session() as session:
        session.mount("http://", adapter_class())
        start = time.perf_counter()
        results = [session.get(f"http://127.0.0.1:{port}/style.css") for _ in range(100)]
        elapsed = time.perf_counter() - start
    ok = all(r.status_code == 200 and r.content == _STYLE for r in results)
    return _check("requests + HTTP2Adapter", ok, _rate(100, elapsed, "requests/s"), out)


def _httpx(port: int, out: TextIO) -> bool:
    httpx = _extra("httpx", "httpx")
    transports: Any = importlib.import_module("hyper.contrib.httpx")
    url = f"http://127.0.0.1:{port}/style.css"
    # http1=False: HTTP/2 with prior knowledge on the demo's cleartext port.
    with httpx.Client(transport=transports.HTTPTransport(http1=False), timeout=10) as client:
        start = time.perf_counter()
        results = [client.get(url) for _ in range(100)]
        elapsed = time.perf_counter() - start
    ok = all(r.content == _STYLE and r.http_version == "HTTP/2" for r in results)
    good = _check("httpx + HTTPTransport", ok, _rate(100, elapsed, "requests/s"), out)

    async def run() -> tuple[bool, float]:
        transport = transports.AsyncHTTPTransport(http1=False)
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            start = time.perf_counter()
            responses = await asyncio.gather(*(client.get(url) for _ in range(100)))
            return all(r.content == _STYLE for r in responses), time.perf_counter() - start

    ok, elapsed = asyncio.run(run())
    rate = _rate(100, elapsed, "requests/s, 100 at once")
    return good & _check("httpx + AsyncHTTPTransport", ok, rate, out)


def run_demo(out: TextIO = sys.stdout, requests: int = 1000, threads: int = 8) -> int:
    """Run the demo; return a process exit status (0 when all went well)."""
    from hyper import __version__
    from hyper.serve import ServerThread

    with tempfile.TemporaryDirectory(prefix="hyper-demo-") as root:
        _write_site(root)
        with ServerThread(root, host="127.0.0.1", port=0, push_from_link=True) as server:
            out.write(
                f"hyper {__version__}: hyper serve at {server.url}, hyper's clients against it\n"
            )
            good = True
            parts: list[tuple[str, Callable[[], bool]]] = [
                ("HTTP20Connection", lambda: _blocking(server.port, requests, threads, out)),
                ("HTTPConnection", lambda: _negotiating(server.port, out)),
                ("async client", lambda: _async(server.port, requests, out)),
                ("requests adapter", lambda: _adapter(server.port, out)),
                ("httpx transports", lambda: _httpx(server.port, out)),
            ]
            skipped: list[str] = []
            for label, part in parts:
                try:
                    good &= part()
                except _Skipped as why:
                    out.write(f"  --  {label:<34} skipped: {why}\n")
                    skipped.append(why.extra)
                except Exception as exc:  # a failing front door is reported, not raised
                    good &= _check(label, False, f"{type(exc).__name__}: {exc}", out)
    if skipped:
        out.write(f"to run what was skipped: pip install 'hyper[{','.join(skipped)}]'\n")
    out.write("all good\n" if good else "something went wrong\n")
    return 0 if good else 1


__all__ = ["run_demo"]

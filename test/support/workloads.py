"""What the interop tests do against a real server: connect, GET, fetch with curl, hash a
streamed body, upload a file lazily, run concurrent GETs, bound memory while downloading."""

from __future__ import annotations

import gc
import hashlib
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable

from support.docroot import LAZY_FILES, Docroot, KiB, MiB
from support.memory import PeakRSS
from support.processes import STOP_TIMEOUT, Server, binary


def curl_get(
    server: Server,
    path: str,
    *,
    port: int | None = None,
    http: str = "--http2",
    scheme: str = "https",
    timeout: float = 10.0,
) -> tuple[str, bytes]:
    """Fetch ``path`` with the curl command line; return (negotiated version, body).

    Proves a fixture works independently of hyper.
    """
    out = subprocess.run(
        [
            binary("curl"),
            "--silent",
            "--show-error",
            "--fail",
            http,
            "--cacert",
            server.ca_path,
            "--max-time",
            str(timeout),
            "--write-out",
            "\n%{http_version}",
            server.url(path, port=port, scheme=scheme),
        ],
        capture_output=True,
        timeout=timeout + STOP_TIMEOUT,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"curl exited {out.returncode}: {out.stderr.decode()}")
    body, _, version = out.stdout.rpartition(b"\n")
    return version.decode(), body


def sha256_of_stream(read: Callable[[int], bytes], chunk_size: int = 256 * KiB) -> tuple[str, int]:
    """Drain ``read(chunk_size)`` until it returns b''; return (hex SHA-256, byte count)."""
    digest = hashlib.sha256()
    total = 0
    while True:
        chunk = read(chunk_size)
        if not chunk:
            return digest.hexdigest(), total
        digest.update(chunk)
        total += len(chunk)


def file_chunks(path: Path, chunk_size: int = 256 * KiB) -> Iterator[bytes]:
    """An iterable body: the file's bytes in ``chunk_size`` pieces, read lazily."""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(chunk_size)
            if not chunk:
                return
            yield chunk


def connect(connection_class: Any, server: Server, port: int | None = None, **kwargs: Any) -> Any:
    """A ``connection_class`` connection over TLS to ``server`` (its main port by
    default), trusting the session's CA. ``HTTP11Connection`` offers only ``http/1.1``
    through ALPN (with ``h2`` on offer the servers here would choose it)."""
    from hyper.common.util import HTTPVersion

    context = server.ssl_context()
    if getattr(connection_class, "version", None) is HTTPVersion.http11:
        context.set_alpn_protocols(["http/1.1"])
    return connection_class(
        f"{server.host}:{port or server.port}",
        secure=True,
        ssl_context=context,
        **kwargs,
    )


def get(conn: Any, path: str, **kwargs: Any) -> Any:
    """GET ``path`` on any of hyper's connections and return its response."""
    stream_id = conn.request("GET", path, **kwargs)
    return conn.getresponse(stream_id)


# A thread that cannot reach the starting line within this long has hung; the barrier
# breaks and every worker fails instead of waiting forever.
BARRIER_TIMEOUT = 20.0
# Bound on one worker thread of run_concurrent_gets (each pytest test has its own
# overall timeout on top).
THREAD_JOIN_TIMEOUT = 50.0


def run_concurrent_gets(
    conn: Any, docroot: Docroot, names: Sequence[str], *, total: int, threads: int
) -> dict[int, bool]:
    """GET ``total`` files on one connection from ``threads`` threads at once.

    Each thread issues all of its requests before reading any response, so up to
    ``total`` streams are open together. Returns {stream id: body matched the file}.
    Raises the first exception any thread hit.
    """
    barrier = threading.Barrier(threads, timeout=BARRIER_TIMEOUT)
    lock = threading.Lock()
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            mine = [names[i % len(names)] for i in range(index, total, threads)]
            barrier.wait()
            issued = [(name, conn.request("GET", "/" + name)) for name in mine]
            for name, stream_id in issued:
                resp = conn.getresponse(stream_id)
                body = resp.read()
                ok = resp.status == 200 and hashlib.sha256(body).hexdigest() == docroot.sha256(
                    name
                )
                with lock:
                    results[stream_id] = ok
        except BaseException as e:
            with lock:
                errors.append(e)
            barrier.abort()

    workers = [
        threading.Thread(target=worker, args=(i,), name=f"gets-{i}") for i in range(threads)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=THREAD_JOIN_TIMEOUT)
    hung = [t.name for t in workers if t.is_alive()]
    if hung:
        raise AssertionError(f"threads still running after {THREAD_JOIN_TIMEOUT}s: {hung}")
    if errors:
        # A broken barrier is the echo of another thread's failure; report the cause.
        real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
        raise (real or errors)[0]
    return results


def assert_download_memory_flat(conn: Any, docroot: Docroot, name: str, limit: int) -> None:
    """GET a lazily created file, hash it while reading, and bound peak RSS growth."""
    docroot.ensure(name)
    expected = docroot.sha256(name)
    # From a collected heap: PyPy's next major collection comes only once the heap
    # has grown by a factor of what was live at the last one, and without this RSS
    # grew by 64-78 MiB during the download (about 1 MiB after it, as on CPython).
    gc.collect()
    with PeakRSS() as rss:
        stream_id = conn.request("GET", "/" + name)
        resp = conn.getresponse(stream_id)
        digest, size = sha256_of_stream(resp.read)
    assert size == LAZY_FILES[name]
    assert digest == expected
    assert rss.growth < limit, (
        f"peak RSS grew by {rss.growth / MiB:.1f} MiB while downloading {name} "
        f"(limit {limit / MiB:.0f} MiB)"
    )

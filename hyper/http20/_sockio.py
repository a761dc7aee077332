"""
Socket-level helpers of the blocking HTTP/2 driver: writing a batch whatever
the socket's current timeout, and gathering complete TLS records. They take the socket
and return results; locking is the caller's business (see
:mod:`hyper.http20._session`).
"""

from __future__ import annotations

import socket
import ssl
import sys
from time import monotonic

from hyper.common.exceptions import TimeoutError as HyperTimeoutError

try:
    import fcntl
    import termios

    HAVE_FIONREAD = True
except ImportError:  # Windows: one TLS record per read step
    HAVE_FIONREAD = False

# The most a TLS record carries: 16 KiB of plaintext plus its overhead.
_TLS_RECORD_MAX = 16384 + 256
# The socket timeout while gathering complete TLS records: the data is
# there; only a record OpenSSL reads on past (a session ticket) could wait.
GATHER_TIMEOUT = 0.001


def _fionread(fd: int) -> int:
    """Bytes waiting in the kernel's receive buffer of ``fd``."""
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)


def write_all(
    sock: socket.socket, data: bytes, stall_timeout: float | None
) -> BaseException | None:
    """
    Write all of ``data``; return the failure instead of raising it.

    ``send`` in a loop, not ``sendall``: the socket's timeout belongs to
    whichever thread reads, so a timeout here only means "no byte went out
    yet"; the bytes are offered again (a partial write must never be
    abandoned mid-frame). Only no progress for ``stall_timeout`` seconds
    fails the write.
    """
    total = len(data)
    sent = 0
    view: memoryview | None = None
    stalled_since: float | None = None
    while sent < total:
        try:
            sent += sock.send(data if view is None else view[sent:])
        except socket.timeout:
            if stall_timeout is not None:
                now = monotonic()
                if stalled_since is None:
                    stalled_since = now
                elif now - stalled_since >= stall_timeout:
                    return HyperTimeoutError(f"the server accepted no data for {stall_timeout} s")
            continue
        except OSError as exc:
            return exc
        stalled_since = None
        if view is None and sent < total:
            view = memoryview(data)
    return None


def gather_tls_records(sock: ssl.SSLSocket, view: memoryview, count: int, resting: float) -> int:
    """
    A TLS socket returns one record (at most 16 KiB) per recv. Take the
    records already complete in the kernel's buffer into ``view[count:]``
    too, so one read step (one engine call, one wake-up) handles up to the
    whole buffer: on a 256 MiB download this halved the Python work per
    byte (16.8k read steps became 1.2k). A record is taken only when all of
    it is there (its 5-byte header, peeked on the raw socket, gives its
    length). Returns the new ``count``; leaves ``resting`` as the timeout.
    """
    size = len(view)
    fd = sock.fileno()
    peek = socket.socket.recv
    try:
        if _fionread(fd) < 5:
            return count  # the common case for small responses: one syscall
    except OSError:
        return count
    sock.settimeout(GATHER_TIMEOUT)
    try:
        while size - count >= _TLS_RECORD_MAX:
            available = _fionread(fd)
            if available < 5:
                break
            header = peek(sock, 5, socket.MSG_PEEK)
            if len(header) < 5 or available < 5 + (header[3] << 8 | header[4]):
                break
            got = sock.recv_into(view[count:])
            if got <= 0:
                break
            count += got
    except OSError:
        pass  # a timeout, or a failure the next read step meets and reports
    finally:
        sock.settimeout(resting)
    return count

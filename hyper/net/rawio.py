"""
A connected plain socket used non-blocking, with every wait a ``poll`` (or,
on Windows, ``select``) and no lock: what the in-memory TLS connection
(:mod:`hyper.net.tls_socket`) runs on, and what the HTTP/2 driver uses
for a cleartext connection. One thread may read while another writes; the
kernel allows it on a plain socket.
"""

from __future__ import annotations

import select
import socket
from time import monotonic
from typing import Any

from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.types import Buffer

__all__ = ["RawIO"]


_WANT_IO = (BlockingIOError, InterruptedError)
_HAVE_POLL = hasattr(select, "poll")  # not on Windows, where select() serves


class RawIO:
    """``sock``, made non-blocking; reads and writes with deadlines."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(0.0)
        self._read_poller: Any = None
        self._write_poller: Any = None
        if _HAVE_POLL:
            fd = sock.fileno()
            self._read_poller = select.poll()
            self._read_poller.register(fd, select.POLLIN)
            self._write_poller = select.poll()
            self._write_poller.register(fd, select.POLLOUT)

    def wait(self, readable: bool, timeout: float | None) -> bool:
        """Until the socket is readable (or writable), fails, or ``timeout``
        passes (False then)."""
        if _HAVE_POLL:
            poller = self._read_poller if readable else self._write_poller
            try:
                ms = None if timeout is None else max(0.0, timeout) * 1000
                return bool(poller.poll(ms))
            except (OSError, ValueError):
                return True  # let the next call meet and report the failure
        try:
            sock = self.sock
            ready = select.select(
                [sock] if readable else [], [] if readable else [sock], [], timeout
            )
        except (OSError, ValueError):
            return True
        return bool(ready[0] or ready[1])

    def has_input(self) -> bool:
        """Input, EOF or an error is waiting; no wait."""
        return self.wait(True, 0)

    def read_into(self, view: memoryview, timeout: float | None) -> int:
        """As :meth:`receive`, waiting up to ``timeout`` seconds (None: forever)."""
        return self.receive(view, None if timeout is None else monotonic() + timeout)

    def receive(self, view: memoryview, deadline: float | None) -> int:
        """
        Read into ``view`` once something arrives, by the ``monotonic()``
        ``deadline`` (None: whenever).

        :returns: the bytes read, 0 at EOF, -1 if the deadline passed first.
        :raises OSError: the socket failed.
        """
        recv_into = self.sock.recv_into
        while True:
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                return -1
            if not self.wait(True, remaining):
                continue
            try:
                return recv_into(view)
            except _WANT_IO:
                continue

    def write_all(self, data: Buffer, stall_timeout: float | None) -> BaseException | None:
        """
        Write all of ``data``; return the failure instead of raising it. A
        partial write is never abandoned: only no progress for
        ``stall_timeout`` seconds fails it.
        """
        total = len(data)
        sent = 0
        view: memoryview | None = None
        stalled_since: float | None = None
        send = self.sock.send
        while sent < total:
            try:
                if sent:
                    if view is None:
                        view = memoryview(data)
                    sent += send(view[sent:])
                else:
                    sent = send(data)
                stalled_since = None
                continue
            except _WANT_IO:
                pass
            except OSError as exc:
                return exc
            now = monotonic()
            if stalled_since is None:
                stalled_since = now
            remaining = None
            if stall_timeout is not None:
                remaining = stall_timeout - (now - stalled_since)
                if remaining <= 0:
                    return HyperTimeoutError(f"the server accepted no data for {stall_timeout} s")
            self.wait(False, remaining)
        return None

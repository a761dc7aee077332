"""
The blocking HTTP/2 driver's socket: reads and writes that any two threads
may make at once, even on TLS.

OpenSSL does not allow one ``SSL`` object to be used by two threads at the
same time, and Python's ``ssl`` module does not serialise them: a thread in
``recv`` (SSL_read) while another is in ``send`` (SSL_write) on the same
``SSLSocket`` corrupts the connection now and then (seen here as
"[SSL] internal error" and servers dropping the connection under 8-32
threads). So the socket is made non-blocking, every call into it (recv,
send, pending, shutdown) is made under one lock, and the waiting is done by
``poll`` on the descriptor with no lock held: a reader waiting for data never
stops a writer, and a writer waiting for the kernel's buffer never stops a
reader.

Reading also gathers: after the first TLS record, the records already
complete are taken in the same step (each later ``recv`` returns at once,
or says the rest has not arrived), so one read step handles up to the whole
buffer without a syscall per record spent on looking first.

hyper's own connections come as a
:class:`~hyper.common._tls_socket.TLSSocket` (TLS in memory, with its own
locking, one ``recv`` per read step); the transport hands each call to it.
The ``ssl.SSLSocket`` path above serves a socket handed in already wrapped.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from time import monotonic
from typing import Any, Callable

from hyper.common._tls_socket import TLSSocket, stall_time_left
from hyper.common.exceptions import TimeoutError as HyperTimeoutError

# The most a TLS record carries: 16 KiB of plaintext plus its overhead.
_TLS_RECORD_MAX = 16384 + 256
_WANT_READ = (ssl.SSLWantReadError, BlockingIOError, InterruptedError)
_WANT_WRITE = (ssl.SSLWantWriteError,)
_HAVE_POLL = hasattr(select, "poll")  # not on Windows, where select() serves


class Transport:
    """A connected (TLS or plain) socket shared by the threads of one
    :class:`~hyper.http20._session.Session`. See the module docstring."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._tls = isinstance(sock, ssl.SSLSocket)
        # TLS in memory: its own locking, one raw recv per read step.
        self._mem: TLSSocket | None = sock if isinstance(sock, TLSSocket) else None
        sock.settimeout(0.0)
        self._fd = sock.fileno()

    def fileno(self) -> int:
        """The socket's descriptor; -1 once it is closed."""
        return self.sock.fileno()

    # -- waiting (no lock held) ---------------------------------------------

    def _wait(self, readable: bool, timeout: float | None) -> bool:
        """Until the descriptor is readable (or writable), it fails, or
        ``timeout`` passes (False then)."""
        if _HAVE_POLL:
            poller = select.poll()
            poller.register(self._fd, select.POLLIN if readable else select.POLLOUT)
            try:
                return bool(poller.poll(None if timeout is None else max(0, timeout) * 1000))
            except (OSError, ValueError):
                return True  # let the next call meet and report the failure
        try:
            ready = select.select(
                [self.sock] if readable else [], [] if readable else [self.sock], [], timeout
            )
        except (OSError, ValueError):
            return True
        return bool(ready[0] or ready[1])

    # -- reading ------------------------------------------------------------

    def recv_into(self, view: memoryview, timeout: float | None) -> int:
        """
        Read into ``view``, waiting up to ``timeout`` seconds (None: forever).

        :returns: the bytes read (TLS: every record already complete, up to
            the buffer's size), 0 at EOF, -1 if the timeout passed first.
        :raises OSError: the socket failed (a reset, a TLS error).
        """
        if self._mem is not None:
            return self._mem.read_into(view, timeout)
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            readable = True
            with self._lock:
                try:
                    count = self.sock.recv_into(view)
                except _WANT_READ:
                    count = -1
                except _WANT_WRITE:  # TLS wants to write first (a key update)
                    count, readable = -1, False
                else:
                    if count > 0 and self._tls:
                        count = self._gather(view, count)
            if count >= 0:
                return count
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                return -1
            self._wait(readable, remaining)

    def _gather(self, view: memoryview, count: int) -> int:
        """More complete records, without waiting (called under the lock)."""
        size = len(view)
        recv_into = self.sock.recv_into
        while size - count >= _TLS_RECORD_MAX:
            try:
                got = recv_into(view[count:])
            except (*_WANT_READ, *_WANT_WRITE):
                break
            except OSError:
                break  # the next read meets and reports it
            if got <= 0:
                break
            count += got
        return count

    def has_input(self) -> bool:
        """Input, EOF or an error is waiting (decrypted TLS bytes too); no wait."""
        if self._mem is not None:
            return self._mem.has_input()
        if self._tls:
            with self._lock:
                if self.sock.pending():  # type: ignore[attr-defined]
                    return True
        return self._wait(True, 0)

    # -- writing ------------------------------------------------------------

    def write_all(self, data: bytes, stall_timeout: float | None) -> BaseException | None:
        """
        Write all of ``data``; return the failure instead of raising it. A
        partial write is never abandoned mid-frame: only no progress for
        ``stall_timeout`` seconds fails the write. One writer at a time (the
        session's write lock); readers may run meanwhile.
        """
        if self._mem is not None:
            return self._mem.write_all(data, stall_timeout)
        total = len(data)
        sent = 0
        view = memoryview(data)
        stalled_since: float | None = None
        send: Callable[[Any], int] = self.sock.send
        while sent < total:
            writable = True
            with self._lock:
                try:
                    sent += send(view[sent:] if sent else data)
                    stalled_since = None
                    continue
                except _WANT_WRITE:
                    pass
                except _WANT_READ:
                    # BlockingIOError (plain socket: buffer full) or a TLS
                    # write waiting for the peer's data (a key update).
                    writable = not self._tls
                except OSError as exc:
                    return exc
            stalled_since, remaining = stall_time_left(stalled_since, stall_timeout)
            if remaining is not None and remaining <= 0:
                return HyperTimeoutError(f"the server accepted no data for {stall_timeout} s")
            self._wait(not writable, remaining)
        return None

    # -- closing ------------------------------------------------------------

    def shutdown(self) -> None:
        """Wake a reader or writer waiting on the socket: it meets EOF."""
        if self._mem is not None:
            try:
                self._mem.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        with self._lock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            self.sock.close()

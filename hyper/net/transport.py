"""
The blocking HTTP/2 driver's socket: reads and writes that any two threads
may make at once, even on TLS.

OpenSSL does not allow one ``SSL`` object to be used by two threads at the
same time, and Python's ``ssl`` module does not serialise them: a thread in
``recv`` (SSL_read) while another is in ``send`` (SSL_write) on the same
``SSLSocket`` corrupts the connection now and then (seen here as
"[SSL] internal error" and servers dropping the connection under 8-32
threads). So a TLS connection is a
:class:`~hyper.net.tls_socket.TLSSocket` (what ``open_socket`` makes of
every TLS connection): the TLS state in memory, every call into OpenSSL
serialised, one ``recv`` per read step. A cleartext one is a
:class:`~hyper.net.rawio.RawIO`. Either way the socket is non-blocking
and waiting is done by ``poll`` with no lock held: a reader waiting for data
never stops a writer, and a writer waiting for the kernel's buffer never
stops a reader.
"""

from __future__ import annotations

import socket
from typing import Any

from hyper.common.types import Buffer
from hyper.net.rawio import RawIO
from hyper.net.tls_socket import TLSSocket

__all__ = ["DescriptorHold", "Transport"]


class DescriptorHold:
    """
    Keeps a socket's descriptor open through its owner's ``close()``, the
    way a file from ``socket.makefile()`` does (it is one): the descriptor
    really closes once the socket was closed and every hold released.

    ``http.client``'s responses read through such a file, so a caller may
    close the connection's socket while a response is still being read;
    ``urllib.request`` does, right after ``getresponse()``. hyper's
    responses and sessions hold the socket the same way.
    """

    __slots__ = ("_file",)

    def __init__(self, sock: Any) -> None:
        raw = sock.raw if isinstance(sock, TLSSocket) else sock
        try:
            self._file: Any = raw.makefile("rb", buffering=0)
        except (AttributeError, OSError, ValueError):  # closed, or not a socket
            self._file = None

    def release(self) -> None:
        """Let go (once); the descriptor closes if the socket was closed."""
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass


class Transport:
    """A connected (TLS or plain) socket shared by the threads of one
    :class:`~hyper.drivers.sync_h2.Session`. See the module docstring."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._io: TLSSocket | RawIO = sock if isinstance(sock, TLSSocket) else RawIO(sock)
        # A caller's close() of the connection's socket (urllib closes it
        # after getresponse()) must not cut the streams still being read.
        self._hold = DescriptorHold(sock)

    def fileno(self) -> int:
        """The socket's descriptor; -1 once it is closed."""
        return self.sock.fileno()

    def recv_into(self, view: memoryview, timeout: float | None) -> int:
        """
        Read into ``view``, waiting up to ``timeout`` seconds (None: forever).

        :returns: the bytes read (TLS: every record already complete, up to
            the buffer's size), 0 at EOF, -1 if the timeout passed first.
        :raises OSError: the socket failed (a reset, a TLS error).
        """
        return self._io.read_into(view, timeout)

    def has_input(self) -> bool:
        """Input, EOF or an error is waiting (decrypted TLS bytes too); no wait."""
        return self._io.has_input()

    def write_all(self, data: Buffer, stall_timeout: float | None) -> BaseException | None:
        """
        Write all of ``data``; return the failure instead of raising it. A
        partial write is never abandoned mid-frame: only no progress for
        ``stall_timeout`` seconds fails the write. One writer at a time (the
        session's write lock); readers may run meanwhile.
        """
        return self._io.write_all(data, stall_timeout)

    def shutdown(self) -> None:
        """Wake a reader or writer waiting on the socket: it meets EOF."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._hold.release()
        self.sock.close()

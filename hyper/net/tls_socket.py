"""
A TLS client connection whose TLS state lives in memory (``ssl.MemoryBIO``):
the socket only ever moves raw bytes.

Why not ``ssl.SSLSocket``: there, OpenSSL reads the socket itself, two
``recv`` calls per TLS record (its 5-byte header, then the rest), so a
256 KiB read costs 32 syscalls; and it must not be entered by two threads at
once. Here one ``recv`` takes everything the kernel holds (up to 256 KiB)
and the records are decrypted from memory; the socket is used without the
TLS lock, so a thread waiting for input never holds it.

Rules that make one reader and one writer safe at the same time (the HTTP/2
driver has both):

- every call into the ``SSLObject`` is made under ``_lock``, held only for
  the call (no socket I/O under it);
- the ciphertext the ``SSLObject`` produces is taken out of the outgoing BIO
  and written only by the holder of ``_send_lock``, which keeps TLS records
  in the order they were made; the writer gives ``_send_lock`` up under
  ``_lock`` once the BIO is empty, so what a reader produced meanwhile (a
  KeyUpdate answer) is either written by that writer or finds the lock free;
- the raw socket is non-blocking (:class:`~hyper.net.rawio.RawIO`);
  waiting is a ``poll`` with no lock held.

:class:`TLSSocket` also has the blocking socket calls (``recv_into``,
``sendall``, ``settimeout``...) that the HTTP/1.1 channel and callers use.
"""

from __future__ import annotations

import socket
import ssl
import threading
from time import monotonic
from typing import Any, Callable

from hyper.common.types import Buffer
from hyper.net.rawio import RawIO

__all__ = ["TLSSocket", "handshake"]


# One raw recv takes up to this much ciphertext.
_RAW_READ = 256 * 1024
# Plaintext is encrypted this much at a time, so a large write never holds
# two whole copies of itself (plaintext and ciphertext) at once. Uploads
# measured fastest at 48-96 KiB (16: 13% slower, 128 and 256: 20-30%).
_ENCRYPT_CHUNK = 64 * 1024


def handshake(
    sock: socket.socket,
    context: ssl.SSLContext,
    server_hostname: str | None,
    timeout: float | None,
) -> TLSSocket:
    """
    Run the client side of a TLS handshake over the connected ``sock``.

    :param timeout: seconds for the whole handshake; None waits as long as
        it takes.
    :raises ssl.SSLError: the handshake failed (``ssl.SSLCertVerificationError``
        for a certificate not trusted or not for ``server_hostname``).
    :raises socket.timeout: the handshake took longer than ``timeout``.
    :raises OSError: the socket failed (reset, EOF: ``ssl.SSLEOFError``).
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    initial_timeout = sock.gettimeout()
    deadline = None if timeout is None else monotonic() + timeout
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            _send_blocking(sock, outgoing.read(), deadline)
            data = _recv_blocking(sock, deadline)
            if not data:
                raise ssl.SSLEOFError(
                    ssl.SSL_ERROR_EOF, "EOF occurred in violation of protocol (handshake)"
                ) from None
            incoming.write(data)
        except ssl.SSLError:
            # Our alert (a certificate we refuse, say) still tells the server why.
            try:
                _send_blocking(sock, outgoing.read(), deadline)
            except OSError:
                pass
            raise
    _send_blocking(sock, outgoing.read(), deadline)  # our Finished (TLS 1.3)
    return TLSSocket(sock, obj, incoming, outgoing, timeout=initial_timeout)


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - monotonic()
    if left <= 0:
        raise socket.timeout("the TLS handshake timed out")
    return left


def _send_blocking(sock: socket.socket, data: bytes, deadline: float | None) -> None:
    if data:
        sock.settimeout(_remaining(deadline))
        sock.sendall(data)


def _recv_blocking(sock: socket.socket, deadline: float | None) -> bytes:
    sock.settimeout(_remaining(deadline))
    return sock.recv(_RAW_READ)


class TLSSocket:
    """
    A TLS connection over a plain socket, made by :func:`handshake`. Reads
    and writes may run in two threads at once (see the module docstring).

    The socket methods (``recv``, ``recv_into``, ``send``, ``sendall``,
    ``settimeout``, ``gettimeout``, ``fileno``, ``shutdown``, ``close``) and
    the ``ssl.SSLSocket`` queries (``getpeercert``, ``selected_alpn_protocol``,
    ``version``, ``cipher``, ``pending``) behave as those of an
    ``SSLSocket``; the socket timeout applies to each call.
    """

    def __init__(
        self,
        sock: socket.socket,
        obj: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        *,
        timeout: float | None = None,
    ) -> None:
        self.raw = sock
        self._obj = obj
        self._in = incoming
        self._out = outgoing
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._timeout = timeout
        self._raw_buf = bytearray(_RAW_READ)
        self._raw_view = memoryview(self._raw_buf)
        self._eof = False  # the raw socket reached EOF
        self._closed_tls = False  # the peer sent close_notify
        # OpenSSL asked for more ciphertext and none was given since.
        self._starved = False
        self._io = RawIO(sock)

    # -- what the handshake settled -------------------------------------

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The server's certificate, as ``ssl.SSLSocket.getpeercert``."""
        return self._obj.getpeercert(binary_form)

    def selected_alpn_protocol(self) -> str | None:
        return self._obj.selected_alpn_protocol()

    def version(self) -> str | None:
        return self._obj.version()

    def cipher(self) -> tuple[str, str, int] | None:
        return self._obj.cipher()

    @property
    def server_hostname(self) -> str | None:
        return self._obj.server_hostname

    @property
    def context(self) -> ssl.SSLContext:
        return self._obj.context

    def getpeername(self) -> Any:
        return self.raw.getpeername()

    def getsockname(self) -> Any:
        return self.raw.getsockname()

    def setsockopt(self, *args: Any) -> None:
        self.raw.setsockopt(*args)

    def fileno(self) -> int:
        """The socket's descriptor; -1 once it is closed."""
        return self.raw.fileno()

    # -- reading ------------------------------------------------------------

    def pending(self) -> int:
        """Bytes that can be read without touching the socket (plaintext
        already decrypted, or ciphertext already received)."""
        with self._lock:
            return self._obj.pending() or self._in.pending

    def has_input(self) -> bool:
        """Input, EOF or an error is waiting (already received too); no wait."""
        if self._in.pending or self._eof or self._closed_tls:
            return True
        with self._lock:
            if self._obj.pending():
                return True
        return self._io.has_input()

    def read_into(self, view: memoryview, timeout: float | None) -> int:
        """
        Read plaintext into ``view``, waiting up to ``timeout`` seconds (None:
        forever): every complete record received, up to the view's size.

        :returns: the bytes read, 0 at EOF (close_notify, or the socket's
            EOF), -1 if the timeout passed first.
        :raises OSError: the socket failed; ``ssl.SSLError`` for bad TLS data.
        """
        deadline = None if timeout is None else monotonic() + timeout
        obj = self._obj
        obj_read: Callable[[int, memoryview], int] = obj.read  # type: ignore[assignment]
        incoming = self._in
        size = len(view)
        while True:
            # If the last read used up everything OpenSSL had and nothing
            # came in since, wait for the socket first.
            if self._starved and not self._eof and not self._fill(deadline):
                return -1
            count = 0
            with self._lock:
                try:
                    while count < size:
                        got = obj_read(size - count, view[count:] if count else view)
                        if not got:  # the peer's close_notify
                            self._closed_tls = True
                            break
                        count += got
                        if not incoming.pending and not obj.pending():
                            # OpenSSL takes one record at a time out of the
                            # BIO (Python never turns read-ahead on): with
                            # the BIO empty and the last record read whole,
                            # nothing is left, and asking again would only
                            # raise SSLWantReadError (3.6 us, once a read).
                            self._starved = True
                            break
                except ssl.SSLWantReadError:
                    self._starved = True
                except ssl.SSLZeroReturnError:
                    self._closed_tls = True
                wrote = self._out.pending
            if wrote:
                self._answer()
            if count or self._closed_tls or self._eof:
                return count

    def _fill(self, deadline: float | None) -> bool:
        """Receive ciphertext into the incoming BIO (or note EOF); False if
        the deadline passed first."""
        got = self._io.receive(self._raw_view, deadline)
        if got < 0:
            return False
        if not got:
            self._eof = True
            return True
        with self._lock:
            self._in.write(self._raw_view[:got])
            self._starved = False
        return True

    def _answer(self) -> None:
        """Write what reading made the TLS layer say (a KeyUpdate answer),
        unless a writer is busy: it writes it before it lets go."""
        if self._send_lock.acquire(blocking=False):
            self._drain(None)

    # -- writing ------------------------------------------------------------

    def write_all(self, data: Buffer, stall_timeout: float | None) -> BaseException | None:
        """
        Encrypt and write all of ``data``; return the failure instead of
        raising it. Only no progress for ``stall_timeout`` seconds fails it.
        """
        total = len(data)
        if not total:
            return None
        self._send_lock.acquire()
        view = memoryview(data) if total > _ENCRYPT_CHUNK else None
        for offset in range(0, total, _ENCRYPT_CHUNK):
            piece = data if view is None else view[offset : offset + _ENCRYPT_CHUNK]
            failure = self._drain(stall_timeout, piece, last=offset + _ENCRYPT_CHUNK >= total)
            if failure is not None:
                return failure
        return None

    def _drain(
        self, stall_timeout: float | None, piece: Buffer | None = None, last: bool = True
    ) -> BaseException | None:
        """
        Encrypt ``piece`` (if any) and write what the outgoing BIO holds;
        after the ``last`` piece, write until the BIO is empty and release
        ``_send_lock`` (held on entry) under ``_lock``. It is released on
        failure either way.
        """
        try:
            while True:
                with self._lock:
                    if piece is not None:
                        self._obj.write(piece)
                        piece = None
                    if not self._out.pending:
                        if last:
                            self._send_lock.release()
                        return None
                    out = self._out.read()
                failure = self._io.write_all(out, stall_timeout)
                if failure is not None:
                    self._send_lock.release()
                    return failure
                if not last:
                    return None  # what is left goes with the next piece
        except BaseException:
            self._send_lock.release()
            raise

    # -- the socket calls ---------------------------------------------------

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """As ``socket.recv_into``; raises ``socket.timeout`` (or, with a
        zero timeout, ``ssl.SSLWantReadError``) when nothing arrives."""
        if flags:
            raise ValueError("non-zero flags not allowed in calls to recv_into() on TLSSocket")
        view = memoryview(buffer)
        if view.format != "B" or view.ndim != 1:
            # (Only when needed: PyPy's SSL reads into a slice of a cast
            # view land in a copy.)
            view = view.cast("B")
        if nbytes:
            view = view[:nbytes]
        if not len(view):
            return 0
        count = self.read_into(view, self._timeout)
        if count < 0:
            if self._timeout == 0:
                raise ssl.SSLWantReadError("The operation did not complete (read)")
            raise socket.timeout("The read operation timed out")
        return count

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        buf = bytearray(bufsize)
        count = self.recv_into(buf, bufsize, flags)
        return bytes(buf[:count])

    read = recv

    def sendall(self, data: Buffer, flags: int = 0) -> None:
        """As ``socket.sendall``: all of ``data`` or an exception; the
        timeout bounds each wait for the kernel to take more."""
        if flags:
            raise ValueError("non-zero flags not allowed in calls to sendall() on TLSSocket")
        failure = self.write_all(data, self._timeout)
        if failure is not None:
            raise failure

    def send(self, data: Buffer, flags: int = 0) -> int:
        self.sendall(data, flags)
        return len(data)

    write = send

    def shutdown(self, how: int) -> None:
        """Shut the raw socket down (wakes a thread waiting on it)."""
        self.raw.shutdown(how)

    def unwrap(self) -> socket.socket:
        """Send close_notify and hand back the plain socket."""
        with self._lock:
            try:
                self._obj.unwrap()
            except ssl.SSLError:
                pass
            out = self._out.read()
        if out:
            self._io.write_all(out, self._timeout)
        return self.raw

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> TLSSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        alpn = self.selected_alpn_protocol()
        return f"<TLSSocket fd={self.fileno()} {self.version()} alpn={alpn}>"

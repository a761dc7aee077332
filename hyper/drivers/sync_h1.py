"""
One HTTP/1.1 socket and the ``h11`` state machine that speaks on it.

A :class:`Channel` only moves bytes: it writes what ``h11`` produces and
feeds ``h11`` what the socket gives, through one preallocated buffer
(``recv_into``), and hands back ``h11`` events. It is the seam where the
socket's errors become hyper's (the original kept as ``__cause__``):

- a read or write timeout raises :class:`hyper.common.exceptions.TimeoutError`;
  after a read timeout nothing is lost and the read may be retried;
- garbage from the peer raises :class:`InvalidResponseError` (from ``h11``'s
  ``RemoteProtocolError``): its :class:`LineTooLongError` when the head (or a
  chunk size line) passes :data:`MAX_HEAD` unfinished, its :class:`ChunkedDecodeError`
  when chunked framing is broken;
- the peer closing or resetting the connection where HTTP/1.1 does not
  allow it (mid-head, mid-body) raises hyper's :class:`ConnectionResetError`:
  :class:`RemoteDisconnected` when not a byte of the response came,
  :class:`IncompleteRead` mid-body (both ``http.client``'s classes too);
- a status line that is not one raises :class:`BadStatusLine`;
- any other socket or TLS failure raises hyper's :class:`ConnectionError`.

After a failed read (but a timeout) the channel is closed: its ``h11``
state is no longer trustworthy. A failed write leaves closing to the
caller, which may still read an answer the server sent before it stopped
reading.
"""

from __future__ import annotations

import socket
from typing import cast

import h11

from hyper.common._h11 import MAX_HEAD, Event, response_error
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import HyperError
from hyper.net.errors import InputPoller, translate_os_error

__all__ = ["Channel"]

class Channel:
    """
    A connected socket, its ``h11.Connection`` (client role) and its receive
    buffer.

    ``reused`` is True once a request/response cycle has completed on it;
    ``received`` counts the bytes read in the current cycle (zero means the
    server has said nothing yet, which is what makes a retry safe).
    """

    def __init__(self, sock: socket.socket, where: str, buffer_size: int) -> None:
        self.sock = sock
        self.where = where
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self._buffer = bytearray(buffer_size)
        self._view = memoryview(self._buffer)
        self.reused = False
        self.received = 0
        self.closed = False
        self._eof = False
        # EOF came mid-body; where a chunked body's trailers were being read.
        self._eof_in_body = False
        self._eof_in_trailers = False
        self._poller = InputPoller(sock)
        #: Above 0, every write is printed to stdout (``http.client``'s
        #: ``send:`` lines; see ``set_debuglevel``).
        self.debuglevel = 0

    # ------------------------------------------------------------------
    # Writing

    def send(self, data: bytes | memoryview) -> None:
        """Write all of ``data``. A failure leaves the socket open: the
        server may have answered already (see the connection)."""
        if self.debuglevel > 0:
            print("send:", repr(bytes(data)))
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise self._translate(exc, "sending the request") from exc

    def send_data(self, chunk: bytes | memoryview) -> None:
        """Write one piece of the request body, framed by ``h11``."""
        # send_with_data_passthrough hands the payload back untouched, so a
        # memoryview (of a bytearray body) goes out without a copy; h11 types
        # it as bytes but only takes its len().
        self.send_event(h11.Data(data=cast(bytes, chunk)))

    def send_event(self, event: h11.Event) -> None:
        """Serialise ``event`` with ``h11`` and write it."""
        pieces = self.h11.send_with_data_passthrough(event)
        if not pieces:
            return
        if len(pieces) == 1:
            self.send(pieces[0])
        elif isinstance(event, h11.Data) and len(event.data) > 65536:
            # A large chunk goes out as is, beside its small framing.
            for piece in pieces:
                self.send(piece)
        else:
            self.send(b"".join(pieces))

    # ------------------------------------------------------------------
    # Reading

    def next_event(self) -> Event:
        """The next ``h11`` event, reading from the socket as needed."""
        conn = self.h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self.close()
                if self._eof_in_trailers:
                    # The last chunk came, then EOF instead of the blank
                    # line ending the trailer section: every body byte is
                    # in, so the body is complete (http.client reads it so).
                    return h11.EndOfMessage()
                raise self._protocol_error(exc) from exc
            if event is not h11.NEED_DATA:
                return cast(Event, event)
            self._fill()

    def buffered_event(self) -> Event | None:
        """The next event if what was already read holds one; never reads."""
        try:
            event = self.h11.next_event()
        except h11.RemoteProtocolError as exc:
            self.close()
            raise self._protocol_error(exc) from exc
        if event is h11.NEED_DATA:
            return None
        return cast(Event, event)

    def _fill(self) -> None:
        if self.closed:
            raise HyperConnectionError(f"the connection to {self.where} is closed")
        try:
            count = self.sock.recv_into(self._view)
        except OSError as exc:
            if isinstance(exc, socket.timeout):  # nothing lost: the read may be retried
                raise self._translate(exc, "reading the response") from exc
            self.close()
            raise self._translate(exc, "reading the response") from exc
        if count:
            self.received += count
            # h11 appends what it is given to its own bytearray, so a view of
            # our buffer is enough (typed as bytes, taken as any bytes-like).
            self.h11.receive_data(cast(bytes, self._view[:count]))
        else:
            self._eof = True
            self._eof_in_body = self.h11.their_state is h11.SEND_BODY
            self._eof_in_trailers = self._in_trailer_section()
            self.h11.receive_data(b"")

    def _in_trailer_section(self) -> bool:
        """h11 had read a chunked body's last chunk and was reading trailers.
        (h11 keeps this in its reader; without it, the strict error stands.)"""
        reader = getattr(self.h11, "_reader", None)
        return bool(getattr(reader, "_reading_trailer", False))

    def _protocol_error(self, exc: h11.RemoteProtocolError) -> HyperError:
        return response_error(
            exc, self.where, eof=self._eof, received=self.received, eof_in_body=self._eof_in_body
        )

    def _translate(self, exc: OSError, what: str) -> BaseException:
        return translate_os_error(exc, f"{what} ({self.where})")

    # ------------------------------------------------------------------
    # Between requests

    def next_cycle(self) -> bool:
        """After a response has ended: make the channel ready for another
        request if both sides allow it (True), else close it (False)."""
        conn = self.h11
        if self.sock.fileno() < 0:
            self.close()  # a caller closed the socket (urllib does)
            return False
        if not self.closed and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self.reused = True
            self.received = 0
            return True
        self.close()
        return False

    @property
    def is_idle(self) -> bool:
        """True when a new request may be sent."""
        return not self.closed and self.h11.our_state is h11.IDLE

    def is_stale(self) -> bool:
        """
        True when an idle keep-alive connection has input waiting: the server
        closed it (EOF, a reset, a TLS close_notify) or sent something
        unasked (a 408). Either way no request may go out on it. One poll,
        without waiting.
        """
        if self.h11.trailing_data[0]:
            return True  # bytes after the last response: never read them as the next
        return self._poller.has_input()

    def close(self) -> None:
        """Close the socket (once)."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

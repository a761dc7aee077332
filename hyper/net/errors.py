"""
What every blocking front-end needs from its socket, written once: the one
translation of ``OSError``/``ssl`` errors into hyper's exceptions, and
checking for input without waiting.

- a timeout raises :class:`hyper.common.exceptions.TimeoutError` (also the
  builtin ``TimeoutError``);
- a reset, a broken pipe or a TLS connection cut without close_notify
  raises hyper's :class:`ConnectionResetError` (also the builtin one),
  unless the caller wants every failure as a ``ConnectionError``;
- any other socket or TLS failure (refused, unreachable, DNS, certificate
  verification) raises hyper's :class:`ConnectionError`, with ``errno``
  copied from the cause.

The original error is always the new one's ``__cause__`` (the caller
raises ``from`` it). The HTTP/2 client's lost connection is
:class:`hyper.engine.exceptions.ConnectionLostError`, which is both.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
from typing import Any

from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import ConnectionResetError as HyperResetError
from hyper.common.exceptions import HyperError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.net.tls_socket import TLSSocket

__all__ = ["InputPoller", "translate_os_error"]

_RESET_ERRNOS = frozenset((errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED))


def translate_os_error(
    exc: OSError, what: str, *, resets: bool = True, hint: str = ""
) -> HyperError:
    """
    The hyper exception for ``exc``, raised while doing ``what`` (a phrase:
    ``"reading the response (example.com:443)"``). With ``resets=False`` a
    reset is a plain :class:`ConnectionError` too (while connecting, where
    "reset" and "refused" mean the same to the caller). ``hint`` ends the
    message of a :class:`ConnectionError`: what probably went wrong.
    """
    if isinstance(exc, HyperError):
        return exc
    if isinstance(exc, socket.timeout):  # TimeoutError on 3.10+, an OSError before
        return HyperTimeoutError(f"timed out {what}")
    if resets and (exc.errno in _RESET_ERRNOS or isinstance(exc, ssl.SSLEOFError)):
        reset = HyperResetError(f"the connection was reset while {what}")
        if exc.errno in _RESET_ERRNOS:
            # As the OS said it: callers retry on errno (xmlrpc.client does,
            # on ECONNRESET, ECONNABORTED and EPIPE).
            reset.errno = exc.errno
        return reset
    error = HyperConnectionError(f"{what} failed: {exc}{hint}")
    # errno only: with strerror set too, str() would drop our message.
    error.errno = exc.errno
    return error


class InputPoller:
    """Tells, without waiting, whether a socket has input (or EOF) waiting."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._poller: Any = None
        if hasattr(select, "poll"):  # not on Windows; select() fails past fd 1023
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)

    def has_input(self) -> bool:
        """Input, EOF or an error is waiting (a TLS record already decrypted too)."""
        sock = self._sock
        if isinstance(sock, TLSSocket):
            return sock.has_input()
        try:
            if self._poller is not None:
                return bool(self._poller.poll(0))
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True  # let a read meet and report the failure

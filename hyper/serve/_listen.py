"""
The listening side of ``hyper serve``: the sockets, and an accept loop that
counts a connection from the moment it is accepted.

asyncio's own server counts nothing, keeps accepting whatever happens, and
when the process is out of file descriptors logs a traceback for every
failed ``accept()`` (several hundred a second, measured on CPython 3.11).
This loop asks the site for room before each ``accept()``
(:meth:`Site.make_room <hyper.serve._site.Site.make_room>`: under the
connection cap, or an idle connection evicted) and otherwise stops
accepting until a connection closes, so clients wait in the kernel's listen
backlog instead of being reset. It also stops when accepting would leave
fewer than :data:`FD_RESERVE` descriptors for files, or ``accept()`` fails
for lack of them (then it tries again every :data:`RETRY_DELAY` seconds
too), and says so in one log line a minute at most.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import Callable

from hyper.serve._site import Site, log

if sys.platform != "win32":
    import resource

__all__ = ["FD_RESERVE", "Listener", "bind", "raise_fd_limit"]

# Descriptors kept free for what a request opens (a file while it is read,
# a directory listing, the compression worker's file): a connection holds
# none of them between two reads, so a handful is plenty.
FD_RESERVE = 8
# Seconds between attempts to accept after accept() itself ran out of
# descriptors (something else may free them; a closed connection wakes us sooner).
RETRY_DELAY = 1.0
# nginx's default listen backlog: clients wait here while we do not accept.
BACKLOG = 511
# Seconds between two log lines about not accepting (a shortage lasts).
LOG_EVERY = 60.0

_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


def raise_fd_limit() -> int | None:
    """
    Raise the soft limit on open files to the hard one, where allowed (a
    server holds one per connection); return the soft limit in force, or
    None where there is none to know (no ``resource`` module).
    """
    if sys.platform == "win32":  # pragma: no cover - no such limit
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # macOS refuses RLIM_INFINITY; keep the soft one
            pass
    return soft


def _fd_limit() -> int | None:
    if sys.platform == "win32":  # pragma: no cover
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def bind(
    host: str, port: int, *, reuse_port: bool = False, listen: bool = True
) -> list[socket.socket]:
    """
    Listening sockets for every address ``host`` resolves to, all on one
    port (with ``port`` 0, the one the first socket got).

    :param reuse_port: set ``SO_REUSEPORT`` (``SO_REUSEPORT_LB`` where there
        is one): other sockets of this user may listen on the port too, and
        the kernel spreads connections over them.
    :param listen: False: bound only (holds the port for others to listen on).
    :raises OSError: the address cannot be resolved or bound.
    """
    infos = socket.getaddrinfo(
        host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )
    socks: list[socket.socket] = []
    seen = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            if hasattr(socket, "SO_REUSEADDR") and not hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                option = getattr(socket, "SO_REUSEPORT_LB", None) or socket.SO_REUSEPORT
                sock.setsockopt(socket.SOL_SOCKET, option, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(socks) > 1:
                address = (address[0], socks[0].getsockname()[1], *address[2:])
            sock.bind(address)
            if listen:
                sock.listen(BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


class Listener:
    """
    Accepts connections on ``socks`` for ``site``, handing each to
    ``accepted(sock, address)``; counted by the site from then on.
    """

    def __init__(
        self,
        socks: list[socket.socket],
        site: Site,
        accepted: Callable[[socket.socket, object], None],
    ) -> None:
        self.socks = socks
        self.site = site
        self.accepted = accepted
        self._loop = asyncio.get_running_loop()
        self._accepting = False
        self._closed = False
        self._retry: asyncio.TimerHandle | None = None
        self._logged_at = -LOG_EVERY
        limit = _fd_limit()
        # Accept no connection whose descriptor would leave fewer than
        # FD_RESERVE free: Unix hands out the lowest free number, so a
        # connection numbered n means n descriptors are in use below it.
        self._fd_high_water = None if limit is None else limit - FD_RESERVE
        site.on_room = self.room

    def start(self) -> None:
        """Accept on every socket."""
        self._resume()

    def room(self) -> None:
        """A connection went away: accept again, if we stopped."""
        if not self._accepting and not self._closed and self._retry is None:
            self._resume()

    def close(self) -> None:
        """Stop accepting and close the listening sockets."""
        self._closed = True
        self.site.on_room = None
        self._pause()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for sock in self.socks:
            sock.close()

    def _resume(self) -> None:
        if self._accepting:
            return
        self._accepting = True
        for sock in self.socks:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _pause(self) -> None:
        if not self._accepting:
            return
        self._accepting = False
        for sock in self.socks:
            self._loop.remove_reader(sock.fileno())

    def _accept(self, sock: socket.socket) -> None:
        # Called when connections wait; take them while there is room (at
        # most a backlog's worth per call, so other work gets its turn).
        site = self.site
        for _ in range(BACKLOG):
            if not site.can_admit():
                self._pause()  # every connection is busy: resumed when one goes
                return
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                # Out of descriptors (or memory): asyncio would log this on
                # every attempt. Stop, say it once, try again in a while or
                # when a connection closes.
                self._stop_accepting(exc)
                self._retry = self._loop.call_later(RETRY_DELAY, self._retry_now)
                return
            site.make_room()
            conn.setblocking(False)
            high = self._fd_high_water
            if high is not None and conn.fileno() >= high:
                # This one is served; the next waits until a descriptor frees.
                self._stop_accepting(None, f"{conn.fileno() + 1} in use")
                self.accepted(conn, address)
                return
            self.accepted(conn, address)

    def _retry_now(self) -> None:
        self._retry = None
        if not self._closed:
            self._resume()

    def _stop_accepting(self, error: OSError | None, why: str = "") -> None:
        self._pause()
        now = self._loop.time()
        if now < self._logged_at + LOG_EVERY:
            return  # one line a minute at most, not one per attempt
        self._logged_at = now
        if error is None or error.errno in _OUT_OF_RESOURCES:
            log.warning(
                "hyper serve: not accepting connections until one closes: too few "
                "file descriptors (%s); raise the limit (ulimit -n) or lower "
                "--max-connections",
                why or error,
            )
        else:
            log.warning("hyper serve: accept() failed (%s); trying again", error)

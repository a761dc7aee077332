"""
``hyper serve --workers N``: N processes serving one port, and this one
supervising them.

Where the kernel balances connections between sockets bound with
``SO_REUSEPORT`` (Linux; FreeBSD's ``SO_REUSEPORT_LB``) each worker listens
on a socket of its own and the supervisor holds the port with a socket it
binds but never listens on (so a restarted worker gets the same port, even
one picked with ``--port 0``). Elsewhere, or with ``--no-reuse-port``, the
supervisor listens and every worker accepts on that one socket, inherited
when it is forked.

The supervisor runs no event loop and no thread: a ``select`` on a pipe the
signal handlers and the workers write to, so forking a replacement is safe
at any time. It

- starts the workers and prints the start-up line once every one listens;
- restarts a worker that exits (logging how it ended), waiting longer each
  time one dies within :data:`MIN_UPTIME` of its start (a crash loop costs
  little);
- on SIGTERM or SIGINT sends SIGTERM to every worker (each closes
  gracefully: GOAWAY, the responses in flight finish) and exits once they
  are gone, killing any still there ``shutdown_timeout`` +
  :data:`KILL_GRACE` seconds later;
- on SIGHUP forwards it (with ``--access-log`` each worker reopens the
  file; without, it is a hang-up and the workers close as on SIGTERM).

Each worker watches a pipe whose writing end only the supervisor holds: if
the supervisor dies (even by SIGKILL), the workers see its end close and
shut down gracefully instead of serving on unsupervised.
"""

from __future__ import annotations

import errno
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import NamedTuple

from hyper.serve._site import log

__all__ = ["Supervisor", "WorkerPipes", "balanced_reuse_port", "default_workers"]

# A worker that lived less than this many seconds died "at once": the next
# restart of its slot waits, twice as long each time, up to MAX_BACKOFF.
MIN_UPTIME = 1.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
# Seconds a worker has beyond the shutdown timeout to exit before SIGKILL
# (its own close cancels what is left at the timeout; this is for a hang).
KILL_GRACE = 5.0
# Seconds every worker has to start listening before the start fails.
START_TIMEOUT = 60.0


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def balanced_reuse_port() -> bool:
    """The kernel spreads connections over sockets sharing a port (Linux's
    ``SO_REUSEPORT``, FreeBSD's ``SO_REUSEPORT_LB``); on other systems a port
    shared that way goes to one socket, or is not allowed."""
    return hasattr(socket, "SO_REUSEPORT_LB") or (
        sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
    )


class WorkerPipes(NamedTuple):
    """A worker's two pipes: where it says it listens, and the supervisor's
    life (EOF: the supervisor is gone)."""

    ready: int
    alive: int


#: Runs one worker in the forked child: (inherited listening sockets or None,
#: its pipes) -> exit status.
RunWorker = Callable[["list[socket.socket] | None", WorkerPipes], int]


class _Worker:
    __slots__ = ("slot", "pid", "started", "ready")

    def __init__(self, slot: int, pid: int, started: float) -> None:
        self.slot = slot
        self.pid = pid
        self.started = started
        self.ready = False


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:  # pragma: no cover - a signal Python has no name for
            name = str(sig)
        return f"killed by {name}"
    return f"exit status {os.WEXITSTATUS(status)}"


class Supervisor:
    """
    Runs ``count`` workers and keeps them running until SIGTERM or SIGINT.

    :param count: how many workers.
    :param run_worker: what a forked worker runs (it must start listening and
        then write anything to its ``ready`` pipe; it returns its exit status).
    :param sockets: listening sockets every worker inherits, or None when
        each binds its own (SO_REUSEPORT); the supervisor keeps them open.
    :param shutdown_timeout: seconds a worker may take to close gracefully.
    :param forward_hup: SIGHUP is forwarded (workers reopen their log);
        False: a hang-up, handled as SIGTERM.
    """

    def __init__(
        self,
        count: int,
        run_worker: RunWorker,
        *,
        sockets: list[socket.socket] | None,
        shutdown_timeout: float,
        forward_hup: bool,
    ) -> None:
        self.count = count
        self.run_worker = run_worker
        self.sockets = sockets
        self.shutdown_timeout = shutdown_timeout
        self.forward_hup = forward_hup
        self.workers: dict[int, _Worker] = {}
        self._backoff = [0.0] * count
        self._restart_at: dict[int, float] = {}
        self._signals: list[int] = []
        self._stopping_since: float | None = None
        self._killing = False
        self._failed = False  # a worker could not start, or had to be killed
        self._announced = False
        self._close_after_fork: list[int] = []

    # The parent -------------------------------------------------------

    def run(self, announce: Callable[[], None]) -> int:
        """Start the workers, call ``announce()`` once all listen, supervise
        until told to stop; the exit status (0: every worker closed in time)."""
        wake_r, wake_w = os.pipe()
        ready_r, ready_w = os.pipe()
        alive_r, alive_w = os.pipe()
        for fd in (wake_r, wake_w, ready_r):
            os.set_blocking(fd, False)
        # Forked workers keep ready_w and alive_r only.
        self._close_after_fork = [wake_r, wake_w, ready_r, alive_w]
        self._pipes = WorkerPipes(ready_w, alive_r)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
        old_handlers = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        selector = selectors.DefaultSelector()
        selector_fd = getattr(selector, "fileno", lambda: -1)()
        if selector_fd >= 0:
            self._close_after_fork.append(selector_fd)
        try:
            selector.register(wake_r, selectors.EVENT_READ)
            selector.register(ready_r, selectors.EVENT_READ)
            for slot in range(self.count):
                self._spawn(slot)
            return self._loop(selector, wake_r, ready_r, announce)
        finally:
            selector.close()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            for fd in (wake_r, wake_w, ready_r, ready_w, alive_r, alive_w):
                os.close(fd)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)  # handled by the loop (the wakeup fd woke it)

    def _loop(
        self,
        selector: selectors.BaseSelector,
        wake_r: int,
        ready_r: int,
        announce: Callable[[], None],
    ) -> int:
        start_deadline = time.monotonic() + START_TIMEOUT
        while True:
            self._handle_signals()
            self._reap()
            now = time.monotonic()
            if not self._announced and self._stopping_since is None:
                if now > start_deadline:
                    log.error("hyper serve: the workers did not start within %s s", START_TIMEOUT)
                    self._failed = True
                    self._stop(now)
                elif len(self.workers) == self.count and all(
                    w.ready for w in self.workers.values()
                ):
                    self._announced = True
                    announce()
            if self._stopping_since is not None:
                if not self.workers:
                    return 1 if self._failed else 0
                if not self._killing and now > self._kill_at():
                    self._kill_all()
            else:
                for slot, when in list(self._restart_at.items()):
                    if now >= when:
                        del self._restart_at[slot]
                        self._spawn(slot)
            for key, _ in selector.select(self._timeout(now)):
                if key.fd == wake_r:
                    _drain(wake_r)
                else:
                    self._read_ready(ready_r)

    def _timeout(self, now: float) -> float | None:
        deadlines = list(self._restart_at.values())
        if self._stopping_since is not None and not self._killing:
            deadlines.append(self._kill_at())
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - now)

    def _kill_at(self) -> float:
        since = self._stopping_since
        return (0.0 if since is None else since) + self.shutdown_timeout + KILL_GRACE

    def _handle_signals(self) -> None:
        while self._signals:
            signum = self._signals.pop(0)
            if signum == signal.SIGHUP and self.forward_hup:
                self._send_all(signal.SIGHUP)
            elif signum != signal.SIGCHLD:
                self._stop(time.monotonic())

    def _stop(self, now: float) -> None:
        if self._stopping_since is None:
            self._stopping_since = now
            self._restart_at.clear()
            self._send_all(signal.SIGTERM)

    def _send_all(self, signum: int) -> None:
        for worker in self.workers.values():
            try:
                os.kill(worker.pid, signum)
            except ProcessLookupError:  # exited, not reaped yet
                pass

    def _kill_all(self) -> None:
        self._killing = self._failed = True
        for worker in self.workers.values():
            log.error(
                "hyper serve: worker %d still running %s s after SIGTERM; killing it",
                worker.pid, self.shutdown_timeout + KILL_GRACE,
            )  # fmt: skip
        self._send_all(signal.SIGKILL)

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # pragma: no cover - none left
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:  # pragma: no cover - not ours
                continue
            self._exited(worker, status)

    def _exited(self, worker: _Worker, status: int) -> None:
        if self._stopping_since is not None:
            return  # told to stop: expected
        now = time.monotonic()
        uptime = now - worker.started
        slot = worker.slot
        if uptime < MIN_UPTIME:
            delay = min(max(self._backoff[slot] * 2, FIRST_BACKOFF), MAX_BACKOFF)
        else:
            delay = 0.0
        self._backoff[slot] = delay
        if not self._announced:
            # A worker that cannot start at start (a port taken, a root it
            # cannot read): the next would fail the same way. Give up.
            log.error("hyper serve: worker %d failed to start (%s)", worker.pid, _how(status))
            self._failed = True
            self._stop(now)
            return
        when = f"in {delay:.1f} s" if delay else "now"
        log.warning(
            "hyper serve: worker %d exited (%s) after %.1f s; starting another %s",
            worker.pid, _how(status), uptime, when,
        )  # fmt: skip
        self._restart_at[slot] = now + delay

    def _read_ready(self, ready_r: int) -> None:
        try:
            data = os.read(ready_r, 4096)
        except BlockingIOError:
            return
        for line in data.split():
            worker = self.workers.get(int(line))
            if worker is not None:
                worker.ready = True

    def _spawn(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (its coverage is not collected)
            self._child()
        self.workers[pid] = _Worker(slot, pid, time.monotonic())

    # The child ----------------------------------------------------------

    def _child(self) -> None:  # pragma: no cover - runs in the forked worker
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            for fd in self._close_after_fork:
                os.close(fd)
            status = self.run_worker(self.sockets, self._pipes)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
    except OSError as exc:  # pragma: no cover
        if exc.errno != errno.EAGAIN:
            raise

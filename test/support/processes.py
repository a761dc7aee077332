"""Real server processes on 127.0.0.1: launch, readiness, stop.

:func:`launch` (used by :mod:`support.nghttpd`, :mod:`support.nginx` and
:mod:`support.h2o`) starts a server process in its own session, so that stopping it
also reaches any helper it forks (h2o starts a perl log annotator), and returns a
:class:`Server` once every port it listens on serves. A ``Server`` is a context
manager; the fixtures wrap it in a module-scoped yield fixture, so the process is
stopped even when a test or the start-up itself fails.

Invariants the tests rely on:

- Ports come from binding port 0 and closing the socket. Another process can take the
  port before the server binds it; a start that fails with EADDRINUSE is retried once
  on fresh ports (:func:`launch_with_retry`, shared with :mod:`support.tinyproxy`).
- Readiness means "every TLS port completes a handshake with a certificate from this
  session's CA, and every plaintext port accepts a TCP connect". The handshake is what
  tells our process from a stranger that grabbed the port first (a bare connect would
  succeed against either). Between attempts the start-up waits on the process itself
  (``Popen.wait`` with a short timeout), so a server that dies is noticed at once and
  nothing ever sleeps for a fixed time.

This module imports nothing from hyper at import time: the benchmark and the fixture
sanity tests (curl) must work even while the client is incomplete.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

if TYPE_CHECKING:
    from support.docroot import Docroot
    from support.pki import PKI

HOST = "127.0.0.1"

# Deadline for a server to accept connections on all its ports. nginx and nghttpd are up
# in about 10 ms here; h2o forks helpers and takes about 100 ms. 15 s leaves room for a
# loaded CI machine.
READY_TIMEOUT = 15.0
# One TCP connect attempt while polling for readiness. A refused connect on loopback
# returns at once, so this only matters if the SYN is dropped.
CONNECT_ATTEMPT_TIMEOUT = 0.25
# How long to wait on the process between two connect attempts (it returns early if the
# process exits, which is how a failed start is noticed).
POLL_INTERVAL = 0.02
# SIGTERM, then this long for a clean exit. h2o shuts down gracefully and takes about 1 s
# when a client still holds a connection open.
STOP_TIMEOUT = 5.0
# After SIGKILL: the kernel reaps a killed process promptly; this bounds a stuck wait().
KILL_TIMEOUT = 5.0
# How much of a server's log to quote when it fails to start.
_LOG_TAIL = 4000


class ServerStartError(RuntimeError):
    """A server process exited or never became ready; the message quotes its log."""


def free_ports(count: int) -> list[int]:
    """Ports that were free a moment ago: bind ``count`` sockets to port 0 at once."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_is_ours(port: int, tls: ssl.SSLContext | None) -> bool:
    """Whether ``port`` accepts a connection (and, for TLS, presents our certificate).

    The handshake is what tells our server apart from a stranger that took the port
    between :func:`free_ports` and the server's bind: only ours has a certificate from
    this session's CA. Our server then has all of its ports bound, plaintext ones too,
    since every server here binds all listeners before it accepts on any.
    """
    try:
        with socket.create_connection((HOST, port), timeout=CONNECT_ATTEMPT_TIMEOUT) as sock:
            if tls is not None:
                with tls.wrap_socket(sock, server_hostname=HOST):
                    pass
            return True
    except (OSError, ssl.SSLError):
        return False


class Server:
    """A running server process and how to reach it.

    ``port`` is the main HTTP/2-over-TLS port; servers with more listeners expose them as
    extra attributes (``ports`` maps a role name to a port).
    """

    def __init__(
        self,
        name: str,
        proc: subprocess.Popen[bytes],
        ports: dict[str, int],
        pki: PKI,
        docroot: Docroot,
        workdir: Path,
        log_path: Path,
    ) -> None:
        self.name = name
        self.proc = proc
        self.host = HOST
        self.ports = ports
        self.port = ports["tls"]
        self.pki = pki
        self.ca_path = str(pki.ca_path)
        self.docroot = docroot
        self.workdir = workdir
        self.log_path = log_path

    def __repr__(self) -> str:
        return f"<Server {self.name} pid={self.proc.pid} ports={self.ports}>"

    @property
    def authority(self) -> str:
        """``host:port`` of the main TLS port, as ``HTTP20Connection`` takes it."""
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/", port: int | None = None, scheme: str = "https") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return f"{scheme}://{self.host}:{port or self.port}{path}"

    def ssl_context(self) -> ssl.SSLContext:
        """hyper's client context trusting this session's CA (ALPN h2, http/1.1)."""
        from hyper.tls import init_context

        return init_context(cert_path=self.ca_path)

    def stdlib_ssl_context(self) -> ssl.SSLContext:
        """A plain ``ssl`` client context trusting the CA (for httpx and raw sockets)."""
        ctx = ssl.create_default_context(cafile=self.ca_path)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        return ctx

    def log_tail(self, limit: int = _LOG_TAIL) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError as e:
            return f"<no log: {e}>"
        return data[-limit:].decode("utf-8", "replace")

    def is_running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group, wait, SIGKILL if needed. Safe to call twice."""
        stop_process(self.proc)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The group id is the leader's pid (start_new_session=True). Signal only while the
    # leader is unreaped: its pid cannot have been reused, so this reaches our processes
    # and nobody else's.
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``proc``'s process group, wait, SIGKILL if needed. Safe to call twice."""
    if proc.poll() is not None:
        return
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
        return
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc, signal.SIGKILL)
    proc.wait(timeout=KILL_TIMEOUT)


def _address_in_use(log: str) -> bool:
    return "Address already in use" in log or os.strerror(errno.EADDRINUSE) in log


def launch(
    name: str,
    build: Callable[[dict[str, int]], list[str]],
    roles: Sequence[str],
    pki: PKI,
    docroot: Docroot,
    workdir: Path,
    plain_roles: Sequence[str] = (),
) -> Server:
    """Start ``build(ports)`` and wait until every port serves; retry once on EADDRINUSE.

    ``build`` gets fresh ports for ``roles`` and returns the argv (writing any config file
    it needs into ``workdir``).
    """
    workdir.mkdir(parents=True, exist_ok=True)

    def launch(attempt: int) -> Server:
        ports = dict(zip(roles, free_ports(len(roles))))
        argv = build(ports)
        log_path = workdir / f"{name}-{attempt}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(workdir),
                start_new_session=True,
            )
        return Server(name, proc, ports, pki, docroot, workdir, log_path)

    def wait_ready(server: Server) -> None:
        _wait_ready(server, plain_roles)

    return launch_with_retry(launch, wait_ready, ServerStartError)


_Started = TypeVar("_Started", bound="_Stoppable")


class _Stoppable(Protocol):
    def stop(self) -> None: ...

    def log_tail(self) -> str: ...


def launch_with_retry(
    launch: Callable[[int], _Started],
    wait_ready: Callable[[_Started], None],
    start_error: type[Exception],
) -> _Started:
    """``launch(attempt)`` a process, then ``wait_ready`` for it; stop it on any failure.

    When the first attempt fails with ``start_error`` because its port was taken between
    choosing it and binding it (EADDRINUSE in the log), try once more on fresh ports.
    """
    for attempt in range(2):
        started = launch(attempt)
        try:
            wait_ready(started)
            return started
        except start_error:
            started.stop()
            if attempt == 0 and _address_in_use(started.log_tail()):
                continue
            raise
        except BaseException:
            started.stop()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _wait_ready(server: Server, plain_roles: Sequence[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    verify = ssl.create_default_context(cafile=server.ca_path)
    verify.set_alpn_protocols(["h2", "http/1.1"])
    # TLS ports first: once one of them shows our certificate, the plaintext ones are ours.
    pending = [
        (role, port, None if role in plain_roles else verify)
        for role, port in server.ports.items()
    ]
    pending.sort(key=lambda item: item[2] is None)
    while pending:
        if not server.is_running():
            raise ServerStartError(
                f"{server.name} exited with status {server.proc.returncode} before "
                f"serving on {[p[1] for p in pending]}; log:\n{server.log_tail()}"
            )
        _, port, tls = pending[0]
        if _port_is_ours(port, tls):
            pending.pop(0)
            continue
        if time.monotonic() >= deadline:
            raise ServerStartError(
                f"{server.name} not serving on port(s) {[p[1] for p in pending]} after "
                f"READY_TIMEOUT={READY_TIMEOUT}s; log:\n{server.log_tail()}"
            )
        try:
            # Waiting on the process is the pause between attempts: it returns early (and
            # the loop reports the exit) if the server dies while starting.
            server.proc.wait(timeout=POLL_INTERVAL)
        except subprocess.TimeoutExpired:
            pass


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServerStartError(f"{name!r} is not on PATH (installed by .ci/run)")
    return path


def work_dir(tmp_path_factory: Any, name: str) -> Path:
    """A fresh directory for one server's config, logs and temp files."""
    return Path(tmp_path_factory.mktemp(name))


def standalone_workdir(prefix: str) -> Path:
    """A temporary directory outside pytest (for the benchmark); the caller removes it."""
    return Path(tempfile.mkdtemp(prefix=prefix))

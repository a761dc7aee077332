"""tinyproxy, started by the proxy tests, in the way :mod:`support.servers` starts servers.

:func:`start_tinyproxy` writes a configuration into a fresh directory, starts
``tinyproxy -d -c CONF`` (foreground) on a free port of 127.0.0.1 in its own
session, and returns a :class:`Proxy` once it answers. A ``Proxy`` is a context
manager; the test modules wrap it in a yield fixture so that it is always stopped.

Invariants the tests rely on:

- Only 127.0.0.1 may use the proxy (``Allow``), and CONNECT reaches only the ports
  listed (``ConnectPort``): a CONNECT to any other port is refused with 403.
- With ``basic_auth=(user, password)`` every request needs ``Proxy-Authorization``;
  without it tinyproxy answers 407.
- Readiness means "a request to the port is answered by a tinyproxy" (its ``Server``
  header), so a stranger that took the port first is never mistaken for ours. Between
  attempts the start-up waits on the process itself, so a proxy that dies is noticed
  at once and nothing sleeps for a fixed time.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from support.processes import (
    HOST,
    POLL_INTERVAL,
    READY_TIMEOUT,
    binary,
    free_ports,
    launch_with_retry,
    stop_process,
)

# One connect-and-ask attempt while polling for readiness.
ATTEMPT_TIMEOUT = 1.0
# How long tinyproxy keeps an idle connection (its ``Timeout``): longer than any test.
IDLE_TIMEOUT = 60
_LOG_TAIL = 4000

_CONF = """\
Port {port}
Listen {host}
Timeout {idle}
Allow {host}
LogFile "{workdir}/tinyproxy.log"
LogLevel Info
MaxClients 64
DisableViaHeader Yes
{connect_ports}
{auth}
"""


class ProxyStartError(RuntimeError):
    """tinyproxy exited or never answered; the message quotes its log."""


class Proxy:
    """A running tinyproxy and how to reach it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        port: int,
        workdir: Path,
        basic_auth: tuple[str, str] | None,
    ) -> None:
        self.proc = proc
        self.host = HOST
        self.port = port
        self.workdir = workdir
        self.basic_auth = basic_auth

    def __repr__(self) -> str:
        return f"<Proxy tinyproxy pid={self.proc.pid} port={self.port}>"

    @property
    def authority(self) -> str:
        """``host:port``, as ``proxy_host`` takes it."""
        return f"{self.host}:{self.port}"

    def authority_with(self, user: str, password: str) -> str:
        """``user:password@host:port``."""
        return f"{user}:{password}@{self.host}:{self.port}"

    def log(self) -> str:
        """What tinyproxy logged so far (requests appear as ``Request ...: LINE``)."""
        path = self.workdir / "tinyproxy.log"
        try:
            return path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self) -> str:
        out = b""
        for name in ("tinyproxy.log", "stdout.log"):
            try:
                out += (self.workdir / name).read_bytes()[-_LOG_TAIL:]
            except OSError:
                pass
        return out.decode("utf-8", "replace")

    def is_running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group, wait, SIGKILL if needed. Safe to call twice."""
        stop_process(self.proc)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _answers_as_tinyproxy(port: int) -> bool:
    """Whether a request to ``port`` gets an answer from a tinyproxy."""
    try:
        with socket.create_connection((HOST, port), timeout=ATTEMPT_TIMEOUT) as sock:
            # Not absolute-form: tinyproxy answers 400 at once without dialling anyone.
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            return b"tinyproxy" in answer.lower()
    except OSError:
        return False


def start_tinyproxy(
    workdir: Path,
    *,
    connect_ports: Sequence[int],
    basic_auth: tuple[str, str] | None = None,
) -> Proxy:
    """Start tinyproxy allowing CONNECT to ``connect_ports``, optionally with BasicAuth.

    Retries once on fresh ports when the port was taken before tinyproxy bound it.
    """
    exe = binary("tinyproxy")
    workdir.mkdir(parents=True, exist_ok=True)

    def launch(attempt: int) -> Proxy:
        (port,) = free_ports(1)
        conf = _CONF.format(
            port=port,
            host=HOST,
            idle=IDLE_TIMEOUT,
            workdir=workdir,
            connect_ports="\n".join(f"ConnectPort {p}" for p in connect_ports),
            auth=f"BasicAuth {basic_auth[0]} {basic_auth[1]}" if basic_auth else "",
        )
        conf_path = workdir / "tinyproxy.conf"
        conf_path.write_text(conf)
        with open(workdir / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                [exe, "-d", "-c", str(conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(workdir),
                start_new_session=True,
            )
        return Proxy(proc, port, workdir, basic_auth)

    return launch_with_retry(launch, _wait_ready, ProxyStartError)


def _wait_ready(proxy: Proxy) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not _answers_as_tinyproxy(proxy.port):
        if not proxy.is_running():
            raise ProxyStartError(
                f"tinyproxy exited with status {proxy.proc.returncode}; log:\n{proxy.log_tail()}"
            )
        if time.monotonic() >= deadline:
            raise ProxyStartError(
                f"tinyproxy not answering on {proxy.port} after READY_TIMEOUT="
                f"{READY_TIMEOUT}s; log:\n{proxy.log_tail()}"
            )
        try:
            # The pause between attempts is a wait on the process (returns if it exits).
            proxy.proc.wait(timeout=POLL_INTERVAL)
        except subprocess.TimeoutExpired:
            pass

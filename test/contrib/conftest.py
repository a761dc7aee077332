"""Fixtures for the requests adapter's tests (test/contrib/).

``app_server`` is httpbin (PyPI) served by hypercorn over TLS (ALPN h2 and
http/1.1), with a certificate from the session's trustme CA, on a free port
of 127.0.0.1: the application server for redirects, cookies, auth, JSON and
echo. It is started like the servers of :mod:`support.servers` (its own session, a
log file, ready once a TLS handshake with our CA succeeds, one retry on
fresh ports when the port was taken). Missing httpbin or hypercorn skips the
tests, or fails them when ``HYPER_REQUIRE_SERVERS`` is set.

``proxy`` and ``auth_proxy`` are tinyproxy (see :mod:`support.tinyproxy`)
allowing CONNECT to the servers the tests use; ``auth_proxy.basic_auth`` is
its ``(user, password)``.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import processes, servers
from support.tinyproxy import Proxy, start_tinyproxy

PROXY_USER = "hyper"
PROXY_PASSWORD = "s3cret"


class AppServer:
    """A running hypercorn serving httpbin."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, ca_path: str, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.ca_path = ca_path
        self.log = log

    def url(self, path: str = "/") -> str:
        return f"https://{servers.HOST}:{self.port}{path}"

    def log_tail(self) -> str:
        try:
            return self.log.read_bytes()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        servers.stop_process(self.proc)


class AppServerStartError(RuntimeError):
    """hypercorn exited or never answered; the message quotes its log."""


def _servers_required() -> bool:
    return os.environ.get("HYPER_REQUIRE_SERVERS", "") not in ("", "0")


def _require_module(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        message = f"the {name!r} package is not installed (pip install -e '.[test]')"
        if _servers_required():
            pytest.fail(f"{message}; HYPER_REQUIRE_SERVERS is set", pytrace=False)
        pytest.skip(message)


def _handshakes(port: int, context: ssl.SSLContext) -> bool:
    try:
        sock = socket.create_connection((servers.HOST, port), timeout=1.0)
        with sock, context.wrap_socket(sock, server_hostname=servers.HOST):
            return True
    except OSError:
        return False


def start_app_server(pki: servers.PKI, workdir: Path) -> AppServer:
    workdir.mkdir(parents=True, exist_ok=True)

    def launch(attempt: int) -> AppServer:
        (port,) = servers.free_ports(1)
        log = workdir / f"hypercorn-{attempt}.log"
        argv = [
            sys.executable,
            "-m",
            "hypercorn",
            "--bind",
            f"{servers.HOST}:{port}",
            "--certfile",
            str(pki.cert_path),
            "--keyfile",
            str(pki.key_path),
            "--error-logfile",
            str(log),
            "httpbin:app",
        ]
        with open(workdir / f"stdout-{attempt}.log", "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(workdir),
                start_new_session=True,
            )
        return AppServer(proc, port, str(pki.ca_path), log)

    def wait_ready(server: AppServer) -> None:
        context = ssl.create_default_context(cafile=server.ca_path)
        deadline = time.monotonic() + processes.READY_TIMEOUT
        while not _handshakes(server.port, context):
            if server.proc.poll() is not None:
                raise AppServerStartError(
                    f"hypercorn exited with {server.proc.returncode}:\n{server.log_tail()}"
                )
            if time.monotonic() >= deadline:
                raise AppServerStartError(f"hypercorn not serving:\n{server.log_tail()}")
            try:
                server.proc.wait(timeout=processes.POLL_INTERVAL)
            except subprocess.TimeoutExpired:
                pass

    return processes.launch_with_retry(launch, wait_ready, AppServerStartError)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    _require_module("httpbin")
    _require_module("hypercorn")
    pki = servers.session_pki(tmp_path_factory)
    server = start_app_server(pki, Path(tmp_path_factory.mktemp("hypercorn")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxied_ports(nginx, h2o) -> list[int]:
    return [nginx.port, nginx.ports["h1"], h2o.port, h2o.ports["plain"]]


def _tinyproxy(require_binary, tmp_path_factory, ports, auth) -> Proxy:
    require_binary("tinyproxy")
    workdir = Path(tmp_path_factory.mktemp("tinyproxy"))
    return start_tinyproxy(workdir, connect_ports=ports, basic_auth=auth)


@pytest.fixture(scope="module")
def proxy(require_binary, tmp_path_factory, proxied_ports) -> Iterator[Proxy]:
    with _tinyproxy(require_binary, tmp_path_factory, proxied_ports, None) as p:
        yield p


@pytest.fixture(scope="module")
def auth_proxy(require_binary, tmp_path_factory, proxied_ports) -> Iterator[Proxy]:
    auth = (PROXY_USER, PROXY_PASSWORD)
    with _tinyproxy(require_binary, tmp_path_factory, proxied_ports, auth) as p:
        yield p


@pytest.fixture(scope="module")
def peer_ca_path(ca, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The scripted peers' CA (conftest's ``ca``) as a file, for ``verify=``."""
    path = tmp_path_factory.mktemp("peer-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)

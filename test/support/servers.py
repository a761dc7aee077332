"""Real HTTP/2 servers (nghttpd, nginx, h2o) for the interop tests and the benchmark.

Each ``start_*`` function launches one server process on 127.0.0.1 and returns a
:class:`Server` once every port it listens on accepts connections. The process runs in
its own session so that stopping it also reaches any helper it forks (h2o starts a perl
log annotator). A ``Server`` is a context manager; the test modules wrap it in a
module-scoped yield fixture, so the process is stopped even when a test or the start-up
itself fails.

Invariants the tests rely on:

- Ports come from binding port 0 and closing the socket. Another process can take the
  port before the server binds it; a start that fails with EADDRINUSE is retried once
  on fresh ports.
- Readiness means "every TLS port completes a handshake with a certificate from this
  session's CA, and every plaintext port accepts a TCP connect". The handshake is what
  tells our process from a stranger that grabbed the port first (a bare connect would
  succeed against either). Between attempts the start-up waits on the process itself
  (``Popen.wait`` with a short timeout), so a server that dies is noticed at once and
  nothing ever sleeps for a fixed time.
- One trustme CA per test session (:func:`session_pki`); the server certificate is
  issued for ``127.0.0.1`` and ``localhost``, so hostname verification stays on.
- One docroot per session (:func:`session_docroot`). Large files are written only when a
  test asks for them (:meth:`Docroot.ensure`); every file's SHA-256 is recorded as it is
  written so that tests check content without reading the file twice.

This module imports nothing from hyper at import time: the benchmark and the fixture
sanity tests (curl) must work even while the client is incomplete.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import trustme

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

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: Files the docroot makes on demand (name -> size); random bytes, so a reordered or
#: truncated body cannot pass a checksum.
LAZY_FILES = {
    "64m.bin": 64 * MiB,
    "256m.bin": 256 * MiB,
    "1g.bin": 1 * GiB,
}

SMALL_BODY = b"hello from hyper's test docroot\n"
STYLE_CSS = b"body { font-family: sans-serif; }\n"
TRAILER_NAME = "x-hyper-trailer"
TRAILER_VALUE = "end-of-body"


class ServerStartError(RuntimeError):
    """A server process exited or never became ready; the message quotes its log."""


# ---------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------


class PKI:
    """A trustme CA and one server certificate for 127.0.0.1/localhost, written as PEMs."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "server-chain.pem"
        self.key_path = directory / "server-key.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self.server_cert.private_key_pem.write_to_path(str(self.key_path))
        # Leaf first, then the CA: every server here wants the full chain in one file.
        with open(self.cert_path, "wb") as f:
            for pem in self.server_cert.cert_chain_pems:
                f.write(pem.bytes())


_session_lock = threading.Lock()
_session_pki: PKI | None = None
_session_docroot: Docroot | None = None


def session_pki(tmp_path_factory: Any) -> PKI:
    """The CA shared by every server in this pytest session (created on first use)."""
    global _session_pki
    with _session_lock:
        if _session_pki is None:
            _session_pki = PKI(tmp_path_factory.mktemp("pki"))
        return _session_pki


def session_docroot(tmp_path_factory: Any) -> Docroot:
    """The docroot shared by every server in this pytest session (created on first use)."""
    global _session_docroot
    with _session_lock:
        if _session_docroot is None:
            _session_docroot = Docroot(tmp_path_factory.mktemp("docroot"))
        return _session_docroot


# ---------------------------------------------------------------------------------------
# Docroot
# ---------------------------------------------------------------------------------------


def _text_body() -> bytes:
    # Compressible, but not a single repeated line, so a decoder that drops or repeats a
    # block produces a different checksum.
    lines = [f"line {i:05d}: the quick brown fox jumps over the lazy dog\n" for i in range(2000)]
    return "".join(lines).encode()


def _index_html() -> bytes:
    items = "".join(f"<li>item {i}</li>\n" for i in range(100))
    return (
        b"<!DOCTYPE html>\n<html><head><title>hyper interop</title>"
        b'<link rel="stylesheet" href="/style.css"></head>\n<body><ul>\n'
        + items.encode()
        + b"</ul></body></html>\n"
    )


class Docroot:
    """Files every server serves: small ones at once, large ones on demand.

    ``small.txt``, ``1k.bin``, ``1m.bin``, ``index.html``, ``style.css`` and ``text.txt``
    (with a gzip-precompressed ``text.txt.gz`` beside it for nginx ``gzip_static`` and h2o
    ``file.send-compressed``) exist from the start; :data:`LAZY_FILES` are written by
    :meth:`ensure`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()
        self._write("small.txt", SMALL_BODY)
        self._write("1k.bin", os.urandom(1 * KiB))
        self._write("1m.bin", os.urandom(1 * MiB))
        self._write("index.html", _index_html())
        self._write("style.css", STYLE_CSS)
        text = _text_body()
        self._write("text.txt", text)
        self._write("text.txt.gz", gzip.compress(text, compresslevel=9, mtime=0))

    def _write(self, name: str, data: bytes) -> None:
        (self.path / name).write_bytes(data)
        self._digests[name] = hashlib.sha256(data).hexdigest()

    def ensure(self, name: str) -> Path:
        """Create ``name`` (one of :data:`LAZY_FILES`) unless it exists; return its path.

        Written in 1 MiB chunks so the test process's own memory does not grow by the
        file size before a memory measurement starts.
        """
        with self._lock:
            path = self.path / name
            if name in self._digests:
                return path
            size = LAZY_FILES[name]
            digest = hashlib.sha256()
            partial = path.with_suffix(".partial")
            with open(partial, "wb") as f:
                for _ in range(size // MiB):
                    chunk = os.urandom(MiB)
                    digest.update(chunk)
                    f.write(chunk)
            # The rename makes the file appear complete or not at all to the servers.
            partial.rename(path)
            self._digests[name] = digest.hexdigest()
            return path

    def remove(self, name: str) -> None:
        """Delete a lazily created file (the 1 GiB one is not worth keeping on disk)."""
        with self._lock:
            self._digests.pop(name, None)
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def sha256(self, name: str) -> str:
        """The hex SHA-256 of a file in the docroot (creating a lazy one if needed)."""
        if name not in self._digests:
            self.ensure(name)
        return self._digests[name]

    def size(self, name: str) -> int:
        return (self.path / name).stat().st_size


# ---------------------------------------------------------------------------------------
# Process handling
# ---------------------------------------------------------------------------------------


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


def _launch(
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


# ---------------------------------------------------------------------------------------
# nghttpd
# ---------------------------------------------------------------------------------------


def start_nghttpd(
    pki: PKI,
    docroot: Docroot,
    workdir: Path,
    *,
    push: Sequence[str] = ("/=/style.css",),
    trailers: Sequence[str] = (f"{TRAILER_NAME}: {TRAILER_VALUE}",),
    echo_upload: bool = True,
    extra_args: Sequence[str] = (),
) -> Server:
    """nghttpd over TLS (ALPN h2) serving ``docroot``.

    Defaults: ``-p/=/style.css`` (GET / pushes /style.css), ``--trailer`` adds
    :data:`TRAILER_NAME` to every response with a body, and ``--echo-upload`` answers
    POST and PUT with the request body.
    """
    exe = binary("nghttpd")

    def build(ports: dict[str, int]) -> list[str]:
        argv = [exe, "-a", HOST, "-d", str(docroot.path)]
        argv += [f"--push={spec}" for spec in push]
        argv += [f"--trailer={t}" for t in trailers]
        if echo_upload:
            argv.append("--echo-upload")
        argv += list(extra_args)
        argv += [str(ports["tls"]), str(pki.key_path), str(pki.cert_path)]
        return argv

    return _launch("nghttpd", build, ["tls"], pki, docroot, workdir)


# ---------------------------------------------------------------------------------------
# nginx
# ---------------------------------------------------------------------------------------

#: Requests per connection on nginx's ``goaway`` port: the 50th response is followed by
#: GOAWAY, so a client making more requests must reconnect.
NGINX_KEEPALIVE_REQUESTS = 50


def nginx_version() -> tuple[int, ...]:
    out = subprocess.run(
        [binary("nginx"), "-v"], capture_output=True, text=True, timeout=STOP_TIMEOUT
    )
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    if match is None:
        raise ServerStartError(f"cannot parse `nginx -v`: {out.stderr!r}")
    return tuple(int(part) for part in match.groups())


def nginx_goaway_log(server: Server) -> list[tuple[int, int, int, str]]:
    """(connection serial, request number on it, status, uri) per request so far on the
    ``goaway`` port of an nginx from :func:`start_nginx`."""
    path = server.workdir / "goaway-access.log"
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        conn, n, status, uri = line.split(" ", 3)
        entries.append((int(conn), int(n), int(status), uri))
    return entries


# nginx writes a request's log line just after the response's last bytes leave, so a
# client can be a moment ahead of the log. A log that lags longer than this is a failure.
LOG_TIMEOUT = 5.0


def wait_for_nginx_goaway_log(
    server: Server, start: int, count: int
) -> list[tuple[int, int, int, str]]:
    """The goaway port's log entries from index ``start``, once there are ``count`` of
    them (:data:`LOG_TIMEOUT`); fewer after the deadline is returned as is, for the
    caller's assertion to report."""
    deadline = time.monotonic() + LOG_TIMEOUT
    while True:
        entries = nginx_goaway_log(server)[start:]
        if len(entries) >= count or time.monotonic() >= deadline:
            return entries
        try:
            # The pause between reads is a wait on nginx itself, as in _wait_ready.
            server.proc.wait(timeout=POLL_INTERVAL)
        except subprocess.TimeoutExpired:
            pass
        else:
            return nginx_goaway_log(server)[start:]


_NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp/body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    types {{
        text/html html;
        text/plain txt;
        text/css css;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    gzip on;
    gzip_types text/plain text/css;
    gzip_min_length 256;
    gzip_static on;
    # The default (1000) would end a long benchmark run's connection.
    keepalive_requests 100000;

    server {{
        {listen_main}
        root {docroot};
        location /dav/ {{
            # Uploads land in the work dir (same file system as the body temp path, so
            # nginx can rename instead of copy) and can be read back with GET.
            root {workdir};
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
        }}
        location = /post {{
            client_max_body_size 0;
            return 200 "posted\\n";
        }}
    }}
    log_format connections '$connection $connection_requests $status $request_uri';
    server {{
        {listen_goaway}
        keepalive_requests {keepalive_requests};
        root {docroot};
        # One line per request with nginx's connection serial number, so a test can
        # count the connections a client really made.
        access_log {workdir}/goaway-access.log connections;
    }}
    server {{
        # HTTP/1.1 only: ALPN offers http/1.1 and nothing else.
        listen {host}:{h1_port} ssl;
        root {docroot};
    }}
}}
"""


def start_nginx(pki: PKI, docroot: Docroot, workdir: Path) -> Server:
    """nginx in the foreground with three TLS listeners.

    ``ports["tls"]`` (``port``): HTTP/2, gzip (on the fly for text/html, text/css and
    precompressed ``text.txt.gz`` through ``gzip_static``), ``/dav/`` accepting PUT (read
    back with GET), ``/post`` accepting any POST body. ``ports["goaway"]``: HTTP/2 with
    ``keepalive_requests`` :data:`NGINX_KEEPALIVE_REQUESTS`, logging each request's
    connection (:func:`nginx_goaway_log`). ``ports["h1"]``: HTTP/1.1 only.
    """
    exe = binary("nginx")
    version = nginx_version()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    (workdir / "dav").mkdir(parents=True, exist_ok=True)

    def listen_h2(port: int) -> str:
        # `http2 on;` replaced the listen parameter in 1.25.1.
        if version >= (1, 25, 1):
            return f"listen {HOST}:{port} ssl; http2 on;"
        return f"listen {HOST}:{port} ssl http2;"

    def build(ports: dict[str, int]) -> list[str]:
        conf = _NGINX_CONF.format(
            workdir=workdir,
            cert=pki.cert_path,
            key=pki.key_path,
            docroot=docroot.path,
            host=HOST,
            listen_main=listen_h2(ports["tls"]),
            listen_goaway=listen_h2(ports["goaway"]),
            keepalive_requests=NGINX_KEEPALIVE_REQUESTS,
            h1_port=ports["h1"],
        )
        conf_path = workdir / "nginx.conf"
        conf_path.write_text(conf)
        argv = [exe, "-p", str(workdir), "-c", str(conf_path)]
        if version >= (1, 19, 5):
            # Without -e nginx opens its compiled-in error log (/var/log/nginx) before it
            # reads the config, which fails for a non-root user.
            argv[1:1] = ["-e", str(workdir / "error.log")]
        return argv

    return _launch("nginx", build, ["tls", "goaway", "h1"], pki, docroot, workdir)


# ---------------------------------------------------------------------------------------
# h2o
# ---------------------------------------------------------------------------------------

# Reads the request body in 1 MiB pieces and answers with its length: an upload sink that
# keeps up with any client here (h2load pushes 64 MiB through it in about 150 ms).
_H2O_UPLOAD_SINK = """\
        mruby.handler: |
          Proc.new do |env|
            n = 0
            input = env["rack.input"]
            if input
              while chunk = input.read(1048576)
                n += chunk.bytesize
              end
            end
            [200, {"content-type" => "text/plain"}, [n.to_s + "\\n"]]
          end
"""

_H2O_CONF = """\
pid-file: {workdir}/h2o.pid
error-log: {workdir}/error.log
{user}num-threads: {threads}
limit-request-body: 4294967296
listen:
  host: {host}
  port: {tls_port}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    # No OCSP fetcher: the trustme certificate has no responder to ask.
    ocsp-update-interval: 0
listen:
  host: {host}
  port: {plain_port}
hosts:
  default:
    access-log: /dev/null
    paths:
      /upload:
{upload_sink}
      /:
        file.dir: {docroot}
        file.send-compressed: ON
        compress: ON
"""


def start_h2o(pki: PKI, docroot: Docroot, workdir: Path, *, threads: int = 1) -> Server:
    """h2o with a TLS listener (``port``, HTTP/2 via ALPN) and a cleartext one.

    ``ports["plain"]`` speaks HTTP/1.1, h2c with prior knowledge and ``Upgrade: h2c``.
    Both serve ``docroot`` with ``compress: ON`` (gzip and br on the fly) and
    ``file.send-compressed`` (``text.txt.gz``); ``/upload`` (mruby) accepts POST or PUT
    bodies of any size and answers with their length in bytes.
    """
    exe = binary("h2o")
    user = ""
    if os.geteuid() == 0:
        # Started as root, h2o switches to "nobody", which cannot read pytest's 0700
        # temporary directories. Staying the current user is what a non-root run does.
        user = f"user: {pwd.getpwuid(os.geteuid()).pw_name}\n"

    def build(ports: dict[str, int]) -> list[str]:
        conf = _H2O_CONF.format(
            workdir=workdir,
            user=user,
            threads=threads,
            host=HOST,
            tls_port=ports["tls"],
            plain_port=ports["plain"],
            cert=pki.cert_path,
            key=pki.key_path,
            docroot=docroot.path,
            upload_sink=_H2O_UPLOAD_SINK,
        )
        conf_path = workdir / "h2o.conf"
        conf_path.write_text(conf)
        return [exe, "-c", str(conf_path)]

    return _launch("h2o", build, ["tls", "plain"], pki, docroot, workdir, plain_roles=["plain"])


# ---------------------------------------------------------------------------------------
# Test helpers
# ---------------------------------------------------------------------------------------


def curl_get(
    server: Server,
    path: str,
    *,
    port: int | None = None,
    http: str = "--http2",
    scheme: str = "https",
    timeout: float = 10.0,
) -> tuple[str, bytes]:
    """Fetch ``path`` with the curl command line; return (negotiated version, body).

    Proves a fixture works independently of hyper.
    """
    out = subprocess.run(
        [
            binary("curl"),
            "--silent",
            "--show-error",
            "--fail",
            http,
            "--cacert",
            server.ca_path,
            "--max-time",
            str(timeout),
            "--write-out",
            "\n%{http_version}",
            server.url(path, port=port, scheme=scheme),
        ],
        capture_output=True,
        timeout=timeout + STOP_TIMEOUT,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"curl exited {out.returncode}: {out.stderr.decode()}")
    body, _, version = out.stdout.rpartition(b"\n")
    return version.decode(), body


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A listening socket that never accepts: TCP connects, TLS never answers.

    The kernel completes the handshake from the backlog, so a client gets as far as
    sending its ClientHello and then waits forever for the reply.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        sock.listen(16)
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


class PeakRSS:
    """Measure how far this process's peak RSS rises inside a ``with`` block.

    On Linux the kernel's high-water mark is reset at the start (``/proc/self/clear_refs``),
    so ``growth`` is exactly ``VmHWM`` at the end minus ``VmRSS`` at the start, whatever
    earlier tests did. Elsewhere it falls back to ``ru_maxrss``, which only sees growth
    beyond the process's previous peak (so it can under-report, never over-report).
    """

    def __init__(self) -> None:
        self.start = 0
        self.peak = 0
        self._precise = False

    def __enter__(self) -> PeakRSS:
        self._precise = _reset_peak_rss()
        if self._precise:
            self.start = (_status_kib("VmRSS") or 0) * KiB
        else:
            self.start = _ru_maxrss_bytes()
        self.peak = self.start
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._precise:
            self.peak = (_status_kib("VmHWM") or 0) * KiB
        else:
            self.peak = _ru_maxrss_bytes()

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.start)


def _ru_maxrss_bytes() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # kilobytes on Linux, bytes on macOS
    return usage if sys.platform == "darwin" else usage * KiB


def sha256_of_stream(read: Callable[[int], bytes], chunk_size: int = 256 * KiB) -> tuple[str, int]:
    """Drain ``read(chunk_size)`` until it returns b''; return (hex SHA-256, byte count)."""
    digest = hashlib.sha256()
    total = 0
    while True:
        chunk = read(chunk_size)
        if not chunk:
            return digest.hexdigest(), total
        digest.update(chunk)
        total += len(chunk)


def file_chunks(path: Path, chunk_size: int = 256 * KiB) -> Iterator[bytes]:
    """An iterable body: the file's bytes in ``chunk_size`` pieces, read lazily."""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(chunk_size)
            if not chunk:
                return
            yield chunk


def work_dir(tmp_path_factory: Any, name: str) -> Path:
    """A fresh directory for one server's config, logs and temp files."""
    return Path(tmp_path_factory.mktemp(name))


def serve(
    require_binary: Callable[[str], str],
    tmp_path_factory: Any,
    name: str,
    start: Callable[[PKI, Docroot, Path], Server],
) -> Iterator[Server]:
    """Run the session's ``name`` server (``start`` is ``start_nginx`` and the like) for
    as long as the generator is suspended: the body of a module-scoped fixture.

    Skips (or fails in CI) when ``name`` is not installed.
    """
    require_binary(name)
    pki = session_pki(tmp_path_factory)
    docroot = session_docroot(tmp_path_factory)
    with start(pki, docroot, work_dir(tmp_path_factory, name)) as server:
        yield server


def connect(connection_class: Any, server: Server, port: int | None = None, **kwargs: Any) -> Any:
    """A ``connection_class`` connection over TLS to ``server`` (its main port by
    default), trusting the session's CA."""
    return connection_class(
        f"{server.host}:{port or server.port}",
        secure=True,
        ssl_context=server.ssl_context(),
        **kwargs,
    )


def get(conn: Any, path: str, **kwargs: Any) -> Any:
    """GET ``path`` on an ``HTTP20Connection`` and return its response."""
    stream_id = conn.request("GET", path, **kwargs)
    return conn.getresponse(stream_id)


def standalone_workdir(prefix: str) -> Path:
    """A temporary directory outside pytest (for the benchmark); the caller removes it."""
    return Path(tempfile.mkdtemp(prefix=prefix))


# A thread that cannot reach the starting line within this long has hung; the barrier
# breaks and every worker fails instead of waiting forever.
BARRIER_TIMEOUT = 20.0
# Bound on one worker thread of run_concurrent_gets (each pytest test has its own
# overall timeout on top).
THREAD_JOIN_TIMEOUT = 50.0


def run_concurrent_gets(
    conn: Any, docroot: Docroot, names: Sequence[str], *, total: int, threads: int
) -> dict[int, bool]:
    """GET ``total`` files on one connection from ``threads`` threads at once.

    Each thread issues all of its requests before reading any response, so up to
    ``total`` streams are open together. Returns {stream id: body matched the file}.
    Raises the first exception any thread hit.
    """
    barrier = threading.Barrier(threads, timeout=BARRIER_TIMEOUT)
    lock = threading.Lock()
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            mine = [names[i % len(names)] for i in range(index, total, threads)]
            barrier.wait()
            issued = [(name, conn.request("GET", "/" + name)) for name in mine]
            for name, stream_id in issued:
                resp = conn.getresponse(stream_id)
                body = resp.read()
                ok = resp.status == 200 and hashlib.sha256(body).hexdigest() == docroot.sha256(
                    name
                )
                with lock:
                    results[stream_id] = ok
        except BaseException as e:
            with lock:
                errors.append(e)
            barrier.abort()

    workers = [
        threading.Thread(target=worker, args=(i,), name=f"gets-{i}") for i in range(threads)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=THREAD_JOIN_TIMEOUT)
    hung = [t.name for t in workers if t.is_alive()]
    if hung:
        raise AssertionError(f"threads still running after {THREAD_JOIN_TIMEOUT}s: {hung}")
    if errors:
        # A broken barrier is the echo of another thread's failure; report the cause.
        real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
        raise (real or errors)[0]
    return results


def assert_download_memory_flat(conn: Any, docroot: Docroot, name: str, limit: int) -> None:
    """GET a lazily created file, hash it while reading, and bound peak RSS growth."""
    docroot.ensure(name)
    expected = docroot.sha256(name)
    with PeakRSS() as rss:
        stream_id = conn.request("GET", "/" + name)
        resp = conn.getresponse(stream_id)
        digest, size = sha256_of_stream(resp.read)
    assert size == LAZY_FILES[name]
    assert digest == expected
    assert rss.growth < limit, (
        f"peak RSS grew by {rss.growth / MiB:.1f} MiB while downloading {name} "
        f"(limit {limit / MiB:.0f} MiB)"
    )

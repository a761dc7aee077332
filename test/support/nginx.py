"""nginx: HTTP/2 with gzip and WebDAV PUT, a port that sends GOAWAY after N requests, and an
HTTP/1.1-only TLS port.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from support.docroot import Docroot
from support.pki import PKI
from support.processes import (
    HOST,
    POLL_INTERVAL,
    STOP_TIMEOUT,
    Server,
    ServerStartError,
    binary,
    launch,
)

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


def nginx_access_log(server: Server, role: str = "goaway") -> list[tuple[int, int, int, str]]:
    """(connection serial, request number on it, status, uri) per request so far on the
    ``goaway`` (or ``h1``) port of an nginx from :func:`start_nginx`."""
    path = server.workdir / f"{role}-access.log"
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


def wait_for_nginx_access_log(
    server: Server, start: int, count: int, role: str = "goaway"
) -> list[tuple[int, int, int, str]]:
    """The ``role`` port's log entries from index ``start``, once there are ``count`` of
    them (:data:`LOG_TIMEOUT`); fewer after the deadline is returned as is, for the
    caller's assertion to report."""
    deadline = time.monotonic() + LOG_TIMEOUT
    while True:
        entries = nginx_access_log(server, role)[start:]
        if len(entries) >= count or time.monotonic() >= deadline:
            return entries
        try:
            # The pause between reads is a wait on nginx itself, as in processes._wait_ready.
            server.proc.wait(timeout=POLL_INTERVAL)
        except subprocess.TimeoutExpired:
            pass
        else:
            return nginx_access_log(server, role)[start:]


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
        access_log {workdir}/h1-access.log connections;
    }}
}}
"""


def start_nginx(pki: PKI, docroot: Docroot, workdir: Path) -> Server:
    """nginx in the foreground with three TLS listeners.

    ``ports["tls"]`` (``port``): HTTP/2, gzip (on the fly for text/html, text/css and
    precompressed ``text.txt.gz`` through ``gzip_static``), ``/dav/`` accepting PUT (read
    back with GET), ``/post`` accepting any POST body. ``ports["goaway"]``: HTTP/2 with
    ``keepalive_requests`` :data:`NGINX_KEEPALIVE_REQUESTS`, logging each request's
    connection (:func:`nginx_access_log`). ``ports["h1"]``: HTTP/1.1 only, logging the
    same way.
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

    return launch("nginx", build, ["tls", "goaway", "h1"], pki, docroot, workdir)

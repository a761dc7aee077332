"""
``hyper serve`` behind a load balancer, as docs/serve.rst configures it:
nginx terminating TLS and HTTP/2 for clients, two hyper serve instances
behind it over kept-alive HTTP/1.1 (nginx's proxy has no HTTP/2 upstream).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serve_support import STYLE, TEXT, Served, big_bytes, start_serve, wait_until
from support import servers
from support.nginx import nginx_version
from support.processes import HOST, launch

from hyper import HTTP20Connection
from hyper.tls import init_context

# The documented configuration, with the test's ports and files.
_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp/body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    upstream hyper_serve {{
        least_conn;
        server {host}:{first};
        server {host}:{second};
        keepalive 32;
    }}
    server {{
        {listen}
        ssl_certificate     {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://hyper_serve;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@pytest.fixture
def balanced(
    docs: Path,
    tmp_path: Path,
    pki: servers.PKI,
    require_binary: Callable[[str], str],
) -> Iterator[tuple[servers.Server, list[Served]]]:
    nginx = require_binary("nginx")
    backends = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        backends.append(start_serve(docs, tmp_path / name, "-v"))
    workdir = tmp_path / "nginx"
    (workdir / "tmp").mkdir(parents=True)

    def build(ports: dict[str, int]) -> list[str]:
        if nginx_version() >= (1, 25, 1):
            listen = f"listen {HOST}:{ports['tls']} ssl; http2 on;"
        else:
            listen = f"listen {HOST}:{ports['tls']} ssl http2;"
        conf = _CONF.format(
            workdir=workdir, host=HOST, first=backends[0].port, second=backends[1].port,
            listen=listen, cert=pki.cert_path, key=pki.key_path,
        )  # fmt: skip
        (workdir / "nginx.conf").write_text(conf)
        return [nginx, "-e", str(workdir / "error.log"), "-p", str(workdir),
                "-c", str(workdir / "nginx.conf")]  # fmt: skip

    # (What launch records; this nginx serves no file of its own.)
    docroot = servers.Docroot(tmp_path / "unused")
    try:
        with launch("nginx", build, ["tls"], pki, docroot, workdir) as front:
            yield front, backends
    finally:
        for backend in backends:
            assert backend.stop() == 0, backend.stderr()
            assert "Traceback" not in backend.stderr()


class TestBehindNginx:
    def test_every_instance_answers_through_nginx(
        self, balanced: tuple[servers.Server, list[Served]], docs: Path, pki: servers.PKI
    ) -> None:
        """HTTP/2 and TLS to nginx, HTTP/1.1 to the instances: whole files,
        ranges, 304s, each instance serving some of them."""
        front, backends = balanced
        context = init_context(cert_path=str(pki.ca_path))
        with HTTP20Connection(f"{HOST}:{front.port}", secure=True, ssl_context=context) as conn:
            for _ in range(10):
                conn.request("GET", "/style.css")
                response = conn.getresponse()
                assert response.status == 200 and response.read() == STYLE
            etag = response.headers["etag"][0].decode()
            conn.request("GET", "/style.css", headers={"if-none-match": etag})
            assert conn.getresponse().status == 304
            conn.request("GET", "/text.txt", headers={"range": "bytes=5-14"})
            partial = conn.getresponse()
            assert partial.status == 206 and partial.read() == TEXT[5:15]
            conn.request("GET", "/big.bin")
            assert conn.getresponse().read() == big_bytes(docs)

        def both_answered() -> bool:
            return all('"GET /style.css" 200' in b.stderr() for b in backends)

        wait_until("both instances in the access logs", both_answered)
        for backend in backends:
            assert " http/1.1 " in backend.stderr()


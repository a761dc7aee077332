"""HTTP2Adapter under a real requests.Session, against real servers.

httpbin (served by hypercorn over TLS) answers what needs an application:
redirects, cookies, auth, JSON, echo. nginx, h2o and nghttpd answer the
rest: large streamed downloads and uploads, HTTP/1.1 fallback, h2c, push.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.auth import HTTPDigestAuth
from support import servers
from support.processes import free_ports

from hyper.contrib import HTTP2Adapter, HTTP20Adapter
from hyper.http20.window import FlowControlManager

pytestmark = pytest.mark.interop


@pytest.fixture
def metrics() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def session(metrics) -> Iterator[requests.Session]:
    adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
    with requests.Session() as s:
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        yield s


class TestHttpbin:
    """The session's own machinery (redirects, cookies, auth, hooks) on top of the adapter."""

    def test_get_json_over_http2(self, session, app_server) -> None:
        r = session.get(app_server.url("/get"), params={"q": "héllo"}, verify=app_server.ca_path)
        assert r.status_code == 200
        assert r.reason == "OK"  # HTTP/2 has none; the standard phrase stands in
        assert r.json()["args"] == {"q": "héllo"}
        assert r.raw.version == 20
        assert isinstance(r.raw.stream_id, int) and r.raw.stream_id % 2 == 1
        assert r.url == app_server.url("/get?q=h%C3%A9llo")
        assert r.elapsed.total_seconds() > 0

    def test_post_json_is_echoed(self, session, app_server) -> None:
        payload = {"a": [1, 2, 3], "b": "ü"}
        r = session.post(app_server.url("/post"), json=payload, verify=app_server.ca_path)
        assert r.status_code == 200
        echoed = r.json()
        assert echoed["json"] == payload
        assert echoed["headers"]["Content-Type"] == "application/json"

    def test_form_post_and_put(self, session, app_server) -> None:
        r = session.post(app_server.url("/post"), data={"k": "v"}, verify=app_server.ca_path)
        assert r.json()["form"] == {"k": "v"}
        r = session.put(app_server.url("/put"), data=b"raw bytes", verify=app_server.ca_path)
        assert r.json()["data"] == "raw bytes"

    def test_headers_are_case_insensitive_str(self, session, app_server) -> None:
        r = session.get(
            app_server.url("/get"), headers={"X-Custom": "1"}, verify=app_server.ca_path
        )
        assert r.headers["Content-Type"] == r.headers["content-type"] == "application/json"
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in r.headers.items())
        assert r.json()["headers"]["X-Custom"] == "1"

    def test_redirects_are_followed_with_history(self, session, app_server) -> None:
        r = session.get(app_server.url("/redirect/3"), verify=app_server.ca_path)
        assert r.status_code == 200
        assert r.url == app_server.url("/get")
        assert [h.status_code for h in r.history] == [302, 302, 302]
        assert all(h.raw.version == 20 for h in r.history)

    def test_redirect_307_keeps_the_method_and_body(self, session, app_server) -> None:
        r = session.post(
            app_server.url("/redirect-to"),
            params={"url": "/post", "status_code": 307},
            data=b"again",
            verify=app_server.ca_path,
        )
        assert r.status_code == 200
        assert r.json()["data"] == "again"
        assert [h.status_code for h in r.history] == [307]

    def test_redirect_not_followed_when_asked(self, session, app_server) -> None:
        r = session.get(
            app_server.url("/redirect/1"), allow_redirects=False, verify=app_server.ca_path
        )
        assert r.status_code == 302
        assert r.is_redirect
        assert r.next is not None

    def test_cookies_go_into_the_session_jar(self, session, app_server) -> None:
        r = session.get(app_server.url("/cookies/set?a=1&b=2"), verify=app_server.ca_path)
        assert session.cookies.get("a") == "1" and session.cookies.get("b") == "2"
        assert r.json()["cookies"] == {"a": "1", "b": "2"}  # sent back after the redirect
        r = session.get(app_server.url("/cookies"), verify=app_server.ca_path)
        assert r.json()["cookies"] == {"a": "1", "b": "2"}

    def test_every_set_cookie_header_is_extracted(self, session, app_server) -> None:
        r = session.get(
            app_server.url("/response-headers"),
            params=[("Set-Cookie", "x=1; Path=/"), ("Set-Cookie", "y=2; Path=/")],
            verify=app_server.ca_path,
        )
        assert r.cookies.get("x") == "1" and r.cookies.get("y") == "2"
        assert session.cookies.get("x") == "1" and session.cookies.get("y") == "2"
        # Repeated fields are joined as requests joins them.
        assert r.headers["set-cookie"] == "x=1; Path=/, y=2; Path=/"

    def test_basic_auth(self, session, app_server) -> None:
        url = app_server.url("/basic-auth/user/pw")
        r = session.get(url, auth=("user", "pw"), verify=app_server.ca_path)
        assert r.json() == {"authenticated": True, "user": "user"}
        assert r.request.headers["Authorization"].startswith("Basic ")
        # (httpbin's refusals are aborts, which hypercorn's WSGI wrapper answers
        # with a 500 whatever the client: the refusal is left to digest auth.)

    def test_digest_auth_resends_through_the_adapter(self, session, app_server) -> None:
        r = session.get(
            app_server.url("/digest-auth/auth/user/pw"),
            auth=HTTPDigestAuth("user", "pw"),
            verify=app_server.ca_path,
        )
        assert r.status_code == 200
        assert r.json() == {"authenticated": True, "user": "user"}
        assert [h.status_code for h in r.history] == [401]

    def test_status_codes_and_raise_for_status(self, session, app_server) -> None:
        r = session.get(app_server.url("/status/418"), verify=app_server.ca_path)
        assert r.status_code == 418
        with pytest.raises(requests.HTTPError, match="418"):
            r.raise_for_status()

    def test_hooks_run(self, session, app_server) -> None:
        seen = []
        session.get(
            app_server.url("/get"),
            hooks={"response": lambda r, **kw: seen.append(r.status_code)},
            verify=app_server.ca_path,
        )
        assert seen == [200]

    def test_iter_lines_streams(self, session, app_server) -> None:
        r = session.get(app_server.url("/stream/20"), stream=True, verify=app_server.ca_path)
        lines = [json.loads(line) for line in r.iter_lines() if line]
        assert [line["id"] for line in lines] == list(range(20))
        assert r.raw.closed

    def test_raw_read_keeps_the_encoding_unless_asked(self, session, app_server) -> None:
        r = session.get(app_server.url("/gzip"), stream=True, verify=app_server.ca_path)
        raw = r.raw.read()
        assert raw[:2] == b"\x1f\x8b"
        assert json.loads(gzip.decompress(raw))["gzipped"] is True
        r = session.get(app_server.url("/gzip"), stream=True, verify=app_server.ca_path)
        assert json.loads(r.raw.read(decode_content=True))["gzipped"] is True

    def test_content_is_decoded(self, session, app_server) -> None:
        for path, key in (("/gzip", "gzipped"), ("/deflate", "deflated")):
            assert session.get(app_server.url(path), verify=app_server.ca_path).json()[key]

    def test_metrics_for_each_request(self, session, app_server, metrics) -> None:
        session.get(app_server.url("/get"), verify=app_server.ca_path)
        session.post(app_server.url("/post"), data=b"12345", verify=app_server.ca_path)
        first, second = metrics[-2:]
        assert first["method"] == "GET" and second["method"] == "POST"
        assert first["url"] == app_server.url("/get")
        assert first["status"] == second["status"] == 200
        assert first["protocol"] == "HTTP/2"
        assert isinstance(first["duration"], float) and first["duration"] > 0
        assert isinstance(first["stream_id"], int)
        assert second["bytes_sent"] == 5
        assert first["bytes_received"] > 0
        assert second["connection_reused"] is True
        assert first["error"] is None


class TestRealServers:
    def test_streamed_download_is_not_buffered(self, session, nginx) -> None:
        r = session.get(nginx.url("/1m.bin"), stream=True, verify=nginx.ca_path)
        digest = hashlib.sha256()
        sizes = []
        for chunk in r.iter_content(16384):
            sizes.append(len(chunk))
            digest.update(chunk)
        assert digest.hexdigest() == nginx.docroot.sha256("1m.bin")
        assert max(sizes) <= 16384 and sum(sizes) == 1024 * 1024

    def test_raw_read_in_pieces(self, session, h2o) -> None:
        r = session.get(h2o.url("/1m.bin"), stream=True, verify=h2o.ca_path)
        digest, size = servers.sha256_of_stream(r.raw.read, 100_000)
        assert (digest, size) == (h2o.docroot.sha256("1m.bin"), 1024 * 1024)

    def test_upload_from_a_generator(self, session, h2o, metrics) -> None:
        chunks = [bytes([i]) * 100_000 for i in range(30)]
        r = session.post(h2o.url("/upload"), data=iter(chunks), verify=h2o.ca_path)
        assert r.status_code == 200 and r.text.strip() == "3000000"
        assert metrics[-1]["bytes_sent"] == 3_000_000

    def test_upload_from_a_file(self, session, h2o, tmp_path) -> None:
        path = tmp_path / "up.bin"
        path.write_bytes(b"z" * 2_500_000)
        with open(path, "rb") as f:
            r = session.put(h2o.url("/upload"), data=f, verify=h2o.ca_path)
        assert r.text.strip() == "2500000"

    def test_upload_from_a_generator_over_http11_is_chunked(self, session, h2o) -> None:
        url = f"http://{h2o.host}:{h2o.ports['plain']}/upload"
        r = session.post(url, data=(b"x" * 1000 for _ in range(100)))
        assert r.status_code == 200 and r.text.strip() == "100000"
        assert r.raw.version == 11  # a request with a body never asks for h2c
        assert r.request.headers["Transfer-Encoding"] == "chunked"

    def test_http11_fallback_by_alpn(self, session, nginx, metrics) -> None:
        url = f"https://{nginx.host}:{nginx.ports['h1']}/small.txt"
        first = session.get(url, verify=nginx.ca_path)
        second = session.get(url, verify=nginx.ca_path)
        assert first.content == second.content == servers.SMALL_BODY
        assert first.raw.version == second.raw.version == 11
        assert first.raw.stream_id is None
        assert [m["protocol"] for m in metrics[-2:]] == ["HTTP/1.1", "HTTP/1.1"]
        assert [m["connection_reused"] for m in metrics[-2:]] == [False, True]

    def test_plain_http_upgrades_to_h2c(self, session, h2o, metrics) -> None:
        url = f"http://{h2o.host}:{h2o.ports['plain']}/small.txt"
        responses = [session.get(url) for _ in range(3)]
        assert [r.content for r in responses] == [servers.SMALL_BODY] * 3
        assert [r.raw.version for r in responses] == [20, 20, 20]
        assert responses[0].raw.stream_id == 1  # the answer to the upgrade request
        assert [m["connection_reused"] for m in metrics[-3:]] == [False, True, True]

    def test_gzip_from_nginx(self, session, nginx) -> None:
        r = session.get(nginx.url("/text.txt"), verify=nginx.ca_path)
        assert r.headers["content-encoding"] == "gzip"
        assert hashlib.sha256(r.content).hexdigest() == nginx.docroot.sha256("text.txt")

    def test_server_push_is_on_raw_pushes(self, nghttpd) -> None:
        with requests.Session() as s:
            s.mount("https://", HTTP2Adapter(enable_push=True))
            r = s.get(nghttpd.url("/"), verify=nghttpd.ca_path)
            assert r.status_code == 200
            pushes = r.raw.pushes
            assert [p.path for p in pushes] == [b"/style.css"]
            assert pushes[0].getresponse().read() == servers.STYLE_CSS

    def test_historic_http20adapter_takes_a_window_manager(self, h2o) -> None:
        adapter = HTTP20Adapter(window_manager=FlowControlManager, pool_maxsize=2)
        assert isinstance(adapter, HTTP2Adapter)
        with requests.Session() as s:
            s.mount("https://", adapter)
            r = s.get(h2o.url("/1m.bin"), verify=h2o.ca_path)
            assert hashlib.sha256(r.content).hexdigest() == h2o.docroot.sha256("1m.bin")
            assert r.raw.version == 20


class TestHistoricMembers:
    """Historic hyper's documented adapter members: ``get_connection`` and
    ``connections``, on both adapter classes."""

    @pytest.mark.parametrize("adapter_class", [HTTP2Adapter, HTTP20Adapter])
    def test_get_connection_makes_the_connection_without_connecting(
        self, adapter_class
    ) -> None:
        """Nothing listens on the port: a connection attempt would fail."""
        (port,) = free_ports(1)
        adapter = adapter_class()
        first = adapter.get_connection("127.0.0.1", port, "http")
        assert adapter.get_connection("127.0.0.1", port, "http") is first
        other = adapter.get_connection("127.0.0.1", None, "https")
        assert other is not first
        assert sorted(map(id, adapter.connections.values())) == sorted([id(first), id(other)])
        adapter.close()
        assert adapter.connections == {}

    def test_a_request_goes_on_the_connection_get_connection_gave(self, h2o) -> None:
        adapter = HTTP20Adapter()
        conn = adapter.get_connection(h2o.host, h2o.port, "https", verify=h2o.ca_path)
        with requests.Session() as s:
            s.mount("https://", adapter)
            r = s.get(h2o.url("/small.txt"), verify=h2o.ca_path)
            assert r.content == servers.SMALL_BODY
            assert adapter.get_connection(
                h2o.host, h2o.port, "https", verify=h2o.ca_path
            ) is conn
            assert list(adapter.connections.values()) == [conn]
            assert conn.version.name == "http20"  # connected by the request, over h2
        assert adapter.connections == {}  # the Session closed its adapter

    def test_get_connection_refuses_what_send_would(self) -> None:
        adapter = HTTP2Adapter()
        with pytest.raises(requests.exceptions.InvalidSchema):
            adapter.get_connection("example.com", 21, "ftp")
        with pytest.raises(requests.exceptions.InvalidURL):
            adapter.get_connection("", 80, "http")

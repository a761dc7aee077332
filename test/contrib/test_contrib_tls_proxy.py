"""HTTP2Adapter: TLS settings, proxies (tinyproxy), and failures to connect."""

from __future__ import annotations

import errno
import ssl
import subprocess
import sys
from typing import Any

import pytest
import requests
from support import servers
from support.listener import refused_port, silent_listener
from support.peer import Peer, PeerConnection, Request, serving

import hyper.tls
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import ProxyError as HyperProxyError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.contrib import HTTP2Adapter


@pytest.fixture
def metrics() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def session(metrics):
    adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
    with requests.Session() as s:
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        yield s


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__
    return chain


@pytest.mark.interop
class TestVerify:
    def test_unknown_ca_is_ssl_error(self, session, h2o) -> None:
        with pytest.raises(requests.exceptions.SSLError) as info:
            session.get(h2o.url("/small.txt"))  # certifi does not know the trustme CA
        cause = info.value.__cause__
        assert isinstance(cause, HyperConnectionError)
        assert any(isinstance(e, ssl.SSLCertVerificationError) for e in _cause_chain(info.value))

    def test_ca_bundle_from_requests_ca_bundle(self, session, h2o, monkeypatch) -> None:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", h2o.ca_path)
        r = session.get(h2o.url("/small.txt"))
        assert r.content == servers.SMALL_BODY

    def test_verify_false_accepts_any_certificate(self, session, h2o) -> None:
        assert session.get(h2o.url("/small.txt"), verify=False).content == servers.SMALL_BODY

    def test_missing_ca_bundle_is_an_oserror(self, session, h2o, tmp_path) -> None:
        missing = str(tmp_path / "nowhere.pem")
        with pytest.raises(OSError) as info:
            session.get(h2o.url("/small.txt"), verify=missing)
        # requests' own adapter's words.
        assert str(info.value) == (
            f"Could not find a suitable TLS CA certificate bundle, invalid path: {missing}"
        )

    @pytest.mark.parametrize("which", ["certificate", "key"])
    def test_a_missing_client_certificate_or_key_is_an_oserror(
        self, session, h2o, tmp_path, which: str
    ) -> None:
        missing = str(tmp_path / "nowhere.pem")
        cert = missing if which == "certificate" else (h2o.ca_path, missing)
        with pytest.raises(OSError) as info:
            session.get(h2o.url("/small.txt"), cert=cert)
        assert str(info.value) == f"Could not find the TLS {which} file, invalid path: {missing}"

    @pytest.mark.parametrize(
        ("timeout", "words"),
        [("foo", "must be an int, float or None"), (0, "less than or equal to 0")],
    )
    def test_a_bad_timeout_is_a_value_error_in_urllib3s_words(
        self, session, h2o, timeout: object, words: str
    ) -> None:
        with pytest.raises(ValueError, match=words):
            session.get(h2o.url("/small.txt"), timeout=timeout)

    def test_connections_are_never_shared_across_tls_settings(self, session, h2o, metrics) -> None:
        url = h2o.url("/small.txt")
        for verify in (h2o.ca_path, False, h2o.ca_path, False):
            assert session.get(url, verify=verify).ok
        assert [m["connection_reused"] for m in metrics] == [False, False, True, True]


class TestHyperDefaultContext:
    def test_verify_true_uses_an_assigned_hyper_tls_context(
        self, monkeypatch, server_tls, client_tls, metrics
    ) -> None:
        """requests' default ``verify=True`` means hyper's default context, so
        the historic ``hyper.tls._context`` (here trusting the peer's CA,
        which certifi does not know) decides, as for every connection."""
        monkeypatch.setattr(hyper.tls, "_context", client_tls)
        # requests would turn these into verify=<bundle> (see TestVerify).
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)

        def handler(conn: PeerConnection, request: Request) -> None:
            conn.respond(request.stream_id, body=b"trusted")

        adapter = HTTP2Adapter(metrics_callback=lambda **kw: metrics.append(kw))
        with Peer(serving(handler), tls=server_tls()) as peer, requests.Session() as s:
            s.mount("https://", adapter)
            url = f"https://127.0.0.1:{peer.port}/"
            responses = [s.get(url, timeout=5) for _ in range(2)]
        assert [r.content for r in responses] == [b"trusted"] * 2
        assert [r.raw.version for r in responses] == [20, 20]
        assert [m["connection_reused"] for m in metrics] == [False, True]


class TestClientCertificate:
    def test_cert_is_presented(self, ca, peer_ca_path, tmp_path) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        client = ca.issue_cert("client@example.org")
        cert_path, key_path = tmp_path / "client.pem", tmp_path / "client.key"
        client.cert_chain_pems[0].write_to_path(str(cert_path))
        client.private_key_pem.write_to_path(str(key_path))
        subjects: list[Any] = []

        def handler(conn: PeerConnection, request: Request) -> None:
            subjects.append(conn.sock.getpeercert()["subjectAltName"])  # type: ignore[attr-defined]
            conn.respond(request.stream_id, body=b"hello client")

        with Peer(serving(handler), tls=context) as peer, requests.Session() as s:
            s.mount("https://", HTTP2Adapter())
            r = s.get(
                f"https://127.0.0.1:{peer.port}/",
                verify=peer_ca_path,
                cert=(str(cert_path), str(key_path)),
            )
        assert r.content == b"hello client"
        assert subjects == [(("email", "client@example.org"),)]


@pytest.mark.interop
class TestProxies:
    def test_https_through_a_connect_tunnel_speaks_h2(self, session, proxy, nginx) -> None:
        r = session.get(
            nginx.url("/small.txt"),
            proxies={"https": f"http://{proxy.authority}"},
            verify=nginx.ca_path,
        )
        assert r.content == servers.SMALL_BODY
        assert r.raw.version == 20
        assert f"CONNECT 127.0.0.1:{nginx.port}" in proxy.log()

    def test_tunnel_credentials_from_the_proxy_url(self, session, auth_proxy, h2o) -> None:
        user, password = auth_proxy.basic_auth
        proxy_url = f"http://{user}:{password}@{auth_proxy.authority}"
        r = session.get(h2o.url("/small.txt"), proxies={"https": proxy_url}, verify=h2o.ca_path)
        assert r.content == servers.SMALL_BODY

    def test_tunnel_without_credentials_is_proxy_error(self, session, auth_proxy, h2o) -> None:
        with pytest.raises(requests.exceptions.ProxyError) as info:
            session.get(
                h2o.url("/small.txt"),
                proxies={"https": f"http://{auth_proxy.authority}"},
                verify=h2o.ca_path,
            )
        cause = info.value.__cause__
        assert isinstance(cause, HyperProxyError)
        assert cause.response.status == 407

    def test_http_goes_through_the_proxy_in_absolute_form(self, session, proxy, h2o) -> None:
        url = f"http://127.0.0.1:{h2o.ports['plain']}/small.txt"
        r = session.get(url, proxies={"http": f"http://{proxy.authority}"})
        assert r.content == servers.SMALL_BODY
        assert r.raw.version == 11  # no h2c through a proxy: Upgrade is hop-by-hop
        assert f"GET {url} HTTP/1.1" in proxy.log()

    def test_no_proxy_is_honoured(self, session, h2o, monkeypatch) -> None:
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        url = h2o.url("/small.txt")
        with refused_port() as dead:
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead}")
            with pytest.raises(requests.exceptions.ProxyError):
                session.get(url, verify=h2o.ca_path)  # the proxy is down
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            assert session.get(url, verify=h2o.ca_path).ok  # not asked at all

    def test_only_http_proxies(self, session, h2o) -> None:
        with pytest.raises(requests.exceptions.InvalidProxyURL):
            session.get(h2o.url("/"), proxies={"https": "socks5://127.0.0.1:1"}, verify=False)


class TestConnectFailures:
    def test_refused_port_is_connection_error(self, session) -> None:
        with refused_port() as port, pytest.raises(requests.ConnectionError) as info:
            session.get(f"https://127.0.0.1:{port}/")
        assert not isinstance(info.value, requests.exceptions.Timeout)
        cause = info.value.__cause__
        assert isinstance(cause, HyperConnectionError)
        assert cause.errno == errno.ECONNREFUSED

    def test_silent_port_is_connect_timeout(self, session) -> None:
        timed_out = pytest.raises(requests.exceptions.ConnectTimeout)
        with silent_listener() as port, timed_out as info:
            session.get(f"https://127.0.0.1:{port}/", timeout=(0.3, 5))
        assert isinstance(info.value, requests.ConnectionError)
        assert isinstance(info.value.__cause__, HyperTimeoutError)

    def test_certificate_for_another_name_is_ssl_error(self, session, ca, peer_ca_path) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("example.org").configure_cert(context)  # trusted CA, wrong name
        refused = pytest.raises(requests.exceptions.SSLError)
        with Peer(serving(lambda conn, request: None), tls=context) as peer, refused as info:
            session.get(f"https://127.0.0.1:{peer.port}/", verify=peer_ca_path, timeout=5)
        assert any(isinstance(e, ssl.SSLCertVerificationError) for e in _cause_chain(info.value))
        assert len(peer.tls_errors) == 1


def test_import_without_requests_names_the_extra() -> None:
    """hyper.contrib itself imports (hyper.contrib.httpx lives there); the
    adapter's names say what to install."""
    code = (
        "import sys; sys.modules['requests'] = None\n"
        "import hyper.contrib\n"
        "try:\n"
        "    from hyper.contrib import HTTP2Adapter\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "pip install 'hyper[requests]'" in out.stdout

"""Tests for hyper.tls against a real TLS server on 127.0.0.1 (trustme certs)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from support.listener import Conn, Listener
from support.timeouts import TIMEOUT

from hyper import tls
from hyper.common.exceptions import MissingCertFile
from hyper.tls import init_context, wrap_socket

_HOST = "localhost"
_REPLY = b"ok"


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def client_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("client.hyper.test")


class _OneShotTLSServer(Listener):
    """Accepts one connection on 127.0.0.1, completes the TLS handshake,
    records what was negotiated, and replies ``_REPLY``. A failed handshake
    (the client may fail on purpose) is recorded in ``error``."""

    tolerate_tls_errors = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__([self._answer], tls=context)
        self.alpn: str | None = None
        self.sni: str | None = None
        self.peer_cert: dict[str, object] | None = None
        self._late_error: OSError | None = None
        context.sni_callback = self._record_sni

    def _record_sni(self, sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        self.sni = name

    def _answer(self, conn: Conn) -> None:
        tls_sock = conn.sock
        assert isinstance(tls_sock, ssl.SSLSocket)
        self.alpn = tls_sock.selected_alpn_protocol()
        self.peer_cert = tls_sock.getpeercert()
        try:
            conn.send(_REPLY)
        except OSError as exc:  # TLS 1.3: the client may refuse us after the handshake
            self._late_error = exc

    @property
    def error(self) -> BaseException | None:
        return self.tls_errors[0] if self.tls_errors else self._late_error

    def join(self) -> None:
        """Wait until the one connection has been served (or its handshake failed)."""
        self.wait_finished(0)


def _server_context(
    ca: trustme.CA,
    alpn: list[str] | None = None,
    client_ca: trustme.CA | None = None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(_HOST, "127.0.0.1").configure_cert(context)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(context)
    return context


@pytest.fixture
def serve() -> Iterator[list[_OneShotTLSServer]]:
    """Servers started by a test are stopped when it ends, pass or fail."""
    servers: list[_OneShotTLSServer] = []
    yield servers
    for server in servers:
        server.stop()


def _start(servers: list[_OneShotTLSServer], context: ssl.SSLContext) -> _OneShotTLSServer:
    server = _OneShotTLSServer(context)
    servers.append(server)
    server.start()
    return server


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def _read_reply(sock: ssl.SSLSocket) -> bytes:
    # One recv is not one message; loop until the whole reply is in.
    data = b""
    while len(data) < len(_REPLY):
        chunk = sock.recv(len(_REPLY) - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _handshake(
    server: _OneShotTLSServer,
    context: ssl.SSLContext,
    hostname: str = _HOST,
    force_proto: str | None = None,
) -> str:
    """Connect, handshake, read the reply; return the reported protocol."""
    tls_sock, proto = wrap_socket(_connect(server.port), hostname, context, force_proto)
    with tls_sock:
        assert _read_reply(tls_sock) == _REPLY
    server.join()
    return proto


class TestInitContext:
    def test_verifies_certificates_and_host_names(self) -> None:
        context = init_context()
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert context.protocol == ssl.PROTOCOL_TLS_CLIENT

    def test_minimum_version_is_tls_1_2(self) -> None:
        assert init_context().minimum_version == ssl.TLSVersion.TLSv1_2

    def test_compression_and_renegotiation_are_off(self) -> None:
        options = init_context().options
        assert options & ssl.OP_NO_COMPRESSION
        if hasattr(ssl, "OP_NO_RENEGOTIATION"):
            assert options & ssl.OP_NO_RENEGOTIATION

    def test_no_post_handshake_auth(self) -> None:
        """RFC 9113 9.2.3: a post-handshake CertificateRequest is forbidden."""
        assert init_context().post_handshake_auth is False

    def test_default_trusts_certifi_and_system_store(self) -> None:
        import certifi

        certifi_only = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        certifi_only.load_verify_locations(cafile=certifi.where())
        count = init_context().cert_store_stats()["x509_ca"]
        assert count >= certifi_only.cert_store_stats()["x509_ca"] > 0

    def test_cert_path_replaces_the_defaults(self, ca_file: str) -> None:
        assert init_context(cert_path=ca_file).cert_store_stats()["x509_ca"] == 1

    def test_cert_path_may_be_a_directory(self, tmp_path: Path) -> None:
        init_context(cert_path=str(tmp_path))

    def test_missing_cert_path_is_missing_cert_file(self, tmp_path: Path) -> None:
        with pytest.raises(MissingCertFile):
            init_context(cert_path=str(tmp_path / "nope.pem"))

    def test_missing_client_cert_is_missing_cert_file(self, tmp_path: Path) -> None:
        with pytest.raises(MissingCertFile):
            init_context(cert=str(tmp_path / "nope.pem"))
        with pytest.raises(MissingCertFile):
            init_context(cert=(str(tmp_path / "a.pem"), str(tmp_path / "b.pem")))

    def test_encrypted_client_key_needs_its_password(
        self, client_cert: trustme.LeafCert, tmp_path: Path
    ) -> None:
        certfile, keyfile = _encrypted_client_files(client_cert, tmp_path, b"s3cret")
        init_context(cert=(certfile, keyfile), cert_password=b"s3cret")
        init_context(cert=(certfile, keyfile), cert_password=lambda: "s3cret")
        with pytest.raises(ssl.SSLError):
            init_context(cert=(certfile, keyfile), cert_password=b"wrong")

    def test_historic_constants(self) -> None:
        assert tls.H2_NPN_PROTOCOLS == ["h2"]
        assert tls.SUPPORTED_NPN_PROTOCOLS == ["h2", "http/1.1"]


def _encrypted_client_files(
    leaf: trustme.LeafCert, tmp_path: Path, password: bytes
) -> tuple[str, str]:
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    certfile = tmp_path / "client-cert.pem"
    keyfile = tmp_path / "client-key.pem"
    certfile.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    keyfile.write_bytes(encrypted)
    return str(certfile), str(keyfile)


# The variants of hyper's default context in use: HTTPConnection and
# HTTP20Connection, HTTP11Connection, the asyncio client.
_VARIANTS = [["h2", "http/1.1"], ["http/1.1"], ["h2"]]


@pytest.fixture
def fresh_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """hyper.tls as before any connection: nothing built, nothing assigned
    (what was there is put back after the test)."""
    monkeypatch.setattr(tls, "_context", None)
    monkeypatch.setattr(tls, "_variants", {})


class TestDefaultContext:
    def test_built_once_and_cached(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(tls, "_context", None)
        first = tls.default_context()
        assert tls.default_context() is first
        assert tls._context is first

    def test_wrap_socket_uses_the_cached_context(
        self,
        monkeypatch: pytest.MonkeyPatch,
        ca: trustme.CA,
        ca_file: str,
        serve: list[_OneShotTLSServer],
    ) -> None:
        monkeypatch.setattr(tls, "_context", init_context(cert_path=ca_file))
        server = _start(serve, _server_context(ca, alpn=["h2"]))
        tls_sock, proto = wrap_socket(_connect(server.port), _HOST)
        with tls_sock:
            assert _read_reply(tls_sock) == _REPLY
        assert proto == "h2"

    @pytest.mark.usefixtures("fresh_defaults")
    def test_each_variant_is_built_once_and_cached(self) -> None:
        contexts = [tls.default_context(protocols) for protocols in _VARIANTS]
        for protocols, context in zip(_VARIANTS, contexts):
            assert tls.default_context(protocols) is context
            assert tls.default_context(tuple(protocols)) is context
        assert len({id(context) for context in contexts}) == len(_VARIANTS)
        assert tls.default_context() is contexts[0] is tls._context

    @pytest.mark.usefixtures("fresh_defaults")
    @pytest.mark.parametrize(
        ("protocols", "server_alpn", "selected"),
        [
            (["h2", "http/1.1"], ["h2", "http/1.1"], "h2"),
            (["h2", "http/1.1"], ["http/1.1"], "http/1.1"),
            (["http/1.1"], ["h2", "http/1.1"], "http/1.1"),
            (["h2"], ["h2", "http/1.1"], "h2"),
            (["h2"], ["http/1.1"], None),
        ],
    )
    def test_each_variant_offers_its_protocols(
        self,
        ca: trustme.CA,
        serve: list[_OneShotTLSServer],
        protocols: list[str],
        server_alpn: list[str],
        selected: str | None,
    ) -> None:
        context = tls.default_context(protocols)
        ca.configure_trust(context)  # built for this test alone (fresh_defaults)
        server = _start(serve, _server_context(ca, alpn=server_alpn))
        _handshake(server, context)
        assert server.alpn == selected

    def test_an_assigned_context_is_every_variant(
        self, monkeypatch: pytest.MonkeyPatch, ca_file: str
    ) -> None:
        """As historic hyper: ``hyper.tls._context`` changes every default,
        used as it is."""
        mine = init_context(cert_path=ca_file)
        monkeypatch.setattr(tls, "_context", mine)
        assert all(tls.default_context(protocols) is mine for protocols in _VARIANTS)

    @pytest.mark.usefixtures("fresh_defaults")
    def test_hyper_default_put_back_is_not_taken_for_a_users(self) -> None:
        """A test (or a user) that saved ``_context``, cleared it and put it
        back has hyper's default there again, not a context of its own."""
        saved = tls.default_context()
        tls._context = None
        tls.default_context()
        tls._context = saved
        assert tls.default_context(["http/1.1"]) is not saved


class TestWrapSocket:
    @pytest.mark.parametrize(
        ("server_alpn", "expected"),
        [
            (["h2"], "h2"),
            (["http/1.1"], "http/1.1"),
            (["h2", "http/1.1"], "h2"),
            (None, "http/1.1"),
        ],
    )
    def test_reports_the_negotiated_protocol(
        self,
        ca: trustme.CA,
        ca_file: str,
        serve: list[_OneShotTLSServer],
        server_alpn: list[str] | None,
        expected: str,
    ) -> None:
        server = _start(serve, _server_context(ca, alpn=server_alpn))
        assert _handshake(server, init_context(cert_path=ca_file)) == expected
        assert server.alpn == (None if server_alpn is None else expected)

    def test_force_proto_overrides_negotiation(
        self, ca: trustme.CA, ca_file: str, serve: list[_OneShotTLSServer]
    ) -> None:
        server = _start(serve, _server_context(ca, alpn=None))
        assert _handshake(server, init_context(cert_path=ca_file), force_proto="h2") == "h2"

    def test_sni_is_sent(
        self, ca: trustme.CA, ca_file: str, serve: list[_OneShotTLSServer]
    ) -> None:
        server = _start(serve, _server_context(ca, alpn=["h2"]))
        _handshake(server, init_context(cert_path=ca_file))
        assert server.sni == _HOST

    def test_wrong_hostname_fails_verification(
        self, ca: trustme.CA, ca_file: str, serve: list[_OneShotTLSServer]
    ) -> None:
        server = _start(serve, _server_context(ca, alpn=["h2"]))
        sock = _connect(server.port)
        with pytest.raises(ssl.SSLCertVerificationError):
            wrap_socket(sock, "wrong.example", init_context(cert_path=ca_file))
        sock.close()
        server.join()
        assert server.error is not None

    def test_untrusted_ca_fails_verification(
        self, ca: trustme.CA, serve: list[_OneShotTLSServer], tmp_path: Path
    ) -> None:
        other = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other))
        server = _start(serve, _server_context(ca, alpn=["h2"]))
        sock = _connect(server.port)
        with pytest.raises(ssl.SSLCertVerificationError):
            wrap_socket(sock, _HOST, init_context(cert_path=str(other)))
        sock.close()

    @pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
    def test_server_limited_to_tls_1_1_is_refused(
        self, ca: trustme.CA, ca_file: str, serve: list[_OneShotTLSServer]
    ) -> None:
        """The server could speak TLS 1.0/1.1 (security level 0), so the
        refusal is the client's minimum_version at work."""
        context = _server_context(ca, alpn=["h2"])
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        server = _start(serve, context)
        sock = _connect(server.port)
        with pytest.raises(ssl.SSLError, match=r"(?i)protocol.version"):
            wrap_socket(sock, _HOST, init_context(cert_path=ca_file))
        sock.close()

    @pytest.mark.parametrize("form", ["single-file", "cert-and-key", "encrypted-key"])
    def test_client_certificate_is_presented(
        self,
        ca: trustme.CA,
        ca_file: str,
        client_cert: trustme.LeafCert,
        serve: list[_OneShotTLSServer],
        tmp_path: Path,
        form: str,
    ) -> None:
        if form == "single-file":
            path = tmp_path / "client.pem"
            client_cert.private_key_and_cert_chain_pem.write_to_path(str(path))
            context = init_context(cert_path=ca_file, cert=str(path))
        elif form == "cert-and-key":
            certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
            client_cert.cert_chain_pems[0].write_to_path(str(certfile))
            client_cert.private_key_pem.write_to_path(str(keyfile))
            context = init_context(cert_path=ca_file, cert=(str(certfile), str(keyfile)))
        else:
            files = _encrypted_client_files(client_cert, tmp_path, b"pw")
            context = init_context(cert_path=ca_file, cert=files, cert_password=b"pw")
        server = _start(serve, _server_context(ca, alpn=["h2"], client_ca=ca))
        assert _handshake(server, context) == "h2"
        assert server.error is None
        assert server.peer_cert is not None
        assert ("DNS", "client.hyper.test") in server.peer_cert["subjectAltName"]  # type: ignore[operator]

    def test_without_client_certificate_a_requiring_server_refuses(
        self, ca: trustme.CA, ca_file: str, serve: list[_OneShotTLSServer]
    ) -> None:
        server = _start(serve, _server_context(ca, alpn=["h2"], client_ca=ca))
        sock = _connect(server.port)
        with pytest.raises(ssl.SSLError):
            # TLS 1.2 fails in the handshake; TLS 1.3 on the first read.
            tls_sock, _ = wrap_socket(sock, _HOST, init_context(cert_path=ca_file))
            with tls_sock:
                _read_reply(tls_sock)
        sock.close()
        server.join()
        assert server.peer_cert is None

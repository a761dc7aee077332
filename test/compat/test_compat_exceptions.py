"""One exception tree a user can catch (issue 7 part 3): every class hyper
raises is a HyperError, misuse errors keep the builtin they replaced, and the
historic classes are raised where they apply."""

from __future__ import annotations

import builtins
import http.client

import pytest
from h1peer import TIMEOUT, H1Peer, replying
from peer import Peer, PeerConnection, serving

from hyper import HTTP11Connection, HTTP20Connection, HTTPConnection, HTTPHeaderMap
from hyper.common import exceptions as common_exc
from hyper.http20 import exceptions as h2_exc
from hyper.http20.config import EngineConfig


class TestTree:
    def test_http2_connection_errors_are_common_connection_errors(self) -> None:
        for cls in (
            h2_exc.ConnectionError,
            h2_exc.ProtocolError,
            h2_exc.ConnectionTerminatedError,
            h2_exc.ConnectionLostError,
        ):
            assert issubclass(cls, common_exc.ConnectionError)
            assert issubclass(cls, builtins.ConnectionError)
            assert issubclass(cls, h2_exc.HTTP20Error)

    def test_connection_lost_is_a_reset_of_both_kinds(self) -> None:
        lost = h2_exc.ConnectionLostError
        assert issubclass(lost, h2_exc.ConnectionTerminatedError)
        assert issubclass(lost, common_exc.ConnectionResetError)
        assert issubclass(lost, builtins.ConnectionResetError)

    def test_timeout_is_the_builtin_timeout(self) -> None:
        assert issubclass(common_exc.TimeoutError, builtins.TimeoutError)

    @pytest.mark.parametrize(
        ("cls", "builtin"),
        [
            (common_exc.InvalidArgumentError, ValueError),
            (common_exc.InvalidArgumentTypeError, TypeError),
            (common_exc.HeaderNotFoundError, KeyError),
            (common_exc.InvalidResponseError, ValueError),
            (common_exc.MissingCertFile, FileNotFoundError),
            (common_exc.SocketError, OSError),
            (h2_exc.LocalProtocolError, ValueError),
        ],
    )
    def test_replacements_keep_their_builtin(self, cls: type, builtin: type) -> None:
        assert issubclass(cls, common_exc.HyperError)
        assert issubclass(cls, builtin)

    def test_historic_classes_sit_in_the_tree(self) -> None:
        assert issubclass(common_exc.LineTooLongError, common_exc.InvalidResponseError)
        assert issubclass(common_exc.ChunkedDecodeError, common_exc.InvalidResponseError)
        assert issubclass(common_exc.TLSUpgrade, common_exc.ConnectionError)
        assert issubclass(common_exc.HTTPUpgrade, common_exc.HyperError)
        assert issubclass(h2_exc.InvalidHeaderError, h2_exc.HPACKEncodingError)
        upgrade = common_exc.HTTPUpgrade("h2c", None)
        assert (upgrade.negotiated, upgrade.sock, upgrade.data) == ("h2c", None, b"")


class TestMisuseIsAHyperErrorAndTheBuiltin:
    @pytest.mark.parametrize("host", ["example.com:99999", "exa mple.com", "[::1"])
    def test_bad_authority(self, host: str) -> None:
        with pytest.raises(ValueError) as info:
            HTTP20Connection(host)
        assert isinstance(info.value, common_exc.InvalidArgumentError)

    def test_bad_proxy_scheme(self) -> None:
        with pytest.raises(common_exc.InvalidArgumentError, match="http:// proxies"):
            HTTPConnection("example.com", proxy_host="socks5://proxy")

    def test_missing_header(self) -> None:
        with pytest.raises(KeyError) as info:
            HTTPHeaderMap()[b"absent"]
        assert isinstance(info.value, common_exc.HeaderNotFoundError)

    def test_engine_settings_out_of_range_or_of_the_wrong_type(self) -> None:
        with pytest.raises(common_exc.InvalidArgumentError):
            EngineConfig(initial_window_size=-1)
        with pytest.raises(TypeError) as info:
            EngineConfig(window_manager=int)  # type: ignore[arg-type]
        assert isinstance(info.value, common_exc.InvalidArgumentTypeError)

    def test_http11_header_h11_refuses(self) -> None:
        conn = HTTP11Connection("127.0.0.1:9")  # nothing is sent: h11 checks first
        with pytest.raises(ValueError) as info:
            conn.request("GET", "/", headers={"x-bad": "a\r\nb"})
        assert isinstance(info.value, common_exc.InvalidArgumentError)

    def test_http2_header_that_cannot_be_sent(self) -> None:
        with (
            Peer(serving(lambda conn, request: None)) as peer,
            HTTP20Connection(peer.address, timeout=TIMEOUT) as conn,
        ):
            with pytest.raises(h2_exc.HPACKEncodingError) as info:
                conn.request("GET", "/", headers={"x-bad": "a\nb"})
            assert isinstance(info.value, (h2_exc.InvalidHeaderError, ValueError))


def _h11_response_to_one_request(response: bytes) -> H1Peer:
    return H1Peer(replying(response))


class TestHTTP11ErrorsRaisedWhereTheyApply:
    def test_over_long_header_line_is_line_too_long(self) -> None:
        """h11 bounds what it holds of an unfinished head: 1 MiB of header
        cannot arrive in one read, so the bound is passed half way."""
        head = b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * (1 << 20) + b"\r\nContent-Length: 0\r\n\r\n"
        with (
            _h11_response_to_one_request(head) as peer,
            HTTP11Connection(peer.address, timeout=TIMEOUT) as conn,
        ):
            conn.request("GET", "/")
            with pytest.raises(common_exc.LineTooLongError, match="65536"):
                conn.getresponse()

    @pytest.mark.parametrize(
        "body",
        [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcXY0\r\n\r\n"],
        ids=["bad-size-line", "no-crlf-after-chunk"],
    )
    def test_broken_chunked_framing_is_chunked_decode_error(self, body: bytes) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        with (
            _h11_response_to_one_request(head + body) as peer,
            HTTP11Connection(peer.address, timeout=TIMEOUT) as conn,
        ):
            conn.request("GET", "/")
            response = conn.getresponse()
            with pytest.raises(common_exc.ChunkedDecodeError):
                response.read()

    def test_a_plain_ok_response_still_reads(self) -> None:
        with (
            _h11_response_to_one_request(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            ) as peer,
            HTTP11Connection(peer.address, timeout=TIMEOUT) as conn,
        ):
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"ok"


class TestLostHTTP2Connection:
    def test_one_except_catches_a_lost_connection(self) -> None:
        """A peer that closes mid-body: the error is hyper's ConnectionError
        (of both versions) and a ConnectionResetError."""

        def script(conn: PeerConnection) -> None:
            conn.handshake()
            request = conn.expect_complete_request()
            conn.send_headers(request.stream_id, [(b":status", b"200")])
            conn.send_body(request.stream_id, b"partial", end_stream=False)
            conn.close()

        with Peer(script) as peer, HTTP20Connection(peer.address, timeout=TIMEOUT) as conn:
            response = conn.getresponse(conn.request("GET", "/"))
            with pytest.raises(common_exc.ConnectionError) as info:
                response.read()
        error = info.value
        assert isinstance(error, builtins.ConnectionResetError)
        assert isinstance(error, h2_exc.ConnectionTerminatedError)
        assert isinstance(error, h2_exc.ConnectionLostError)


def test_improper_state_is_also_http_client_s() -> None:
    from hyper.http11.connection import ImproperConnectionStateError

    assert issubclass(ImproperConnectionStateError, common_exc.HyperError)
    assert issubclass(ImproperConnectionStateError, http.client.ImproperConnectionState)

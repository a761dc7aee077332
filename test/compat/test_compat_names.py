"""Historic hyper module paths and names import and behave as they did (issue 12)."""

from __future__ import annotations

import gzip
import ssl
import subprocess
import sys
import zlib

import pytest

from hyper import HTTPHeaderMap


class TestCompat:
    def test_python_3_aliases(self) -> None:
        from hyper import compat

        assert (compat.is_py2, compat.is_py3) == (False, True)
        assert compat.ssl is ssl
        assert compat.bytes is bytes and compat.unicode is str
        assert list(compat.imap(len, ["ab", "c"])) == [2, 1]
        assert compat.zlib_compressobj is zlib.compressobj
        assert compat.urlparse("https://h/p?q").path == "/p"
        assert compat.urlsplit("https://h:1/p").port == 1
        assert compat.urlencode({"a": "b c"}) == "a=b+c"
        assert compat.to_byte(b"A"[0]) == 65
        assert compat.decode_hex("6869") == b"hi"

    def test_ignore_missing_swallows_only_missing_features(self) -> None:
        from hyper.compat import ignore_missing

        with ignore_missing():
            raise AttributeError("no such ssl option")
        with ignore_missing():
            raise NotImplementedError
        with pytest.raises(ValueError), ignore_missing():
            raise ValueError("not a missing feature")

    def test_write_to_stdout_writes_bytes_and_a_newline(self) -> None:
        code = "from hyper.compat import write_to_stdout; write_to_stdout(b'\\xffhi')"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, check=True, timeout=60
        ).stdout
        assert out == b"\xffhi\n"


class TestHTTP20Util:
    def test_combine_and_split_repeated_headers(self) -> None:
        from hyper.http20.util import combine_repeated_headers, split_repeated_headers

        pairs = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
        combined = combine_repeated_headers(pairs)
        assert combined == [(b"a", b"1\x003"), (b"b", b"2")]
        assert split_repeated_headers(combined) == {b"a": [b"1", b"3"], b"b": [b"2"]}

    def test_h2_safe_headers_drops_connection_and_what_it_names(self) -> None:
        from hyper.http20.util import h2_safe_headers

        headers = [
            ("Host", "example.com"),
            ("Connection", "Keep-Alive, X-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-hop", "1"),
            ("Accept", "*/*"),
        ]
        assert h2_safe_headers(headers) == [("Host", "example.com"), ("Accept", "*/*")]
        assert h2_safe_headers([(b"connection", b"close"), (b"a", b"b")]) == [(b"a", b"b")]


class TestErrors:
    def test_per_code_dicts(self) -> None:
        from hyper.http20 import errors

        assert errors.NO_ERROR == {
            "Name": "NO_ERROR",
            "Code": "0x0",
            "Description": "Graceful shutdown",
        }
        assert errors.HTTP_1_1_REQUIRED["Code"] == "0xd"
        assert errors.H2_ERRORS[8] is errors.CANCEL
        assert len(errors.H2_ERRORS) == 14

    def test_get_data_and_its_range(self) -> None:
        from hyper.common.exceptions import HyperError
        from hyper.http20.errors import get_data

        assert get_data(0x7) == ("REFUSED_STREAM", "0x7", "Stream not processed")
        for bad in (-1, 14):
            with pytest.raises(ValueError) as info:
                get_data(bad)
            assert isinstance(info.value, HyperError)


class TestHTTP20ResponseNames:
    def test_strip_headers_removes_pseudo_headers_in_place(self) -> None:
        from hyper.http20.response import strip_headers

        headers = HTTPHeaderMap([(b":status", b"200"), (b"a", b"1"), (b":path", b"/")])
        strip_headers(headers)
        assert list(headers.items()) == [(b"a", b"1")]

    def test_decompressors_decode(self) -> None:
        from hyper.http20.response import decompressors

        decoder = decompressors[b"gzip"]()
        assert decoder.decompress(gzip.compress(b"hello" * 100)) + decoder.flush() == (
            b"hello" * 100
        )
        assert {b"gzip", b"deflate", b"br"} <= set(decompressors)


class TestWindowManagers:
    def test_blocked_answers_as_it_did(self) -> None:
        """Nothing calls ``blocked()`` any more (HTTP/2 has no BLOCKED frame),
        but old code that does still gets the historic answer."""
        from hyper.http20.window import BaseFlowControlManager, FlowControlManager

        manager = FlowControlManager(1500)
        manager.window_size = 1000
        assert manager.blocked() == 500
        assert BaseFlowControlManager(1500).blocked() == 0

    def test_a_historic_manager_defining_blocked_still_drives_a_connection(self) -> None:
        from hyper.http20.config import EngineConfig
        from hyper.http20.window import BaseFlowControlManager

        class Historic(BaseFlowControlManager):
            def increase_window_size(self, frame_size: int) -> int:
                return frame_size

            def blocked(self) -> int:
                return self.initial_window_size - self.window_size

        assert EngineConfig(window_manager=Historic).window_manager is Historic


class TestConstants:
    def test_http20_connection_constants(self) -> None:
        from hyper.http20 import connection

        assert connection.H2_NPN_PROTOCOLS == ["h2"]
        assert connection.H2C_PROTOCOL == "h2c"
        assert connection.DEFAULT_WINDOW_SIZE == 65535

    def test_http11_body_constants(self) -> None:
        from hyper.http11.connection import BODY_CHUNKED, BODY_FLAT

        assert {BODY_CHUNKED, BODY_FLAT} == {1, 2}

    def test_tls_names(self) -> None:
        from hyper import tls

        assert tls.NPN_PROTOCOL == "h2"
        assert tls.SUPPORTED_NPN_PROTOCOLS == ["h2", "http/1.1"]
        assert tls.H2C_PROTOCOL == "h2c"
        assert tls.cert_loc is None or tls.cert_loc.endswith(".pem")
        assert isinstance(tls.init_context(), ssl.SSLContext)
        assert callable(tls.wrap_socket)
        assert hasattr(tls, "_context")

    def test_common_util_names(self) -> None:
        from hyper.common.util import (
            HTTPVersion,
            to_bytestring,
            to_bytestring_tuple,
            to_host_port_tuple,
            to_native_string,
        )

        assert to_bytestring("é") == "é".encode()
        assert to_bytestring_tuple("a", b"b") == (b"a", b"b")
        assert to_host_port_tuple("example.com") == ("example.com", 80)
        assert to_host_port_tuple("[::1]:8443", default_port=443) == ("::1", 8443)
        assert to_native_string(b"x") == "x"
        assert HTTPVersion.http20.value == "HTTP/2"

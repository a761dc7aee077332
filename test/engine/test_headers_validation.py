"""Header-block checks of the HTTP/2 engine (hyper.engine.header_rules)."""

from __future__ import annotations

from typing import Any

import pytest
from hpack import HeaderTuple, NeverIndexedHeaderTuple
from hypothesis import given
from hypothesis import strategies as st

from hyper.engine import header_rules
from hyper.engine.header_rules import (
    MalformedHeaders,
    inspect_request,
    inspect_response,
    inspect_trailers,
    prepare_outbound,
    sensitive,
)
from hyper.http20.errors import ErrorCodes
from hyper.http20.exceptions import HTTP20Error, InvalidHeaderError

Fields = list[tuple[bytes, bytes]]

GET: Fields = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":path", b"/"),
    (b":authority", b"example.com"),
]
OK: Fields = [(b":status", b"200")]
PSEUDO_NAMES = {b":method", b":scheme", b":authority", b":path", b":protocol", b":status"}
CONNECTION_SPECIFIC = [
    b"connection",
    b"proxy-connection",
    b"keep-alive",
    b"transfer-encoding",
    b"upgrade",
]


def request(*fields: tuple[bytes, bytes], method: bytes = b"GET") -> Fields:
    """A valid request block for ``method`` plus ``fields``."""
    return [(b":method", method), *GET[1:], *fields]


def response(*fields: tuple[bytes, bytes]) -> Fields:
    return [*OK, *fields]


# Field-level rules (RFC 9113 8.2.1) hold in every block type, so one table
# drives all three inspect_* functions.
BAD_NAMES = [
    pytest.param(b"", "empty field name", id="empty"),
    pytest.param(b"X-Upper", "uppercase", id="uppercase"),
    pytest.param(b"x foo", "invalid character", id="space"),
    pytest.param(b"x\tfoo", "invalid character", id="htab"),
    pytest.param(b"x\x00", "invalid character", id="nul"),
    pytest.param(b"x\r\nfoo", "invalid character", id="crlf"),
    pytest.param(b"x\x7f", "invalid character", id="del"),
    pytest.param(b"caf\xc3\xa9", "invalid character", id="non-ascii"),
    pytest.param(b"x\xff", "invalid character", id="0xff"),
    pytest.param(b"x:y", "invalid character", id="inner-colon"),
    pytest.param(b"x:", "invalid character", id="trailing-colon"),
    pytest.param(b":late", "unknown pseudo-header", id="unknown-pseudo"),
    pytest.param(b":Method", "unknown pseudo-header", id="uppercase-pseudo"),
    pytest.param(b"::path", "unknown pseudo-header", id="double-colon"),
    pytest.param(b":", "unknown pseudo-header", id="bare-colon"),
]
GOOD_NAMES = [
    pytest.param(b"x-custom", id="plain"),
    pytest.param(b"x!#$%&'*+-.^_`|~09az", id="all-token-punctuation"),
    # 8.2.1 forbids less than the token rule: these arrive legally.
    pytest.param(b'x"y', id="dquote"),
    pytest.param(b"x(y)", id="parens"),
    pytest.param(b"x", id="one-char"),
]
BAD_VALUES = [
    pytest.param(b"a\x00b", "NUL, CR or LF", id="nul"),
    pytest.param(b"a\rb", "NUL, CR or LF", id="cr"),
    pytest.param(b"a\nb", "NUL, CR or LF", id="lf"),
    pytest.param(b"a\r\nx-injected: 1", "NUL, CR or LF", id="crlf-injection"),
    pytest.param(b"\n", "NUL, CR or LF", id="lone-lf"),
    pytest.param(b" a", "whitespace", id="leading-sp"),
    pytest.param(b"a ", "whitespace", id="trailing-sp"),
    pytest.param(b"\ta", "whitespace", id="leading-htab"),
    pytest.param(b"a\t", "whitespace", id="trailing-htab"),
    pytest.param(b" ", "whitespace", id="only-sp"),
    pytest.param(b" a\n", "NUL, CR or LF", id="both-faults"),
]
GOOD_VALUES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"a b\tc", id="inner-whitespace"),
    pytest.param(b"\x80\xff caf\xc3\xa9", id="obs-text"),
    pytest.param(b"\x01\x1f\x7f", id="other-controls"),
    pytest.param(b"a" * 100_000, id="huge"),
]
BLOCK_BUILDERS = [
    pytest.param(lambda f: inspect_request(request(f)), id="request"),
    pytest.param(lambda f: inspect_response(response(f)), id="response"),
    pytest.param(lambda f: inspect_trailers([f]), id="trailers"),
]


class TestFieldRules:
    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    @pytest.mark.parametrize(("name", "reason"), BAD_NAMES)
    def test_invalid_name_is_malformed(self, check: Any, name: bytes, reason: str) -> None:
        with pytest.raises(MalformedHeaders, match=reason):
            check((name, b"v"))

    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    @pytest.mark.parametrize("name", GOOD_NAMES)
    def test_valid_name_passes(self, check: Any, name: bytes) -> None:
        check((name, b"v"))

    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    @pytest.mark.parametrize(("value", "reason"), BAD_VALUES)
    def test_invalid_value_is_malformed(self, check: Any, value: bytes, reason: str) -> None:
        with pytest.raises(MalformedHeaders, match=reason):
            check((b"x-custom", value))

    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    @pytest.mark.parametrize("value", GOOD_VALUES)
    def test_valid_value_passes(self, check: Any, value: bytes) -> None:
        check((b"x-custom", value))

    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    def test_invalid_value_of_a_common_field_is_malformed(self, check: Any) -> None:
        """Names in the fast-path table still get their value checked."""
        with pytest.raises(MalformedHeaders, match="NUL, CR or LF"):
            check((b"user-agent", b"x\r\nhost: evil"))

    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    @pytest.mark.parametrize("name", CONNECTION_SPECIFIC)
    def test_connection_specific_field_is_malformed(self, check: Any, name: bytes) -> None:
        with pytest.raises(MalformedHeaders, match="connection-specific"):
            check((name, b"close"))

    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    @pytest.mark.parametrize("value", [b"gzip", b"trailers, gzip", b"Trailers", b""])
    def test_te_other_than_trailers_is_malformed(self, check: Any, value: bytes) -> None:
        with pytest.raises(MalformedHeaders, match="te field"):
            check((b"te", value))

    @pytest.mark.parametrize("check", BLOCK_BUILDERS)
    def test_te_trailers_passes(self, check: Any) -> None:
        check((b"te", b"trailers"))

    def test_reason_never_quotes_the_value(self) -> None:
        """Reasons end up in logs; a value may be a credential."""
        with pytest.raises(MalformedHeaders) as info:
            inspect_request(request((b"authorization", b"Bearer s3cret\r\n")))
        assert "s3cret" not in str(info.value)
        assert "authorization" in str(info.value)

    def test_reason_truncates_a_huge_name(self) -> None:
        with pytest.raises(MalformedHeaders) as info:
            inspect_trailers([(b"X" * 100_000, b"v")])
        assert len(str(info.value)) < 200

    def test_malformed_headers_is_a_stream_protocol_error(self) -> None:
        error = MalformedHeaders("empty :path")
        assert isinstance(error, HTTP20Error)
        assert error.error_code == ErrorCodes.PROTOCOL_ERROR
        assert str(error) == "empty :path"

    def test_fast_path_table_holds_only_valid_lowercase_names(self) -> None:
        """A name found in the table skips the character check, so each must pass it."""
        for name in header_rules._KINDS:
            assert name == name.lower()
            if name[:1] == b":":
                assert name in PSEUDO_NAMES
            else:
                assert header_rules._is_token(name) is not None, name
        assert set(header_rules._KINDS) >= PSEUDO_NAMES


CONTENT_LENGTHS = [
    pytest.param([b"0"], 0, id="zero"),
    pytest.param([b"5"], 5, id="single"),
    pytest.param([b"00005"], 5, id="leading-zeros"),
    pytest.param([b"5", b"5"], 5, id="agreeing-fields"),
    pytest.param([b"5, 5"], 5, id="agreeing-list"),
    pytest.param([b"5,5"], 5, id="agreeing-list-no-space"),
    pytest.param([b"5 ,\t5"], 5, id="agreeing-list-ows"),
    pytest.param([b"9223372036854775807"], 2**63 - 1, id="int64-max"),
]
BAD_CONTENT_LENGTHS = [
    pytest.param([b"+5"], "decimal", id="plus"),
    pytest.param([b"-5"], "decimal", id="minus"),
    pytest.param([b"0x5"], "decimal", id="hex"),
    pytest.param([b"5.0"], "decimal", id="fraction"),
    pytest.param([b"5 5"], "decimal", id="inner-space"),
    pytest.param([b""], "decimal", id="empty"),
    pytest.param([b"5,"], "decimal", id="empty-list-member"),
    pytest.param([b",5"], "decimal", id="leading-comma"),
    pytest.param(["５".encode()], "decimal", id="fullwidth-digit"),
    pytest.param([b"5, 6"], "conflicting", id="conflicting-list"),
    pytest.param([b"5", b"6"], "conflicting", id="conflicting-fields"),
    pytest.param([b"5", b"5, 6"], "conflicting", id="conflicting-field-and-list"),
    pytest.param([b"9223372036854775808"], "too large", id="int64-max-plus-one"),
    pytest.param([b"1" * 20], "decimal", id="twenty-digits"),
    pytest.param([b"9" * 5000], "decimal", id="beyond-int-str-digits-limit"),
    pytest.param([b"5, " + b"9" * 5000], "decimal", id="huge-list-member"),
]


class TestInspectRequest:
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param(GET, id="get"),
            pytest.param(request(method=b"HEAD"), id="head"),
            pytest.param(request(method=b"M-SEARCH"), id="extension-method"),
            pytest.param(GET[:3], id="no-authority"),
            pytest.param(
                [(b":method", b"OPTIONS"), (b":scheme", b"https"), (b":path", b"*")],
                id="options-asterisk",
            ),
            pytest.param(
                [(b":method", b"CONNECT"), (b":authority", b"example.com:443")], id="connect"
            ),
            pytest.param(
                [
                    (b":method", b"CONNECT"),
                    (b":protocol", b"websocket"),
                    (b":scheme", b"https"),
                    (b":path", b"/chat"),
                    (b":authority", b"example.com"),
                ],
                id="extended-connect",
            ),
            pytest.param(request((b"host", b"example.com")), id="host-equal-to-authority"),
            pytest.param(request((b"host", b"EXAMPLE.com")), id="host-differs-only-in-case"),
            pytest.param([*GET[:3], (b"host", b"example.com")], id="host-without-authority"),
            pytest.param(request((b"te", b"trailers")), id="te-trailers"),
            pytest.param(request((b"x-empty", b"")), id="empty-value"),
            pytest.param(
                [GET[0], (b":scheme", b"urn"), (b":path", b"isbn:0451"), (b":authority", b"")],
                id="other-scheme-any-path-and-empty-authority",
            ),
            pytest.param(
                [(b":method", b"OPTIONS"), GET[1], (b":path", b"*"), GET[3]], id="options-asterisk"
            ),
            pytest.param(request((b"x-a", b"1"), (b"x-a", b"2")), id="repeated-regular-field"),
        ],
    )
    def test_valid_request_passes(self, headers: Fields) -> None:
        result, method, length = inspect_request(headers)
        assert result is headers
        assert method == headers[0][1]
        assert length is None

    @pytest.mark.parametrize(
        ("headers", "reason"),
        [
            pytest.param(GET[1:], "without :method", id="missing-method"),
            pytest.param([GET[0], *GET[2:]], "without :scheme", id="missing-scheme"),
            pytest.param([*GET[:2], GET[3]], "without :path", id="missing-path"),
            pytest.param([*GET, (b":method", b"GET")], "duplicate", id="duplicate-method"),
            pytest.param([*GET, (b":scheme", b"http")], "duplicate", id="duplicate-scheme"),
            pytest.param([*GET, (b":path", b"/a")], "duplicate", id="duplicate-path"),
            pytest.param([*GET, (b":authority", b"a")], "duplicate", id="duplicate-authority"),
            pytest.param([GET[0], GET[1], (b":path", b"")], "empty :path", id="empty-path"),
            pytest.param(
                [GET[0], (b":scheme", b""), *GET[2:]], "not a URI scheme", id="empty-scheme"
            ),
            pytest.param(
                [GET[0], (b":scheme", b"1http"), *GET[2:]], "not a URI scheme", id="bad-scheme"
            ),
            pytest.param(
                [*GET[:3], (b":authority", b"")], "empty :authority", id="empty-authority"
            ),
            pytest.param([*GET[:3], (b"host", b"")], "empty host", id="empty-host"),
            pytest.param(
                [*GET[:2], (b":path", b"index.html"), GET[3]], "start with '/'", id="relative-path"
            ),
            pytest.param(
                [*GET[:2], (b":path", b"https://example.com/"), GET[3]],
                "start with '/'",
                id="absolute-form-path",
            ),
            pytest.param(
                [GET[0], GET[1], (b":path", b"*")], "without OPTIONS", id="asterisk-with-get"
            ),
            pytest.param(request(method=b"GE T"), "token", id="method-with-space"),
            pytest.param(request(method=b""), "token", id="empty-method"),
            pytest.param(
                [(b":method", b"CONNECT")], "CONNECT without :authority", id="connect-no-authority"
            ),
            pytest.param(
                [(b":method", b"CONNECT"), (b":scheme", b"https"), (b":authority", b"a:1")],
                "CONNECT with :scheme or :path",
                id="connect-with-scheme",
            ),
            pytest.param(
                [(b":method", b"CONNECT"), (b":path", b"/"), (b":authority", b"a:1")],
                "CONNECT with :scheme or :path",
                id="connect-with-path",
            ),
            pytest.param(
                [(b":method", b"CONNECT"), (b":protocol", b"websocket"), (b":authority", b"a")],
                "extended CONNECT without",
                id="extended-connect-no-scheme-path",
            ),
            pytest.param(
                [(b":method", b"CONNECT"), (b":protocol", b"websocket"), *GET[1:3]],
                "CONNECT without :authority",
                id="extended-connect-no-authority",
            ),
            pytest.param(
                [*GET, (b":protocol", b"websocket")],
                ":protocol without CONNECT",
                id="protocol-get",
            ),
            pytest.param([*GET, (b":status", b"200")], "not allowed", id="status-in-request"),
            pytest.param(
                [GET[0], (b"x-a", b"1"), *GET[1:]], "after a regular field", id="pseudo-after"
            ),
            pytest.param([*GET, (b":late", b"1")], "unknown pseudo-header", id="unknown-pseudo"),
            pytest.param(
                [*GET[:3], (b":authority", b"user:pw@example.com")],
                "userinfo",
                id="authority-userinfo",
            ),
            pytest.param(
                request((b"host", b"example.com"), (b"host", b"example.com")),
                "more than one host",
                id="two-hosts",
            ),
            pytest.param(
                [*GET[:3], (b"host", b"a.example"), (b"host", b"b.example")],
                "more than one host",
                id="two-hosts-without-authority",
            ),
            pytest.param(
                request((b"host", b"evil.example")),
                "host differs from :authority",
                id="host-differs",
            ),
        ],
    )
    def test_malformed_request_is_rejected(self, headers: Fields, reason: str) -> None:
        with pytest.raises(MalformedHeaders, match=reason):
            inspect_request(headers)

    def test_returns_method_of_the_request(self) -> None:
        assert inspect_request(request(method=b"POST"))[1] == b"POST"

    @pytest.mark.parametrize(("values", "expected"), CONTENT_LENGTHS)
    def test_content_length_is_returned(self, values: list[bytes], expected: int) -> None:
        headers = request(*[(b"content-length", v) for v in values])
        assert inspect_request(headers)[2] == expected

    @pytest.mark.parametrize(("values", "reason"), BAD_CONTENT_LENGTHS)
    def test_invalid_content_length_is_malformed(self, values: list[bytes], reason: str) -> None:
        headers = request(*[(b"content-length", v) for v in values])
        with pytest.raises(MalformedHeaders, match=reason):
            inspect_request(headers)

    def test_several_cookies_are_joined_where_the_first_was(self) -> None:
        headers = request(
            (b"cookie", b"a=1"), (b"accept", b"*/*"), (b"cookie", b"b=2"), (b"cookie", b"c=3")
        )
        original = list(headers)
        result, _, _ = inspect_request(headers)
        assert result == [*GET, (b"cookie", b"a=1; b=2; c=3"), (b"accept", b"*/*")]
        assert headers == original

    def test_single_cookie_leaves_the_list_alone(self) -> None:
        headers = request((b"cookie", b"a=1"), (b"accept", b"*/*"))
        assert inspect_request(headers)[0] is headers


class TestInspectResponse:
    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            pytest.param(b"200", 200, id="200"),
            pytest.param(b"100", 100, id="100-continue"),
            pytest.param(b"103", 103, id="103-early-hints"),
            pytest.param(b"101", 101, id="101-left-to-the-engine"),
            pytest.param(b"204", 204, id="204"),
            pytest.param(b"599", 599, id="599"),
        ],
    )
    def test_status_is_returned(self, status: bytes, expected: int) -> None:
        assert inspect_response([(b":status", status), (b"server", b"x")]) == (expected, None)

    @pytest.mark.parametrize(
        ("headers", "reason"),
        [
            pytest.param([], "without :status", id="empty-block"),
            pytest.param([(b"server", b"x")], "without :status", id="missing-status"),
            pytest.param([*OK, (b":status", b"200")], "duplicate", id="duplicate-status"),
            pytest.param([(b":status", b"20")], "status code", id="two-digits"),
            pytest.param([(b":status", b"2000")], "status code", id="four-digits"),
            pytest.param([(b":status", b"abc")], "status code", id="letters"),
            pytest.param([(b":status", b"+20")], "status code", id="sign"),
            pytest.param([(b":status", b"")], "status code", id="empty"),
            pytest.param([(b":status", b"099")], "status code", id="below-100"),
            pytest.param([(b":status", b"600")], "status code", id="above-599"),
            pytest.param([(b":status", "２００".encode())], "status code", id="fullwidth"),
            pytest.param([(b":status", b" 200")], "whitespace", id="padded"),
            pytest.param(
                [(b"server", b"x"), *OK], "after a regular field", id="pseudo-after-regular"
            ),
            pytest.param([*OK, (b":late", b"1")], "unknown pseudo-header", id="unknown-pseudo"),
        ]
        + [
            pytest.param([*OK, (name, b"x")], "not allowed", id=f"request-pseudo-{name[1:]!r}")
            for name in sorted(PSEUDO_NAMES - {b":status"})
        ],
    )
    def test_malformed_response_is_rejected(self, headers: Fields, reason: str) -> None:
        with pytest.raises(MalformedHeaders, match=reason):
            inspect_response(headers)

    @pytest.mark.parametrize(("values", "expected"), CONTENT_LENGTHS)
    def test_content_length_is_returned(self, values: list[bytes], expected: int) -> None:
        headers = response(*[(b"content-length", v) for v in values])
        assert inspect_response(headers) == (200, expected)

    @pytest.mark.parametrize(("values", "reason"), BAD_CONTENT_LENGTHS)
    def test_invalid_content_length_is_malformed(self, values: list[bytes], reason: str) -> None:
        headers = response(*[(b"content-length", v) for v in values])
        with pytest.raises(MalformedHeaders, match=reason):
            inspect_response(headers)

    def test_host_fields_are_not_checked_in_responses(self) -> None:
        """Host is a request field; two in a response are odd but not malformed (8.3.1)."""
        inspect_response(response((b"host", b"a"), (b"host", b"b")))


class TestInspectTrailers:
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param([], id="empty"),
            pytest.param([(b"grpc-status", b"0"), (b"grpc-message", b"")], id="grpc"),
            pytest.param([(b"x-checksum", b"abc"), (b"te", b"trailers")], id="te-trailers"),
        ],
    )
    def test_valid_trailers_pass(self, headers: Fields) -> None:
        inspect_trailers(headers)

    @pytest.mark.parametrize("name", sorted(PSEUDO_NAMES))
    def test_any_pseudo_header_is_malformed(self, name: bytes) -> None:
        with pytest.raises(MalformedHeaders, match="not allowed"):
            inspect_trailers([(name, b"x")])

    def test_pseudo_header_after_regular_field_is_malformed(self) -> None:
        with pytest.raises(MalformedHeaders, match="after a regular field"):
            inspect_trailers([(b"x-a", b"1"), (b":status", b"200")])


class TestPrepareOutbound:
    def test_str_and_bytes_become_bytes(self) -> None:
        result = prepare_outbound(
            [(":method", "GET"), (b":scheme", "https"), (":path", b"/"), ("x-name", "café")],
            client_side=True,
        )
        assert result == [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":path", b"/"),
            (b"x-name", "café".encode()),
        ]
        assert all(type(n) is bytes and type(v) is bytes for n, v in result)

    def test_names_are_lowercased(self) -> None:
        result = prepare_outbound(
            [(":Status", "200"), ("Content-Type", "text/plain"), (b"X-Custom", b"1")], False
        )
        assert result == [
            (b":status", b"200"),
            (b"content-type", b"text/plain"),
            (b"x-custom", b"1"),
        ]

    def test_pseudo_headers_move_first_in_stable_order(self) -> None:
        result = prepare_outbound(
            [("a", "1"), (":method", "GET"), ("b", "2"), (":scheme", "https"), (":path", "/")],
            client_side=True,
        )
        assert [n for n, _ in result] == [b":method", b":scheme", b":path", b"a", b"b"]

    def test_accepts_any_iterable_of_pairs(self) -> None:
        fields: Any = iter([[":status", "200"], ("server", "hyper")])
        assert prepare_outbound(fields, False) == [(b":status", b"200"), (b"server", b"hyper")]

    def test_never_indexed_field_stays_never_indexed(self) -> None:
        """RFC 7541 6.2.3: an intermediary keeps a never-indexed field never-indexed."""
        fields: list[tuple[str | bytes, str | bytes]] = [
            (":method", "GET"),
            NeverIndexedHeaderTuple(b":path", b"/secret"),
            NeverIndexedHeaderTuple(b"X-Token", b"abc"),
            HeaderTuple(b"accept", b"*/*"),
        ]
        result = prepare_outbound(fields, True)
        assert result == [
            (b":method", b"GET"),
            (b":path", b"/secret"),
            (b"x-token", b"abc"),
            (b"accept", b"*/*"),
        ]
        kinds: list[type] = [type(f) for f in result]
        assert kinds == [tuple, NeverIndexedHeaderTuple, NeverIndexedHeaderTuple, tuple]

    def test_caller_list_is_not_changed(self) -> None:
        headers: list[tuple[str | bytes, str | bytes]] = [("b", "1"), (":status", "200")]
        prepare_outbound(headers, False)
        assert headers == [("b", "1"), (":status", "200")]

    @pytest.mark.parametrize(
        "name", ["connection", "Proxy-Connection", "keep-alive", "Transfer-Encoding", "upgrade"]
    )
    def test_connection_specific_fields_are_dropped(self, name: str) -> None:
        assert prepare_outbound([(":status", "200"), (name, "x"), ("a", "1")], False) == [
            (b":status", b"200"),
            (b"a", b"1"),
        ]

    def test_fields_named_by_connection_are_dropped(self) -> None:
        result = prepare_outbound(
            [
                ("x-hop", "1"),
                ("Connection", "close, X-Hop ,\tx-other"),
                ("x-other", "2"),
                ("x-end", "3"),
            ],
            client_side=False,
        )
        assert result == [(b"x-end", b"3")]

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("trailers", [(b"te", b"trailers")], id="trailers"),
            pytest.param("Trailers", [(b"te", b"trailers")], id="trailers-any-case"),
            pytest.param("gzip", [], id="gzip"),
            pytest.param("trailers, gzip", [], id="list"),
        ],
    )
    def test_te_is_kept_only_as_trailers(self, value: str, expected: Fields) -> None:
        assert prepare_outbound([("te", value)], True) == expected

    def test_client_request_host_becomes_authority(self) -> None:
        result = prepare_outbound(
            [
                (":method", "GET"),
                (":scheme", "https"),
                ("Host", "example.com"),
                (":path", "/"),
                ("accept", "*/*"),
            ],
            client_side=True,
        )
        assert result == [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":path", b"/"),
            (b":authority", b"example.com"),
            (b"accept", b"*/*"),
        ]
        assert inspect_request(result)[0] is result

    @pytest.mark.parametrize("host", ["example.com", "EXAMPLE.COM"])
    def test_host_equal_to_authority_is_dropped(self, host: str) -> None:
        headers = [(":method", "GET"), (":authority", "example.com"), ("host", host)]
        assert prepare_outbound(headers, True) == [
            (b":method", b"GET"),
            (b":authority", b"example.com"),
        ]

    @pytest.mark.parametrize(
        ("headers", "client_side"),
        [
            pytest.param(
                [(":status", "200"), ("a", "1"), ("host", "h"), ("b", "2")],
                False,
                id="server-response",
            ),
            pytest.param([("a", "1"), ("host", "h"), ("b", "2")], True, id="client-trailers"),
        ],
    )
    def test_host_stays_in_place_outside_client_requests(
        self, headers: list[tuple[str, str]], client_side: bool
    ) -> None:
        result = prepare_outbound(headers, client_side)
        assert [n for n, _ in result if n[:1] != b":"] == [b"a", b"host", b"b"]

    def test_host_named_by_connection_is_dropped(self) -> None:
        headers = [(":method", "GET"), ("host", "h"), ("connection", "host")]
        assert prepare_outbound(headers, True) == [(b":method", b"GET")]

    @pytest.mark.parametrize(
        ("headers", "match"),
        [
            pytest.param([("", "x")], "empty header name", id="empty-name"),
            pytest.param([(b"", b"x")], "empty header name", id="empty-name-bytes"),
            pytest.param([("x foo", "1")], "'x foo'", id="space-in-name"),
            pytest.param([('x"y', "1")], "not a token", id="dquote-in-name"),
            pytest.param([("x:y", "1")], "'x:y'", id="colon-in-name"),
            pytest.param([("x\r\ny", "1")], "not a token", id="crlf-in-name"),
            pytest.param([("café", "1")], "not a token", id="non-ascii-name"),
            pytest.param([(":late", "1")], "':late'", id="unknown-pseudo"),
            pytest.param([(":", "1")], "unknown pseudo-header", id="bare-colon"),
            pytest.param([("x-a", "1\r\nx-injected: 1")], "'x-a'", id="crlf-in-value"),
            pytest.param([("x-a", "1\n")], "NUL, CR or LF", id="lf-in-value"),
            pytest.param([("x-a", b"1\x00")], "NUL, CR or LF", id="nul-in-value"),
            pytest.param([("x-a", " 1")], "whitespace", id="leading-space"),
            pytest.param([("x-a", "1\t")], "whitespace", id="trailing-htab"),
            pytest.param([("x-a", 1)], "must be str or bytes, not int", id="int-value"),
            pytest.param([(None, "1")], "must be str or bytes, not NoneType", id="none-name"),
            pytest.param([(bytearray(b"x"), "1")], "not bytearray", id="bytearray-name"),
            pytest.param([("x-a", "\udc80")], "UTF-8", id="lone-surrogate"),
            pytest.param([("x-a", "1", "2")], "not a \\(name, value\\) pair", id="triple"),
            pytest.param(["ab"], "not a \\(name, value\\) pair", id="str-instead-of-pair"),
            pytest.param([1], "not a \\(name, value\\) pair", id="int-instead-of-pair"),
            pytest.param([(":path", "/"), (":path", "/a")], "duplicate", id="duplicate-pseudo"),
            pytest.param([(":authority", "u@h")], "userinfo", id="authority-userinfo"),
            pytest.param([(":method", "GET"), ("host", "u@h")], "userinfo", id="host-userinfo"),
            pytest.param([("host", "a"), ("host", "a")], "more than one host", id="two-hosts"),
            pytest.param(
                [(":method", "GET"), (":authority", "a.example"), ("host", "b.example")],
                "host differs",
                id="host-differs-from-authority",
            ),
            pytest.param([("content-length", "+5")], "decimal", id="signed-content-length"),
            pytest.param([("content-length", "")], "decimal", id="empty-content-length"),
            pytest.param([("content-length", "1" * 20)], "decimal", id="long-content-length"),
            pytest.param(
                [("content-length", "5"), ("content-length", "6")],
                "conflicting",
                id="conflicting-content-length",
            ),
            pytest.param(
                [("connection", "close\r\n")], "NUL, CR or LF", id="bad-value-in-dropped-field"
            ),
        ],
    )
    def test_invalid_field_raises(self, headers: list[Any], match: str) -> None:
        with pytest.raises(InvalidHeaderError, match=match):
            prepare_outbound(headers, client_side=True)

    def test_agreeing_content_lengths_pass(self) -> None:
        headers = [("content-length", "5"), ("content-length", "005")]
        assert len(prepare_outbound(headers, True)) == 2

    def test_invalid_header_error_is_a_local_protocol_error(self) -> None:
        with pytest.raises(ValueError):
            prepare_outbound([("x", "\n")], True)


class TestSensitive:
    @pytest.mark.parametrize(
        ("name", "value", "expected"),
        [
            (b"authorization", b"Basic dXNlcjpwYXNzd29yZA==", True),
            (b"proxy-authorization", b"Basic x", True),
            (b"cookie", b"a" * 19, True),
            (b"cookie", b"a" * 20, False),
            (b"set-cookie", b"a=1", False),
            (b"accept", b"*/*", False),
        ],
    )
    def test_credentials_and_short_cookies_are_never_indexed(
        self, name: bytes, value: bytes, expected: bool
    ) -> None:
        assert sensitive(name, value) is expected


# Names that reach the special cases, so random blocks exercise them often.
_INTERESTING_NAMES = [
    *PSEUDO_NAMES,
    *CONNECTION_SPECIFIC,
    b"te",
    b"content-length",
    b"host",
    b"cookie",
    b"accept",
    b"",
    b":",
    b"X-A",
]
_INTERESTING_VALUES = [
    b"",
    b"GET",
    b"CONNECT",
    b"OPTIONS",
    b"*",
    b"/",
    b"200",
    b"5",
    b"5, 5",
    b"trailers",
    b"a@b",
    b" ",
    b"\r\n",
    b"9" * 30,
]
_names = st.one_of(st.sampled_from(_INTERESTING_NAMES), st.binary(max_size=12))
_values = st.one_of(st.sampled_from(_INTERESTING_VALUES), st.binary(max_size=24))
_blocks = st.lists(st.tuples(_names, _values), max_size=12)

_text_or_bytes = st.one_of(st.text(max_size=12), st.binary(max_size=12))
_out_names = st.one_of(
    st.sampled_from([n.decode() for n in _INTERESTING_NAMES] + ["Host", "Connection", "TE"]),
    _text_or_bytes,
)
_out_values = st.one_of(
    st.sampled_from([v.decode() for v in _INTERESTING_VALUES] + ["Trailers", "close, x-a"]),
    _text_or_bytes,
    st.integers(),
)
_out_blocks = st.lists(st.tuples(_out_names, _out_values), max_size=12)


class TestProperties:
    @given(_blocks)
    def test_inspect_request_raises_only_malformed_headers(self, headers: Fields) -> None:
        try:
            result, method, length = inspect_request(headers)
        except MalformedHeaders:
            return
        assert isinstance(method, bytes)
        assert length is None or length >= 0
        assert all(n != b"cookie" for n, _ in result[1:]) or result is headers

    @given(_blocks)
    def test_inspect_response_raises_only_malformed_headers(self, headers: Fields) -> None:
        try:
            status, _ = inspect_response(headers)
        except MalformedHeaders:
            return
        assert 100 <= status <= 599

    @given(_blocks)
    def test_inspect_trailers_raises_only_malformed_headers(self, headers: Fields) -> None:
        try:
            inspect_trailers(headers)
        except MalformedHeaders:
            return
        assert all(n[:1] != b":" for n, _ in headers)

    @given(_out_blocks, st.booleans())
    def test_what_we_send_is_what_we_accept(
        self, headers: list[tuple[Any, Any]], client_side: bool
    ) -> None:
        try:
            result = prepare_outbound(headers, client_side)
        except (InvalidHeaderError, TypeError):
            return
        names = [n for n, _ in result]
        first_regular = next((i for i, n in enumerate(names) if n[:1] != b":"), len(names))
        assert all(n[:1] != b":" for n in names[first_regular:]), "pseudo-headers come first"
        for name, value in result[:first_regular]:
            assert name in PSEUDO_NAMES
            inspect_trailers([(b"x-probe", value)])
        inspect_trailers(result[first_regular:])

"""
Header-field checks for every header block the engine receives or sends.

Received blocks (``inspect_request``, ``inspect_response``,
``inspect_trailers``) are lists of ``(name, value)`` bytes tuples as hpack
decodes them with ``raw=True``. A block that breaks a rule raises
:class:`MalformedHeaders`, which the engine turns into a stream
PROTOCOL_ERROR (RFC 9113 8.1.1). Whatever bytes arrive, no other exception
type escapes: empty names, non-ASCII, huge values included.

The rules, each with its source:

- Names: no byte in 0x00-0x20, A-Z or 0x7F-0xFF, no ':' except the leading
  one of a pseudo-header, never empty (RFC 9113 8.2.1, 8.2; CVE-2019-9516).
- Values: no NUL, CR or LF anywhere, no SP/HTAB at either end; empty is
  allowed (RFC 9113 8.2.1). These are what would let a peer inject a header
  line when we downgrade to HTTP/1.1 (CVE-2025-57804 class).
- Pseudo-headers are one of ``:method :scheme :authority :path :protocol
  :status``, come before every regular field, appear at most once, never
  in trailers, and only in the block type they belong to (RFC 9113 8.3).
- Requests carry :method, :scheme (a URI scheme) and a non-empty :path;
  plain CONNECT carries :method and :authority only, extended CONNECT
  (:protocol, RFC 8441 4) all five; :path ``*`` only with OPTIONS;
  :authority has no userinfo; for ``http`` and ``https`` :path starts
  with ``/`` (or is ``*``) and :authority or Host is not empty
  (RFC 9113 8.3.1, 8.5). One Host at most, equal to :authority apart from
  case (RFC 9113 8.3.1; CVE-2026-71554 class).
- Responses carry exactly one :status of three digits, 100-599
  (RFC 9113 8.3.2, RFC 9110 15).
- Connection-specific fields are malformed, and so is ``te`` unless its
  value is exactly ``trailers`` (RFC 9113 8.2.2).
- content-length is ``1*DIGIT``; repeated fields or list members must agree
  (RFC 9110 8.6; request smuggling when they don't).
- Several cookie fields are joined with ``"; "`` in place of the first one
  (RFC 9113 8.2.3).

Blocks we send go through ``prepare_outbound``, which holds them to the
stricter RFC 9110 token syntax for names, so that everything we send passes
the receive-side checks above. Misuse raises :class:`InvalidHeaderError`
before anything is queued.

Everything here runs once per header block, so each function makes a single
pass over the fields, looks names up in one dict (most names are known and
skip the regex), and builds no new list for a block that needs no rewriting.
No logging, no generator chains.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from hpack import NeverIndexedHeaderTuple

from hyper.engine.errors import ErrorCodes
from hyper.engine.exceptions import HTTP20Error, InvalidHeaderError

__all__ = [
    "MalformedHeaders",
    "inspect_request",
    "inspect_response",
    "inspect_trailers",
    "prepare_outbound",
    "sensitive",
]


class MalformedHeaders(HTTP20Error):
    """
    A received header block is malformed (RFC 9113 8.1.1); ``str()`` says
    why. The engine answers with RST_STREAM(``error_code``).
    """

    error_code: int = ErrorCodes.PROTOCOL_ERROR


# What a name means to these checks. Pseudo-headers are 1-6 so that
# ``kind <= _STATUS`` tests for one and ``1 << kind`` is its bit in a mask.
_REGULAR = 0
_METHOD = 1
_SCHEME = 2
_AUTHORITY = 3
_PATH = 4
_PROTOCOL = 5
_STATUS = 6
_CONNECTION = 7
_HOP_BY_HOP = 8
_TE = 9
_CONTENT_LENGTH = 10
_HOST = 11
_COOKIE = 12

_REQUEST_PSEUDO = (
    (1 << _METHOD) | (1 << _SCHEME) | (1 << _AUTHORITY) | (1 << _PATH) | (1 << _PROTOCOL)
)
_RESPONSE_PSEUDO = 1 << _STATUS

# Names seen on nearly every request or response: the HPACK static table
# (RFC 7541 appendix A) plus what browsers, CDNs and gRPC add. A hit skips the
# character check, so every entry must be a lowercase RFC 9110 token; the test
# suite checks that.
_COMMON_NAMES = (
    b"accept",
    b"accept-charset",
    b"accept-encoding",
    b"accept-language",
    b"accept-ranges",
    b"access-control-allow-credentials",
    b"access-control-allow-headers",
    b"access-control-allow-methods",
    b"access-control-allow-origin",
    b"access-control-expose-headers",
    b"access-control-max-age",
    b"access-control-request-headers",
    b"access-control-request-method",
    b"age",
    b"allow",
    b"alt-svc",
    b"authorization",
    b"cache-control",
    b"content-disposition",
    b"content-encoding",
    b"content-language",
    b"content-location",
    b"content-range",
    b"content-security-policy",
    b"content-type",
    b"date",
    b"dnt",
    b"early-data",
    b"etag",
    b"expect",
    b"expires",
    b"forwarded",
    b"from",
    b"grpc-accept-encoding",
    b"grpc-encoding",
    b"grpc-message",
    b"grpc-status",
    b"grpc-timeout",
    b"if-match",
    b"if-modified-since",
    b"if-none-match",
    b"if-range",
    b"if-unmodified-since",
    b"last-modified",
    b"link",
    b"location",
    b"max-forwards",
    b"origin",
    b"pragma",
    b"priority",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"range",
    b"referer",
    b"referrer-policy",
    b"refresh",
    b"retry-after",
    b"sec-ch-ua",
    b"sec-ch-ua-mobile",
    b"sec-ch-ua-platform",
    b"sec-fetch-dest",
    b"sec-fetch-mode",
    b"sec-fetch-site",
    b"sec-fetch-user",
    b"server",
    b"server-timing",
    b"set-cookie",
    b"strict-transport-security",
    b"timing-allow-origin",
    b"traceparent",
    b"tracestate",
    b"upgrade-insecure-requests",
    b"user-agent",
    b"vary",
    b"via",
    b"www-authenticate",
    b"x-content-type-options",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-frame-options",
    b"x-real-ip",
    b"x-request-id",
    b"x-requested-with",
    b"x-xss-protection",
)

_KINDS: dict[bytes, int] = dict.fromkeys(_COMMON_NAMES, _REGULAR)
_KINDS.update(
    {
        b":method": _METHOD,
        b":scheme": _SCHEME,
        b":authority": _AUTHORITY,
        b":path": _PATH,
        b":protocol": _PROTOCOL,
        b":status": _STATUS,
        # RFC 9113 8.2.2: HTTP/2 carries connection options in its own frames.
        b"connection": _CONNECTION,
        b"proxy-connection": _HOP_BY_HOP,
        b"keep-alive": _HOP_BY_HOP,
        b"transfer-encoding": _HOP_BY_HOP,
        b"upgrade": _HOP_BY_HOP,
        b"te": _TE,
        b"content-length": _CONTENT_LENGTH,
        b"host": _HOST,
        b"cookie": _COOKIE,
    }
)

# RFC 9113 8.2.1 for what we receive; the class is the complement of what a
# name may hold, so one search finds the first bad byte.
_find_bad_name_byte = re.compile(rb"[\x00-\x20A-Z:\x7f-\xff]").search
# RFC 9110 5.1 field-name = token (5.6.2), for what we send: stricter than the
# receive rule, so our own output always passes it.
_is_token = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-zA-Z]+").fullmatch

# A value is valid when stripping SP/HTAB at the ends and deleting NUL/CR/LF
# removes nothing: ``len(v.strip(_OWS).translate(None, _CTL)) == len(v)``.
# Measured on CPython 3.11 that costs half a regex search and a fifth of three
# ``in`` tests, and both calls hand the value itself back when it is clean.
_OWS = b" \t"
_CTL = b"\x00\r\n"

# RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
_is_scheme = re.compile(rb"[a-zA-Z][a-zA-Z0-9+\-.]*").fullmatch
# Schemes whose URIs have a mandatory authority and an absolute path (RFC 9113 8.3.1).
_WEB_SCHEMES = frozenset((b"http", b"https"))

# Most methods are these; the rest go through the token check (RFC 9110 9.1),
# which keeps a space in :method from splitting an HTTP/1.1 request line.
_COMMON_METHODS = frozenset(
    (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH")
)

# nghttp2 and Go parse content-length into an int64; a longer value is either
# beyond any real body or padded with zeros to slip past a digit-count check.
_MAX_CONTENT_LENGTH = 2**63 - 1
_MAX_CONTENT_LENGTH_DIGITS = 19

# Firefox and nghttp2 keep these out of the HPACK dynamic table so that a
# compression oracle (CRIME-style) cannot guess them byte by byte. Long cookies
# have enough entropy to be indexed safely; short ones do not.
_NEVER_INDEXED = frozenset((b"authorization", b"proxy-authorization"))
_MIN_INDEXED_COOKIE = 20

# Reasons quote names, never values: a value may be a credential, and an error
# message ends up in logs.
_SHOW_MAX = 40


def _show(name: bytes) -> str:
    if len(name) > _SHOW_MAX:
        return repr(name[:_SHOW_MAX]) + "..."
    return repr(name)


def _classify_received_name(name: bytes) -> int:
    """Return the kind of a name missing from ``_KINDS``, or raise."""
    if not name:
        raise MalformedHeaders("empty field name")
    if name[0] == 0x3A:
        # Every allowed pseudo-header is in _KINDS.
        raise MalformedHeaders(f"unknown pseudo-header {_show(name)}")
    match = _find_bad_name_byte(name)
    if match is not None:
        if b"A" <= match.group() <= b"Z":
            raise MalformedHeaders(f"uppercase field name {_show(name)}")
        raise MalformedHeaders(f"invalid character {match.group()!r} in field name {_show(name)}")
    return _REGULAR


def _parse_content_length(value: bytes) -> int:
    """Parse a received content-length value, or raise MalformedHeaders."""
    if value.isdigit() and len(value) <= _MAX_CONTENT_LENGTH_DIGITS:
        length = int(value)
    else:
        # RFC 9110 8.6 lets a recipient accept a list of identical values,
        # which is what a proxy makes of two fields it folded together.
        length = -1
        for part in value.split(b","):
            part = part.strip(_OWS)
            if not (part.isdigit() and len(part) <= _MAX_CONTENT_LENGTH_DIGITS):
                raise MalformedHeaders("content-length is not a decimal number")
            if length != -1 and int(part) != length:
                raise MalformedHeaders("conflicting content-length values")
            length = int(part)
    if length > _MAX_CONTENT_LENGTH:
        raise MalformedHeaders("content-length too large")
    return length


def _scan(
    headers: Iterable[tuple[bytes, bytes]], allowed_pseudo: int
) -> tuple[list[bytes | None], int | None, list[bytes] | None, list[bytes] | None]:
    """
    Check every field of a received block in one pass. ``allowed_pseudo`` is
    a bit mask of the pseudo-header kinds this block type may carry.

    Returns the pseudo-header values indexed by kind (slot 0 unused), the
    content-length, and every host and every cookie value (None for none).
    """
    pseudo: list[bytes | None] = [None, None, None, None, None, None, None]
    content_length: int | None = None
    hosts: list[bytes] | None = None
    cookies: list[bytes] | None = None
    regular_seen = False
    for name, value in headers:
        kind = _KINDS.get(name)
        if kind is None:
            kind = _classify_received_name(name)
        if len(value.strip(_OWS).translate(None, _CTL)) != len(value):
            if len(value.translate(None, _CTL)) != len(value):
                raise MalformedHeaders(f"NUL, CR or LF in the value of {_show(name)}")
            raise MalformedHeaders(f"leading or trailing whitespace in the value of {_show(name)}")
        if kind == _REGULAR:
            regular_seen = True
        elif kind <= _STATUS:
            if regular_seen:
                raise MalformedHeaders(f"pseudo-header {_show(name)} after a regular field")
            if not allowed_pseudo & (1 << kind):
                raise MalformedHeaders(f"pseudo-header {_show(name)} not allowed in this block")
            if pseudo[kind] is not None:
                raise MalformedHeaders(f"duplicate pseudo-header {_show(name)}")
            pseudo[kind] = value
        else:
            regular_seen = True
            if kind == _COOKIE:
                if cookies is None:
                    cookies = [value]
                else:
                    cookies.append(value)
            elif kind == _CONTENT_LENGTH:
                length = _parse_content_length(value)
                if content_length is not None and length != content_length:
                    raise MalformedHeaders("conflicting content-length values")
                content_length = length
            elif kind == _HOST:
                if hosts is None:
                    hosts = [value]
                else:
                    hosts.append(value)
            elif kind == _TE:
                if value != b"trailers":
                    raise MalformedHeaders("te field with a value other than 'trailers'")
            else:
                raise MalformedHeaders(f"connection-specific field {_show(name)}")
    return pseudo, content_length, hosts, cookies


def inspect_request(
    headers: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], bytes, int | None]:
    """
    Validate a received request header block (HEADERS or PUSH_PROMISE).

    :returns: ``(headers, method, content_length)``. ``headers`` is the list
        given, or a new one when several cookie fields were joined into one
        (RFC 9113 8.2.3) where the first of them was. ``content_length`` is
        None when the block has none.
    :raises MalformedHeaders: the block breaks a rule in the module docstring.
    """
    pseudo, content_length, hosts, cookies = _scan(headers, _REQUEST_PSEUDO)
    _, method, scheme, authority, path, protocol, _ = pseudo
    if method is None:
        raise MalformedHeaders("request without :method")
    if method not in _COMMON_METHODS and _is_token(method) is None:
        raise MalformedHeaders(":method is not a token")
    if method == b"CONNECT":
        if authority is None:
            raise MalformedHeaders("CONNECT without :authority")
        if protocol is None:
            if scheme is not None or path is not None:
                raise MalformedHeaders("CONNECT with :scheme or :path")
        elif scheme is None or path is None:
            raise MalformedHeaders("extended CONNECT without :scheme or :path")
    else:
        if protocol is not None:
            raise MalformedHeaders(":protocol without CONNECT")
        if scheme is None:
            raise MalformedHeaders("request without :scheme")
        if path is None:
            raise MalformedHeaders("request without :path")
    if scheme is not None and _is_scheme(scheme) is None:
        raise MalformedHeaders(":scheme is not a URI scheme")
    web = scheme in _WEB_SCHEMES
    if path is not None:
        if not path:
            raise MalformedHeaders("empty :path")
        if path == b"*":
            if method != b"OPTIONS":
                raise MalformedHeaders(":path '*' without OPTIONS")
        elif web and path[0] != 0x2F:
            # 8.3.1: for http and https, the absolute-path (and query) part
            # of the target: origin form, never absolute or relative form.
            raise MalformedHeaders(":path does not start with '/'")
    if authority is not None:
        if b"@" in authority:
            raise MalformedHeaders(":authority with userinfo")
        if web and not authority:
            # 8.3.1: "If these fields are present, they MUST NOT be empty."
            raise MalformedHeaders("empty :authority")
    if hosts is not None:
        # Two Hosts, or one that disagrees with :authority, lets a proxy and
        # the origin route the same request differently.
        if len(hosts) > 1:
            raise MalformedHeaders("more than one host field")
        host = hosts[0]
        if authority is not None and host != authority and host.lower() != authority.lower():
            raise MalformedHeaders("host differs from :authority")
        if web and not host:
            raise MalformedHeaders("empty host")
    if cookies is not None and len(cookies) > 1:
        headers = _join_cookies(headers, b"; ".join(cookies))
    return headers, method, content_length


def _join_cookies(headers: list[tuple[bytes, bytes]], joined: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    placed = False
    for field in headers:
        if field[0] == b"cookie":
            if not placed:
                out.append((b"cookie", joined))
                placed = True
        else:
            out.append(field)
    return out


def inspect_response(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int, int | None]:
    """
    Validate a received response header block, final or 1xx (the engine
    decides what a 1xx may do).

    :returns: ``(status, content_length)``, the latter None when absent.
    :raises MalformedHeaders: the block breaks a rule in the module docstring.
    """
    pseudo, content_length, _, _ = _scan(headers, _RESPONSE_PSEUDO)
    status = pseudo[_STATUS]
    if status is None:
        raise MalformedHeaders("response without :status")
    if len(status) != 3 or not status.isdigit() or not b"100" <= status <= b"599":
        raise MalformedHeaders(":status is not a status code (100-599)")
    return int(status), content_length


def inspect_trailers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """
    Validate a received trailer block: the field rules, and no pseudo-headers.

    :raises MalformedHeaders: the block breaks a rule in the module docstring.
    """
    _scan(headers, 0)


def prepare_outbound(
    headers: Iterable[tuple[str | bytes, str | bytes]], client_side: bool
) -> list[tuple[bytes, bytes]]:
    """
    Turn a caller's header block into the fields we send.

    Names and values may be str (encoded as UTF-8) or bytes. Names are
    lowercased and pseudo-headers moved first; other fields keep their order.
    Connection-specific fields, and any field a ``connection`` field names,
    are dropped (RFC 9113 8.2.2); ``te`` is kept, as ``trailers``, only when
    that is its value (any case). For a client request without :authority a
    single ``host`` becomes :authority; with :authority, a ``host`` equal to
    it is dropped (RFC 9113 8.3.1).

    :param client_side: True when we are the client.
    :returns: a new list of ``(name, value)`` bytes tuples.
    :raises InvalidHeaderError: a field that cannot be sent: a name that is
        empty, not a token or an unknown pseudo-header; a value with NUL, CR
        or LF or with SP/HTAB at either end; a name or value that is neither
        str nor bytes; a repeated pseudo-header; :authority with userinfo;
        more than one host, or one that differs from :authority; a
        content-length that is not ``1*DIGIT`` or disagrees with another.
    """
    pseudo: list[tuple[bytes, bytes]] = []
    regular: list[tuple[bytes, bytes]] = []
    pseudo_seen = 0
    authority: bytes | None = None
    is_request = False
    host: bytes | None = None
    host_index = 0
    content_length = -1
    nominated: set[bytes] | None = None
    fields: Iterable[Sequence[object]] = headers
    for field in fields:
        if type(field) is not tuple and isinstance(field, (str, bytes, bytearray)):
            # It would unpack into characters and pass as a field.
            raise InvalidHeaderError(f"header field {field!r:.60} is not a (name, value) pair")
        try:
            raw_name, raw_value = field
        except (TypeError, ValueError):
            raise InvalidHeaderError(
                f"header field {field!r:.60} is not a (name, value) pair"
            ) from None
        if type(raw_name) is bytes:
            name = raw_name
        elif type(raw_name) is str and raw_name.isascii():
            name = raw_name.encode("ascii")
        else:
            name = _encode(raw_name, "name", b"")
        if type(raw_value) is bytes:
            value = raw_value
        elif type(raw_value) is str and raw_value.isascii():
            value = raw_value.encode("ascii")
        else:
            value = _encode(raw_value, "value", name)
        kind = _KINDS.get(name)
        if kind is None:
            name = name.lower()
            kind = _KINDS.get(name)
            if kind is None:
                kind = _classify_outbound_name(name)
        if len(value.strip(_OWS).translate(None, _CTL)) != len(value):
            if len(value.translate(None, _CTL)) != len(value):
                raise InvalidHeaderError(f"NUL, CR or LF in the value of {_show(name)}")
            raise InvalidHeaderError(
                f"leading or trailing whitespace in the value of {_show(name)}"
            )
        # RFC 7541 6.2.3: a field the caller marked never-indexed (a proxy
        # forwarding one it received) must stay never-indexed.
        out = (name, value) if type(field) is tuple else _same_representation(field, name, value)
        if kind in (_REGULAR, _COOKIE):
            regular.append(out)
        elif kind <= _STATUS:
            if pseudo_seen & (1 << kind):
                raise InvalidHeaderError(f"duplicate pseudo-header {_show(name)}")
            pseudo_seen |= 1 << kind
            if kind == _METHOD:
                is_request = True
            elif kind == _AUTHORITY:
                if b"@" in value:
                    raise InvalidHeaderError(":authority with userinfo")
                authority = value
            pseudo.append(out)
        elif kind == _HOST:
            # Held aside: it may become :authority, be dropped, or go back
            # where it was.
            if host is not None:
                raise InvalidHeaderError("more than one host field")
            host = value
            host_index = len(regular)
        elif kind == _CONTENT_LENGTH:
            # Held to the receive rule, so the peer sees what we would accept.
            if not (value.isdigit() and len(value) <= _MAX_CONTENT_LENGTH_DIGITS) or (
                int(value) > _MAX_CONTENT_LENGTH
            ):
                raise InvalidHeaderError("content-length is not a decimal number")
            if content_length != -1 and content_length != int(value):
                raise InvalidHeaderError("conflicting content-length values")
            content_length = int(value)
            regular.append(out)
        elif kind == _TE:
            if value.lower() == b"trailers":
                regular.append((name, b"trailers"))
        elif kind == _CONNECTION:
            # Its options name fields meant for this hop only (RFC 9110 7.6.1).
            if nominated is None:
                nominated = set()
            for option in value.split(b","):
                nominated.add(option.strip(_OWS).lower())
        # _HOP_BY_HOP fields are dropped.

    if host is not None and not (nominated is not None and b"host" in nominated):
        if authority is not None:
            # RFC 9113 8.3.1: a client MUST NOT send a Host that differs.
            if host != authority and host.lower() != authority.lower():
                raise InvalidHeaderError("host differs from :authority")
        elif client_side and is_request:
            if b"@" in host:
                raise InvalidHeaderError("host with userinfo")
            pseudo.append((b":authority", host))
        else:
            regular.insert(host_index, (b"host", host))
    if nominated is not None:
        regular = [field for field in regular if field[0] not in nominated]
    pseudo.extend(regular)
    return pseudo


def _same_representation(field: object, name: bytes, value: bytes) -> tuple[bytes, bytes]:
    if isinstance(field, NeverIndexedHeaderTuple):
        return NeverIndexedHeaderTuple(name, value)
    return (name, value)


def _encode(item: object, what: str, name: bytes) -> bytes:
    """Encode a str name or value as UTF-8; reject other types."""
    where = f" of {_show(name)}" if name else ""
    if isinstance(item, str):
        try:
            return item.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates, e.g. from os.fsdecode of undecodable bytes.
            raise InvalidHeaderError(f"header {what}{where} is not encodable as UTF-8") from None
    if isinstance(item, bytes):
        return bytes(item)
    raise InvalidHeaderError(
        f"header {what}{where} must be str or bytes, not {type(item).__name__}"
    )


def _classify_outbound_name(name: bytes) -> int:
    """Return the kind of a lowercased name missing from ``_KINDS``, or raise."""
    if not name:
        raise InvalidHeaderError("empty header name")
    if name[0] == 0x3A:
        raise InvalidHeaderError(f"unknown pseudo-header {_show(name)}")
    if _is_token(name) is None:
        raise InvalidHeaderError(f"header name {_show(name)} is not a token")
    return _REGULAR


def sensitive(name: bytes, value: bytes) -> bool:
    """
    Return True when hpack must never index the field: credentials, and
    cookies under 20 bytes (the rule h2, Firefox and nghttp2 use).
    """
    if name == b"cookie":
        return len(value) < _MIN_INDEXED_COOKIE
    return name in _NEVER_INDEXED

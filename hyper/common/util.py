"""
Small helpers shared by hyper's HTTP/1.1 and HTTP/2 sides: string coercion,
``host[:port]`` splitting and a minimal URL parser.

The names ``to_bytestring``, ``to_bytestring_tuple``, ``to_native_string``,
``to_host_port_tuple`` and ``HTTPVersion`` are the historic
``hyper.common.util`` ones.
"""

from __future__ import annotations

import enum
import ipaddress
import re

from hyper.common.exceptions import InvalidArgumentError

__all__ = [
    "HTTPVersion",
    "parse_url",
    "to_bytestring",
    "to_bytestring_tuple",
    "to_host_port_tuple",
    "to_native_string",
]


class HTTPVersion(enum.Enum):
    """The HTTP versions a connection can speak."""

    http11 = "HTTP/1.1"
    http20 = "HTTP/2"


def to_bytestring(element: str | bytes) -> bytes:
    """Return ``element`` as bytes, encoding a ``str`` as UTF-8.

    :raises ValueError: ``element`` is neither ``str`` nor ``bytes`` (the
        historic behaviour, kept so existing ``except ValueError`` still works).
    """
    # Exact type checks first: header maps call this per name and per value.
    if type(element) is bytes:
        return element
    if type(element) is str:
        return element.encode("utf-8")
    if isinstance(element, bytes):
        return bytes(element)
    if isinstance(element, str):
        return element.encode("utf-8")
    raise InvalidArgumentError(f"Non string type: {type(element).__name__}")


def to_bytestring_tuple(*x: str | bytes) -> tuple[bytes, ...]:
    """Apply :func:`to_bytestring` to every argument and return a tuple."""
    return tuple(to_bytestring(e) for e in x)


def to_native_string(string: str | bytes, encoding: str = "utf-8") -> str:
    """Return ``string`` as ``str``, decoding bytes with ``encoding``."""
    if isinstance(string, str):
        return string
    return string.decode(encoding)


# RFC 3986 reg-name, minus what can never appear in a host we would dial:
# whitespace, controls, delimiters of other URL parts and brackets. Non-ASCII
# is let through so that IDNs reach the IDNA encoder in socket.getaddrinfo.
_BAD_HOST_CHARS = re.compile(r"[\s\x00-\x1f\x7f/?#@\[\]\\:<>\"{}|^`]")


def _check_port(port: str, original: str) -> int:
    # int() would also take "+80", " 80", "8_0" and non-ASCII digits.
    if not (port.isascii() and port.isdigit()):
        raise InvalidArgumentError(f"Invalid port in {original!r}")
    value = int(port)
    if not 0 < value <= 65535:
        raise InvalidArgumentError(f"Port out of range in {original!r}")
    return value


def _check_ipv6(host: str, original: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise InvalidArgumentError(f"Invalid IPv6 address in {original!r}") from None


def to_host_port_tuple(host_port_str: str | bytes, default_port: int = 80) -> tuple[str, int]:
    """Split ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6
    address into ``(host, port)``; IPv6 hosts come back without brackets.

    :param default_port: the port used when none is given.
    :raises ValueError: the string is not a host with an optional valid port.
    """
    text = to_native_string(host_port_str, "ascii")
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            raise InvalidArgumentError(f"Unterminated IPv6 literal in {text!r}")
        host = text[1:end]
        _check_ipv6(host, text)
        rest = text[end + 1 :]
        if not rest:
            return host, default_port
        if not rest.startswith(":"):
            raise InvalidArgumentError(f"Unexpected text after IPv6 literal in {text!r}")
        return host, _check_port(rest[1:], text)

    if text.count(":") > 1:
        # More than one colon and no brackets: only a bare IPv6 address fits,
        # and it cannot carry a port (the last group would be ambiguous).
        _check_ipv6(text, text)
        return text, default_port

    host, sep, port = text.partition(":")
    if not host:
        raise InvalidArgumentError(f"No host in {text!r}")
    if _BAD_HOST_CHARS.search(host):
        raise InvalidArgumentError(f"Invalid host in {text!r}")
    if not sep:
        return host, default_port
    return host, _check_port(port, text)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_url(url: str | bytes) -> tuple[str, str, int, str]:
    """Split an ``http``/``https`` URL into ``(scheme, host, port, path)``.

    ``path`` keeps the query string (it is the request target) and defaults to
    ``'/'``; the fragment is dropped because it is never sent. The port
    defaults to 80 or 443 by scheme.

    :raises ValueError: not an absolute ``http``/``https`` URL with a valid
        host, or it carries userinfo (``user:pass@``), which hyper does not
        send.
    """
    text = to_native_string(url, "ascii")
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise InvalidArgumentError(f"Not an absolute http(s) URL: {text!r}")
    rest = rest.partition("#")[0]
    cut = len(rest)
    for delimiter in "/?":
        at = rest.find(delimiter)
        if at != -1 and at < cut:
            cut = at
    authority, target = rest[:cut], rest[cut:]
    if "@" in authority:
        raise InvalidArgumentError(f"Userinfo in URLs is not supported: {text!r}")
    if not authority:
        raise InvalidArgumentError(f"URL has no host: {text!r}")
    # Without brackets only "host:port" is valid in a URL (RFC 3986 3.2.2); a
    # bare IPv6 address must be rejected, not read as a host.
    if not authority.startswith("[") and authority.count(":") > 1:
        raise InvalidArgumentError(f"IPv6 hosts need brackets in URLs: {text!r}")
    host, port = to_host_port_tuple(authority, _DEFAULT_PORTS[scheme])
    if not target:
        target = "/"
    elif target[0] == "?":
        target = "/" + target
    return scheme, host, port, target

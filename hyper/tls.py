"""
TLS for hyper: building client contexts fit for HTTP/2 and wrapping sockets.

A context from :func:`init_context` meets RFC 9113 9.2: TLS 1.2 or newer,
compression off, renegotiation refused, SNI always sent (``wrap_socket``
passes ``server_hostname``), and ALPN offering ``h2`` then ``http/1.1``. The
caller decides what to do with the protocol :func:`wrap_socket` reports; it
never assumes ``h2``.

This module is the one place hyper's default contexts are built and cached:
:func:`default_context` serves every front end. Assign a context to
``hyper.tls._context`` (the historic way) to change the default of every
connection. A context passed to a connection as ``ssl_context`` gets the
ALPN protocols that connection needs set on it when it connects (see
:func:`hyper.net.connect.open_socket`); hyper's defaults are never changed
that way, since every connection shares them.

The names here are the historic ``hyper.tls`` ones.
"""

from __future__ import annotations

import os.path
import socket
import ssl
import weakref
from collections.abc import Sequence
from typing import Callable, Union

from hyper.common.exceptions import MissingCertFile

try:
    import certifi

    #: The CA bundle loaded by default (historic name): certifi's, when
    #: installed. The system store is loaded as well.
    cert_loc: str | None = certifi.where()
except ImportError:  # pragma: no cover - certifi is a declared dependency
    cert_loc = None

__all__ = [
    "H2C_PROTOCOL",
    "H2_NPN_PROTOCOLS",
    "NPN_PROTOCOL",
    "SUPPORTED_NPN_PROTOCOLS",
    "init_context",
    "wrap_socket",
]

#: The ALPN identifier of HTTP/2 over TLS (RFC 9113 3.2).
NPN_PROTOCOL = "h2"
#: ALPN identifiers that mean HTTP/2. The draft identifiers (h2-14...) the
#: historic list carried are gone: no server still speaks them.
H2_NPN_PROTOCOLS = [NPN_PROTOCOL]
#: What we offer, in order of preference.
SUPPORTED_NPN_PROTOCOLS = [*H2_NPN_PROTOCOLS, "http/1.1"]
#: The identifier of cleartext HTTP/2, used in the Upgrade header.
H2C_PROTOCOL = "h2c"

#: What a connection reports when the server selected no protocol: a server
# without ALPN speaks HTTP/1.1 (RFC 7301 3.2 lets it ignore the extension).
DEFAULT_PROTOCOL = "http/1.1"

_Password = Union[str, bytes, bytearray, Callable[[], Union[str, bytes, bytearray]]]
_ClientCert = Union[str, tuple[str, str]]

# The default contexts, built on first use and shared: building one loads a
# few hundred CA certificates, far too slow to repeat per connection. This is
# the one cache of them in hyper. ``_context`` is the historic name users
# assign to change the default; hyper keeps its own default offering h2 and
# http/1.1 there too. The other variants (by the protocols they offer) are in
# ``_variants``: http/1.1 only for HTTP11Connection, which must not let a
# server pick h2; h2 only for the asyncio client.
_context: ssl.SSLContext | None = None
_variants: dict[tuple[str, ...], ssl.SSLContext] = {}
# Every context hyper built for ``_context``, held weakly: one there that is
# not among them is a user's. (An identity check against the latest alone
# would take hyper's previous default, put back in ``_context``, for a user's.)
_ours: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()
_BOTH = tuple(SUPPORTED_NPN_PROTOCOLS)


def init_context(
    cert_path: str | None = None,
    cert: _ClientCert | None = None,
    cert_password: _Password | None = None,
) -> ssl.SSLContext:
    """Create an ``SSLContext`` set up for HTTP/2 (and HTTP/1.1 fallback).

    Certificates are verified and host names checked. By default the
    certifi bundle and the system's default store are trusted.

    :param cert_path: a CA bundle file (or a directory of hashed CA files)
        to trust *instead of* the defaults.
    :param cert: a client certificate: the path of a PEM file holding the
        certificate and its key, or a ``(certfile, keyfile)`` tuple.
    :param cert_password: the client key's password, or a callable
        returning it; only used if the key is encrypted.
    :raises MissingCertFile: ``cert_path`` or a client certificate file
        does not exist.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # PROTOCOL_TLS_CLIENT already sets both; set them anyway so that this
    # function, not a default, is where the guarantee lives.
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True

    if cert_path is not None:
        if os.path.isdir(cert_path):
            context.load_verify_locations(capath=cert_path)
        elif os.path.isfile(cert_path):
            context.load_verify_locations(cafile=cert_path)
        else:
            raise MissingCertFile(f"No CA certificates found at {cert_path!r}")
    else:
        if cert_loc is not None:
            context.load_verify_locations(cafile=cert_loc)
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)

    # RFC 9113 9.2: TLS 1.2 or later, no TLS compression (CRIME), and
    # renegotiation treated as a connection error, which OpenSSL enforces by
    # refusing it (OP_NO_RENEGOTIATION needs OpenSSL 1.1.0h).
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    # RFC 9113 9.2.3: a post-handshake CertificateRequest is a PROTOCOL_ERROR.
    # Not advertising post_handshake_auth means a TLS 1.3 server may not send
    # one. Python's default already, but that default is not ours to rely on.
    context.post_handshake_auth = False
    context.set_alpn_protocols(SUPPORTED_NPN_PROTOCOLS)

    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        for path in (certfile, keyfile):
            if path is not None and not os.path.isfile(path):
                raise MissingCertFile(f"No client certificate file at {path!r}")
        context.load_cert_chain(certfile, keyfile, cert_password)

    return context


def default_context(protocols: Sequence[str] = SUPPORTED_NPN_PROTOCOLS) -> ssl.SSLContext:
    """
    hyper's default context offering ``protocols`` through ALPN, built by
    :func:`init_context` on first use and shared by every connection after.
    The variants in use: ``["h2", "http/1.1"]`` (the default, which is
    ``_context``), ``["http/1.1"]`` and ``["h2"]``.

    A context a user assigned to ``_context`` is returned for every variant,
    as it is: its CA, client certificate and ALPN settings are the ones they
    asked for.

    The context returned is shared: never change it (set ALPN on a context
    of your own instead).
    """
    global _context
    # Two threads racing here may each build a context; one is kept and both
    # are equivalent, which is cheaper than a lock on every connection.
    context = _context
    if context is None:
        context = init_context()
        _ours.add(context)
        _context = context
    elif context not in _ours:
        return context
    key = tuple(protocols)
    if key == _BOTH:
        return context
    variant = _variants.get(key)
    if variant is None:
        variant = init_context()
        variant.set_alpn_protocols(list(key))
        _variants[key] = variant
    return variant


def wrap_socket(
    sock: socket.socket,
    server_hostname: str,
    ssl_context: ssl.SSLContext | None = None,
    force_proto: str | None = None,
) -> tuple[ssl.SSLSocket, str]:
    """Run the TLS handshake on a connected socket.

    SNI is always sent and the certificate checked against
    ``server_hostname`` (unless the given context turned that off).

    :param ssl_context: the context to use; by default a shared one from
        :func:`init_context`.
    :param force_proto: report this protocol instead of the negotiated one.
    :returns: ``(tls_socket, protocol)``, where ``protocol`` is the ALPN
        protocol the server selected, or ``'http/1.1'`` if it selected none.
    :raises ssl.SSLError: the handshake failed;
        ``ssl.SSLCertVerificationError`` when the certificate is not trusted
        or does not match ``server_hostname``.
    """
    context = ssl_context if ssl_context is not None else default_context()
    tls_sock = context.wrap_socket(sock, server_hostname=server_hostname)
    proto = force_proto or tls_sock.selected_alpn_protocol() or DEFAULT_PROTOCOL
    return tls_sock, proto

"""
The network: sockets, and nothing about HTTP.

Raw non-blocking socket I/O (:mod:`~hyper.net.rawio`), TLS kept in memory
(:mod:`~hyper.net.tls_socket`), the socket a blocking driver shares between
threads (:mod:`~hyper.net.transport`), opening a connection through proxies
and TLS (:mod:`~hyper.net.connect`), and the one translation of OS, TLS and
timeout errors into hyper's exceptions (:mod:`~hyper.net.errors`).

Internal: no module here is public API.

May import: ``hyper.net``, ``hyper.tls`` (the default TLS contexts),
``hyper.common``.
"""

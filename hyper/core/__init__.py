"""
The cores: each role's policy over one engine, sans-IO.

:mod:`~hyper.core.client` (the client: what each event means for a stream,
refused and GOAWAY'd streams, window credit as the application reads,
pushes, CANCEL on release), :mod:`~hyper.core.server` (the server: request
slots, timers, graceful shutdown), :mod:`~hyper.core.streams` (what both
roles share: the stream buffer and its read with window credit, push
records, and ``BaseCore``: PING bookkeeping, the send window),
:mod:`~hyper.core.interface` (the typed interface both cores implement,
which a driver drives) and :mod:`~hyper.core.origin` (a client front end's
connections to one origin: reconnecting after GOAWAY, stream ids across
connections, pending requests). A driver moves bytes in and out of a core
and waits where a core's predicate says it must; every decision is the
core's.

Internal: no module here is public API.

May import: ``hyper.core``, ``hyper.engine``, ``hyper.common``; never
socket, ssl, select, threading, asyncio or time.
"""

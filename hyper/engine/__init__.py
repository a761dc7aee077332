"""
The engine: the HTTP/2 protocol, sans-IO, for both roles.

One :class:`~hyper.engine.engine.Engine` per connection takes bytes in
(``receive_data``), gives events back (:mod:`hyper.engine.events`), and
queues the bytes of its commands for ``data_to_send()``: the connection and
stream state machines, frames, header rules, HPACK, settings, flow control
and limits. It owns no socket, thread, clock or event loop.

Public: :mod:`~hyper.engine.engine`, :mod:`~hyper.engine.config`,
:mod:`~hyper.engine.events`, :mod:`~hyper.engine.errors`,
:mod:`~hyper.engine.exceptions`, :mod:`~hyper.engine.window` (also at their
historic paths under ``hyper.http20``). The other modules are the engine's own.

May import: ``hyper.engine``, ``hyper.common``, hyperframe and hpack; never
socket, ssl, select, threading, asyncio or time.
"""

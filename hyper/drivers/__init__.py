"""
The drivers: they move bytes between a socket and a core, and wait.

:mod:`~hyper.drivers.sync_h2` runs an HTTP/2 client core over a blocking
socket shared by threads (no background thread); :mod:`~hyper.drivers.sync_h1`
is the blocking HTTP/1.1 channel under h11; :mod:`~hyper.drivers.async_h2`
is the asyncio driver of either role (an ``asyncio.Protocol`` over a core
typed by :class:`hyper.core.interface.DrivenCore`), with a public surface
for the asyncio front end (:mod:`hyper.aio`). A driver never decides policy
and never builds or parses a frame.

Internal: no module here is public API. ``async_h2`` uses no thread.

May import: ``hyper.drivers``, ``hyper.net``, ``hyper.tls``, ``hyper.core``,
``hyper.engine``, ``hyper.common``.
"""

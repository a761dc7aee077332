"""
What both HTTP versions share, without I/O: the header map
(:mod:`~hyper.common.headers`), content decoding
(:mod:`~hyper.common.decoder`), request building, the response base class
(:mod:`~hyper.common.response`), small helpers (:mod:`~hyper.common.util`)
and the exception tree (:mod:`~hyper.common.exceptions`).

``hyper.common.connection`` is the historic path of :class:`hyper.HTTPConnection`
(now :mod:`hyper.connection`), kept for old code.

May import: ``hyper.common``; never socket, ssl, select, threading, asyncio
or time.
"""

"""
hyper.aio: HTTP/2 for asyncio, client and server, with aioh2's API
(``import hyper.aio as aioh2``), over the same sans-IO engine as the
blocking client.
"""

from hyper.aio.connection import AsyncHTTP20Connection
from hyper.aio.exceptions import AIOH2Exception, SendException
from hyper.aio.helper import (
    open_connection,
    open_unix_connection,
    start_server,
    start_unix_server,
)
from hyper.aio.protocol import H2Protocol
from hyper.aio.response import AsyncHTTP20Push, AsyncHTTP20Response
from hyper.core.server import ServerLimits

__all__ = [
    "AIOH2Exception",
    "AsyncHTTP20Connection",
    "AsyncHTTP20Push",
    "AsyncHTTP20Response",
    "H2Protocol",
    "SendException",
    "ServerLimits",
    "open_connection",
    "open_unix_connection",
    "start_server",
    "start_unix_server",
]

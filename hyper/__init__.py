"""hyper: HTTP/2 for Python, behind the ``http.client`` API."""

from hyper._version import __version__
from hyper.common.headers import HTTPHeaderMap
from hyper.connection import HTTPConnection, HTTPSConnection
from hyper.http11.connection import HTTP11Connection
from hyper.http11.response import HTTP11Response
from hyper.http20.connection import HTTP20Connection
from hyper.http20.response import HTTP20Push, HTTP20Response

__all__ = [
    "HTTP11Connection",
    "HTTP11Response",
    "HTTP20Connection",
    "HTTP20Push",
    "HTTP20Response",
    "HTTPConnection",
    "HTTPHeaderMap",
    "HTTPSConnection",
    "__version__",
]

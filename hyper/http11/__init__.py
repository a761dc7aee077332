"""HTTP/1.1 for hyper, on ``h11``: :class:`HTTP11Connection` and :class:`HTTP11Response`."""

from hyper.http11.connection import HTTP11Connection
from hyper.http11.response import HTTP11Response

__all__ = ["HTTP11Connection", "HTTP11Response"]

"""
hyper under httpx: transports that give ``httpx.Client`` and
``httpx.AsyncClient`` hyper's HTTP/2::

    client = httpx.Client(transport=hyper.contrib.httpx.HTTPTransport())
    client = httpx.AsyncClient(transport=hyper.contrib.httpx.AsyncHTTPTransport())

Needs ``httpx``, an optional dependency: ``pip install 'hyper[httpx]'``.
"""

try:
    import httpx  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "hyper.contrib.httpx needs httpx, an optional dependency of hyper: "
        "pip install 'hyper[httpx]'"
    ) from exc

from hyper.contrib.httpx._async import AsyncHTTPTransport
from hyper.contrib.httpx._sync import HTTPTransport

__all__ = ["AsyncHTTPTransport", "HTTPTransport"]

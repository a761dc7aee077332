"""
hyper's requests adapter: mount :class:`HTTP2Adapter` on a
``requests.Session`` for HTTP/2 with nothing else changed::

    session.mount("https://", HTTP2Adapter())

Needs ``requests``, an optional dependency: ``pip install 'hyper[requests]'``.
"""

try:
    import requests  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "hyper.contrib needs requests, an optional dependency of hyper: "
        "pip install 'hyper[requests]'"
    ) from exc

from hyper.contrib._adapter import HTTP2Adapter, HTTP20Adapter
from hyper.contrib._errors import BodyReadTimeout
from hyper.contrib._raw import RawResponse

__all__ = ["BodyReadTimeout", "HTTP2Adapter", "HTTP20Adapter", "RawResponse"]

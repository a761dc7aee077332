"""
hyper under other HTTP libraries.

- :class:`HTTP2Adapter`, hyper's requests adapter: mount it on a
  ``requests.Session`` for HTTP/2 with nothing else changed::

      session.mount("https://", HTTP2Adapter())

  Needs ``requests``, an optional dependency: ``pip install 'hyper[requests]'``.
- :mod:`hyper.contrib.httpx`, transports for ``httpx``: needs ``httpx``
  (``pip install 'hyper[httpx]'``).

Each needs only its own library: ``hyper.contrib.httpx`` imports without
requests installed. Without requests the adapter's names raise an
``ImportError`` that says what to install.
"""

from __future__ import annotations

try:
    import requests  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    _missing: ImportError | None = exc
else:
    _missing = None
    from hyper.contrib._adapter import HTTP2Adapter, HTTP20Adapter
    from hyper.contrib._errors import BodyReadTimeout
    from hyper.contrib._raw import RawResponse

__all__ = ["BodyReadTimeout", "HTTP2Adapter", "HTTP20Adapter", "RawResponse"]


def __getattr__(name: str) -> object:
    # Reached only for names not set above: without requests, the adapter's.
    if name in __all__ and _missing is not None:
        raise ImportError(
            f"hyper.contrib.{name} needs requests, an optional dependency of hyper: "
            "pip install 'hyper[requests]'"
        ) from _missing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""
httpx's ``trace`` request extension, as httpcore calls it: a callback
``trace(event_name, info)`` told when each step of a request starts and
completes (``http11.send_request_headers.started``,
``http2.receive_response_headers.complete``...). httpx's command line prints
the response head from it. Only requests that carry the extension pay for it.

The steps hyper takes as one call are reported as one: its connections send
a request's head and body in one call, so ``send_request_body`` starts once
the headers are complete. Connection events (``connection.connect_tcp``,
``connection.start_tls``) come from the async transport only: the blocking
connections do not show their socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import httpx

if TYPE_CHECKING:
    import httpcore

__all__ = ["Tracer", "tracer_for"]


class Tracer:
    """The trace events of one request (see the module docstring)."""

    __slots__ = ("_callback", "_request", "prefix", "_core_request")

    def __init__(self, callback: Callable[[str, dict[str, Any]], Any], request: httpx.Request):
        self._callback = callback
        self._request = request
        self.prefix = "http11"
        self._core_request: httpcore.Request | None = None

    @property
    def core_request(self) -> httpcore.Request:
        """The request as httpcore would have carried it (what the events name)."""
        if self._core_request is None:
            # Imported here: httpx itself imports httpcore only when used.
            import httpcore

            request = self._request
            url = request.url
            self._core_request = httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=request.headers.raw,
                extensions=request.extensions,
            )
        return self._core_request

    def event(self, name: str, **info: Any) -> None:
        """Report ``<prefix>.<name>`` (``connection.`` names as they are)."""
        if not name.startswith("connection."):
            name = f"{self.prefix}.{name}"
        self._callback(name, info)

    def step(self, name: str, **info: Any) -> None:
        """Report ``<prefix>.<name>.started`` with the request."""
        self.event(f"{name}.started", request=self.core_request, **info)

    def done(self, name: str, value: Any = None) -> None:
        """Report ``<prefix>.<name>.complete`` with its return value."""
        self.event(f"{name}.complete", return_value=value)

    def head(self, http2: bool, status: int, reason: str, headers: Any) -> None:
        """Report the response head as httpcore does for each version."""
        if http2:
            self.done("receive_response_headers", (status, headers))
        else:
            value = (b"HTTP/1.1", status, reason.encode("latin-1", "replace"), headers)
            self.done("receive_response_headers", value)

    def sent(self) -> None:
        """The head and body went out (one call in hyper)."""
        self.done("send_request_headers")
        self.step("send_request_body")
        self.done("send_request_body")
        self.step("receive_response_headers")


def tracer_for(request: httpx.Request) -> Tracer | None:
    """A :class:`Tracer` when the request asks for tracing, else None."""
    callback = request.extensions.get("trace")
    return None if callback is None else Tracer(callback, request)

"""
One face for both httpx transports, so each behaviour is tested on
``httpx.Client`` over :class:`HTTPTransport` and ``httpx.AsyncClient`` over
:class:`AsyncHTTPTransport` by the same test: :class:`Runner` makes the
client and runs each step, the async one on an event loop of its own that
lives as long as the client (its connections belong to that loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from hyper.contrib.httpx import AsyncHTTPTransport, HTTPTransport
from support.timeouts import TIMEOUT

_T = TypeVar("_T")


class Runner:
    """A client over one of hyper's transports; ``kind`` is ``"sync"`` or ``"async"``."""

    def __init__(self, kind: str, timeout: Any = TIMEOUT, **transport: Any) -> None:
        self.kind = kind
        self.is_async = kind == "async"
        self.loop: asyncio.AbstractEventLoop | None = None
        if self.is_async:
            self.loop = asyncio.new_event_loop()
            self.transport: Any = AsyncHTTPTransport(**transport)
            self.client: Any = httpx.AsyncClient(transport=self.transport, timeout=timeout)
        else:
            self.transport = HTTPTransport(**transport)
            self.client = httpx.Client(transport=self.transport, timeout=timeout)

    def run(self, step: Callable[[], Awaitable[_T]] | Callable[[], _T]) -> _T:
        """Run one step: a coroutine function on the async client's loop, a
        function as it is."""
        if self.loop is not None:
            coro: Any = step()
            return self.loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT * 2))
        return step()  # type: ignore[return-value]

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The response, its body read."""
        if self.is_async:

            async def go() -> httpx.Response:
                return await self.client.request(method, url, **kwargs)

            return self.run(go)
        return self.client.request(method, url, **kwargs)  # type: ignore[no-any-return]

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def open(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The response with its body not read yet (``client.send(stream=True)``)."""
        request = self.client.build_request(method, url, **kwargs)
        if self.is_async:

            async def go() -> httpx.Response:
                return await self.client.send(request, stream=True)

            return self.run(go)
        return self.client.send(request, stream=True)  # type: ignore[no-any-return]

    def read(self, response: httpx.Response) -> bytes:
        if self.is_async:
            return self.run(response.aread)
        return response.read()

    def first_chunk(self, response: httpx.Response) -> bytes:
        """Some of the body as it came (``iter_raw``), the rest left unread."""
        if self.is_async:

            async def go() -> bytes:
                async for chunk in response.aiter_raw():
                    return chunk
                return b""

            return self.run(go)
        for chunk in response.iter_raw():
            return chunk
        return b""

    def read_raw(self, response: httpx.Response, after_first: Callable[[], None]) -> bytes:
        """The body as sent (``iter_raw``), calling ``after_first()`` once the
        first piece is in."""
        parts: list[bytes] = []
        if self.is_async:

            async def go() -> None:
                async for chunk in response.aiter_raw():
                    parts.append(chunk)
                    if len(parts) == 1:
                        after_first()

            self.run(go)
        else:
            for chunk in response.iter_raw():
                parts.append(chunk)
                if len(parts) == 1:
                    after_first()
        return b"".join(parts)

    def close_transport(self) -> None:
        """The transport's ``close()``/``aclose()`` (the client stays open)."""
        if self.is_async:
            assert self.loop is not None
            # Called from inside a step (the loop is running): schedule it.
            self.loop.create_task(self.transport.aclose())
        else:
            self.transport.close()

    def close_response(self, response: httpx.Response) -> None:
        if self.is_async:
            self.run(response.aclose)
        else:
            response.close()

    def close(self) -> None:
        """Close the client (and the async client's loop); again does nothing."""
        if self.is_async:
            assert self.loop is not None
            if self.loop.is_closed():
                return
            try:
                self.run(self.client.aclose)
                # Async generators a step left suspended (a body read in part).
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()
        else:
            self.client.close()


def uploading(size: int, piece: int = 65536, is_async: bool = False) -> Any:
    """A body of ``size`` bytes (``b"x"``) streamed by a generator of the
    right kind, so httpx knows no length."""
    if is_async:

        async def agen() -> Any:
            left = size
            while left > 0:
                n = min(piece, left)
                left -= n
                yield b"x" * n

        return agen()

    def gen() -> Any:
        left = size
        while left > 0:
            n = min(piece, left)
            left -= n
            yield b"x" * n

    return gen()

"""
``start_server(..., reuse_port=True)``: several servers (one per process,
usually) listening on one port, the kernel spreading connections between
them: what ``hyper serve --workers`` does, for users who run their own.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import pytest
from aio_support import DEADLINE, HOST, request_headers

import hyper.aio as aioh2

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux balances SO_REUSEPORT listeners"
)


def _answering(name: str) -> Callable[[aioh2.H2Protocol], Any]:
    async def handler(proto: aioh2.H2Protocol) -> None:
        while True:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, {":status": "200", "x-server": name})
            await proto.send_data(stream_id, name.encode(), end_stream=True)

    return handler


async def _who_answers(port: int) -> str:
    client = await aioh2.open_connection(HOST, port)
    try:
        stream_id = await client.start_request(request_headers(port=port), end_stream=True)
        headers = dict(await client.recv_response(stream_id))
        body = await client.read_stream(stream_id, -1)
        assert body.decode() == headers["x-server"]
        return headers["x-server"]
    finally:
        client.close_connection()


class TestReusePort:
    def test_two_servers_share_a_port_and_both_answer(self, run: Callable[..., Any]) -> None:
        async def go() -> None:
            first = await aioh2.start_server(_answering("a"), HOST, 0, reuse_port=True)
            port = first.sockets[0].getsockname()[1]
            second = await aioh2.start_server(_answering("b"), HOST, port, reuse_port=True)
            try:
                seen: set[str] = set()
                deadline = asyncio.get_running_loop().time() + DEADLINE
                # Each new connection's source port picks a listener: both
                # answer within a few (all of 200 on one: odds of 2**-199).
                for _ in range(200):
                    seen.add(await _who_answers(port))
                    if seen == {"a", "b"} or asyncio.get_running_loop().time() > deadline:
                        break
                assert seen == {"a", "b"}
            finally:
                first.close()
                second.close()

        run(go())

    def test_without_reuse_port_the_port_is_taken(self, run: Callable[..., Any]) -> None:
        async def go() -> None:
            first = await aioh2.start_server(_answering("a"), HOST, 0, reuse_port=True)
            port = first.sockets[0].getsockname()[1]
            try:
                with pytest.raises(OSError):
                    await aioh2.start_server(_answering("b"), HOST, port)
            finally:
                first.close()

        run(go())

    def test_a_closed_server_leaves_the_port_to_the_others(
        self, run: Callable[..., Any]
    ) -> None:
        async def go() -> None:
            first = await aioh2.start_server(_answering("a"), HOST, 0, reuse_port=True)
            port = first.sockets[0].getsockname()[1]
            second = await aioh2.start_server(_answering("b"), HOST, port, reuse_port=True)
            first.close()
            await first.wait_closed()
            try:
                for _ in range(10):
                    assert await _who_answers(port) == "b"
            finally:
                second.close()

        run(go())


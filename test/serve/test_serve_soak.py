"""
Soak (slow; ``-m slow`` or ``HYPER_SLOW_TESTS=1``): 100,000 requests on one
connection and a 1 GiB download through ``hyper serve``, with the blocking
and the async client, the RSS of the server and of the client flat.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import DEADLINE, HOST, STYLE, Served, start_serve

from hyper import HTTP20Connection
from hyper.aio.connection import AsyncHTTP20Connection

REQUESTS = 100_000
GIB = 1 << 30
# RSS may grow this much over a soak (allocator slack, caches), not with the work.
MAX_GROWTH = 32 << 20

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _wanted(config: pytest.Config) -> bool:
    if "slow" in (config.getoption("markexpr") or ""):
        return True
    return os.environ.get("HYPER_SLOW_TESTS", "") not in ("", "0")


@pytest.fixture(autouse=True)
def _only_when_asked(request: pytest.FixtureRequest) -> None:
    if not _wanted(request.config):
        pytest.skip("soak: select with -m slow or set HYPER_SLOW_TESTS=1")


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    root = tmp_path_factory.mktemp("soak")
    docs = root / "docs"
    docs.mkdir()
    (docs / "style.css").write_bytes(STYLE)
    with open(docs / "1g.bin", "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(GIB >> 20):
            f.write(block)
    served = start_serve(docs, root)
    yield served, docs
    assert served.stop() == 0
    assert "Traceback" not in served.stderr()
    (docs / "1g.bin").unlink()


class TestSoak:
    def test_100000_requests_on_one_blocking_connection(self, soaked: tuple[Served, Path]) -> None:
        served, _ = soaked
        with HTTP20Connection(f"{HOST}:{served.port}", secure=False, timeout=DEADLINE) as conn:
            for _ in range(1000):  # warm up: caches, allocator pools
                conn.request("GET", "/style.css")
                conn.getresponse().read()
            server_before, client_before = _rss(served.proc.pid), _rss(os.getpid())
            for _ in range(REQUESTS):
                conn.request("GET", "/style.css")
                assert conn.getresponse().read() == STYLE
            server_after, client_after = _rss(served.proc.pid), _rss(os.getpid())
        print(f"server RSS {server_before >> 20} -> {server_after >> 20} MiB, "
              f"client {client_before >> 20} -> {client_after >> 20} MiB")  # fmt: skip
        assert server_after - server_before < MAX_GROWTH
        assert client_after - client_before < MAX_GROWTH

    def test_100000_requests_on_one_async_connection(self, soaked: tuple[Served, Path]) -> None:
        served, _ = soaked

        async def run() -> tuple[int, int]:
            async with AsyncHTTP20Connection(f"{HOST}:{served.port}", timeout=DEADLINE) as conn:

                async def fetch() -> bytes:
                    stream_id = await conn.request("GET", "/style.css")
                    return await (await conn.get_response(stream_id)).read()

                await asyncio.gather(*(fetch() for _ in range(1000)))
                before = _rss(served.proc.pid)
                for _ in range(REQUESTS // 100):
                    bodies = await asyncio.gather(*(fetch() for _ in range(100)))
                    assert bodies == [STYLE] * 100
                return before, _rss(served.proc.pid)

        before, after = asyncio.run(run())
        print(f"server RSS {before >> 20} -> {after >> 20} MiB")
        assert after - before < MAX_GROWTH

    @pytest.mark.parametrize("kind", ["blocking", "async"])
    def test_1_gib_download_with_memory_flat(self, soaked: tuple[Served, Path], kind: str) -> None:
        served, _ = soaked
        server_before = _rss(served.proc.pid)
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
        if kind == "blocking":
            with HTTP20Connection(f"{HOST}:{served.port}", secure=False,
                                  timeout=DEADLINE) as conn:  # fmt: skip
                conn.request("GET", "/1g.bin")
                got = sum(len(c) for c in conn.getresponse().read_chunked())
        else:

            async def run() -> int:
                async with AsyncHTTP20Connection(f"{HOST}:{served.port}",
                                                 timeout=DEADLINE) as conn:  # fmt: skip
                    resp = await conn.get_response(await conn.request("GET", "/1g.bin"))
                    total = 0
                    while chunk := await resp.read(1 << 20):
                        total += len(chunk)
                    return total

            got = asyncio.run(run())
        assert got == GIB
        server_growth = _rss(served.proc.pid) - server_before
        client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
        print(f"server RSS growth {server_growth >> 20} MiB, client peak "
              f"{peak_before >> 20} -> {client_peak >> 20} MiB")  # fmt: skip
        assert server_growth < MAX_GROWTH
        assert client_peak - peak_before < MAX_GROWTH

"""Async client benchmark: hyper.aio.AsyncHTTP20Connection vs the blocking
HTTP20Connection vs httpx.AsyncClient(http2=True), against h2o over TLS.

Usage::

    python bench/aio_client.py              # 2,000 GETs, 100 in flight, 5 rounds
    python bench/aio_client.py --quick      # 200 GETs, one round
    python bench/aio_client.py --uvloop     # the asyncio clients on uvloop

2,000 GETs of a 1 KiB file, 100 in flight on one connection, in two shapes:

- workers: 100 coroutines, each making requests one after another until 2,000 are
  done (issue 8);
- gather: 2,000 coroutines gathered at once, each making one request behind an
  ``asyncio.Semaphore(100)`` (issue 22).

Targets: AsyncHTTP20Connection at least the blocking client's rate in both shapes, in
every round (issue 22), and 10x httpx's (issue 8).

The server, the certificates, the blocking client's worker (scenario (b) of
``bench/client.py``: one thread keeping 100 requests open) and the reporting helpers
are ``bench/client.py``'s, imported. Each measurement runs in a fresh process; the
clients take turns within a round; the table shows medians over the rounds, each
round's ratios to the blocking client, and each client's CPU time per request (user
and system: it moves far less than the rate on a machine shared with other work).
Every client connects and makes one warm-up request before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import client as bench  # noqa: E402  (bench/client.py: server, blocking worker, helpers)
from support import servers  # noqa: E402  (test/support, put on sys.path by bench/client.py)

# hyper.aio in its two shapes, the blocking client, httpx (workers shape).
CLIENTS = ("hyper.aio", "hyper.aio gather", "hyper", "httpx")
ASYNC_HYPER = ("hyper.aio", "hyper.aio gather")
WORKER_TIMEOUT = bench.WORKER_TIMEOUT


async def _aio_run(args: argparse.Namespace) -> dict[str, Any]:
    from hyper.aio import AsyncHTTP20Connection
    from hyper.tls import init_context

    conn = AsyncHTTP20Connection(
        args.authority, secure=True, ssl_context=init_context(cert_path=args.ca)
    )

    async def get() -> None:
        resp = await conn.get_response(await conn.request("GET", bench.SMALL_PATH))
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}")

    return await _drive(args, get, conn.close)


async def _httpx_run(args: argparse.Namespace) -> dict[str, Any]:
    import ssl

    import httpx

    ctx = ssl.create_default_context(cafile=args.ca)
    client = httpx.AsyncClient(http2=True, verify=ctx, limits=httpx.Limits(max_connections=1))
    url = f"https://{args.authority}{bench.SMALL_PATH}"

    async def get() -> None:
        resp = await client.get(url)
        if resp.status_code != 200 or resp.http_version != "HTTP/2":
            raise RuntimeError(f"{resp.status_code} {resp.http_version}")

    result = await _drive(args, get, lambda: None)
    await client.aclose()
    return result


async def _drive(args: argparse.Namespace, get: Any, close: Any) -> dict[str, Any]:
    await get()  # connect and warm up outside the clock
    left = args.count

    async def worker() -> int:
        nonlocal left
        done = 0
        while left > 0:
            left -= 1
            await get()
            done += 1
        return done

    async def one(slots: asyncio.Semaphore) -> int:
        async with slots:
            await get()
        return 1

    with servers.PeakRSS() as rss:
        started = time.perf_counter()
        cpu = time.process_time()
        if args.shape == "gather":
            slots = asyncio.Semaphore(args.inflight)
            counts = await asyncio.gather(*(one(slots) for _ in range(args.count)))
        else:
            counts = await asyncio.gather(*(worker() for _ in range(args.inflight)))
        cpu = time.process_time() - cpu
        seconds = time.perf_counter() - started
    close()
    return {
        "seconds": seconds, "amount": sum(counts), "cpu": cpu,
        "peak_rss": rss.peak, "growth": rss.growth,
    }  # fmt: skip


def worker_main(args: argparse.Namespace) -> None:
    run = _httpx_run if args.worker == "httpx" else _aio_run
    if args.uvloop:
        import uvloop

        result = uvloop.run(run(args))
    else:
        result = asyncio.run(run(args))
    print(json.dumps(result))


def measure(client: str, server: servers.Server, args: argparse.Namespace, count: int) -> Any:
    """One fresh-process run of ``client``; a bench.Sample."""
    common = [
        "--authority", server.authority, "--ca", server.ca_path,
        "--count", str(count), "--inflight", "100",
    ]  # fmt: skip
    if client == "hyper":
        script, extra = HERE / "client.py", ["--worker", "hyper", "--scenario", "b"]
    else:
        shape = "gather" if client == "hyper.aio gather" else "workers"
        script = Path(__file__).resolve()
        extra = ["--worker", client.split()[0], "--shape", shape]
        if args.uvloop:
            extra.append("--uvloop")
    argv = [sys.executable, str(script), *extra, *common]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return bench.Sample(None, error="timed out")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return bench.Sample(None, error=last)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if data["amount"] != count:
        return bench.Sample(None, error=f"made {data['amount']} requests, not {count}")
    return bench.Sample(
        data["amount"] / data["seconds"],
        peak_rss=data["peak_rss"],
        cpu_us=data["cpu"] / data["amount"] * 1e6,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 requests, one round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--uvloop", action="store_true", help="asyncio clients on uvloop")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--worker", choices=["hyper.aio", "httpx"], help=argparse.SUPPRESS)
    parser.add_argument("--shape", choices=["workers", "gather"], help=argparse.SUPPRESS)
    parser.add_argument("--authority", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--inflight", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args)
        return 0

    count = 200 if args.quick else 2000
    rounds = 1 if args.quick else args.rounds
    workdir = servers.standalone_workdir("hyper-bench-aio-")
    results: dict[str, list[Any]] = {c: [] for c in CLIENTS}
    try:
        pki = servers.PKI(workdir / "pki")
        docroot = servers.Docroot(workdir / "docroot")
        with servers.start_h2o(pki, docroot, workdir / "h2o") as server:
            loop_name = "uvloop" if args.uvloop else "asyncio"
            print(
                f"server: h2o {server.authority} (TLS, h2); {count:,} GETs, 100 in flight; "
                f"{rounds} round(s); event loop {loop_name}; python {sys.version.split()[0]}",
                file=sys.stderr,
            )
            if args.uvloop:
                import uvloop

                print(f"uvloop {uvloop.__version__}", file=sys.stderr)
            for n in range(rounds):
                for client in CLIENTS:
                    sample = measure(client, server, args, count)
                    results[client].append(sample)
                    if args.verbose:
                        shown = bench._fmt(sample.value) if sample.error is None else sample.error
                        print(f"  round {n + 1} {client}: {shown}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(results))
    return 0


def report(results: dict[str, list[Any]]) -> str:
    """The table (medians), each round's ratios to the blocking client, the
    worst of them, and the CPU time per request."""
    med = {c: bench._median(results[c]) for c in CLIENTS}
    lines = [f"{'client':<20}{'req/s':>10}{'CPU us/req':>12}"]
    for c in CLIENTS:
        failed = sum(1 for s in results[c] if s.value is None)
        star = "*" if failed and med[c] is not None else ""
        cpu = [s.cpu_us for s in results[c] if s.cpu_us is not None]
        cpu_cell = f"{statistics.median(cpu):,.0f}" if cpu else "n/a"
        lines.append(f"{c:<20}{bench._fmt(med[c]) + star:>10}{cpu_cell:>12}")
    lines.append("")
    for c in ASYNC_HYPER:
        per_round = [
            a.value / b.value
            for a, b in zip(results[c], results["hyper"])
            if a.value is not None and b.value is not None
        ]
        shown = " ".join(f"{r:.2f}x" for r in per_round)
        worst = f"{min(per_round):.2f}x" if per_round else "n/a"
        met = "met" if per_round and min(per_round) >= 1.0 else "not met"
        lines.append(
            f"{c + ' / hyper (blocking):':<38}{bench._ratio(med[c], med['hyper'])} "
            f"(rounds: {shown}; worst {worst}; goal >= 1.00x every round: {met})"
        )
    httpx_ratio = bench._ratio(med["hyper.aio"], med["httpx"])
    lines.append(f"{'hyper.aio / httpx (async):':<38}{httpx_ratio}")
    errors = [f"{c}: {s.error}" for c in CLIENTS for s in results[c] if s.error]
    if errors:
        lines += ["", "Failed runs (*: median of the runs that worked):", *errors]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

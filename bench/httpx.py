"""httpx with its own transport and with hyper's, blocking and asyncio, against h2o over TLS.

Usage::

    python bench/httpx.py                  # every scenario, 5 rounds (a few minutes)
    python bench/httpx.py --quick          # small counts, one round: a smoke run
    python bench/httpx.py --scenario b --rounds 3 --verbose

Scenarios (issue 21's goals, hyper's transport against httpx's own ``http2=True``):

    a  2,000 sequential GETs of 1 KiB                          >= 2x
    b  2,000 GETs of 1 KiB, 100 in flight on one connection    >= 5x (async)
    c  one 256 MiB download                                    >= 2x
    d  one 64 MiB upload                                       >= 2x
    m  100,000 sequential GETs through hyper's transports: RSS after the first 10,000
       and after the last (flat: the same)

Each client is ``httpx.Client`` / ``httpx.AsyncClient`` with ``http2=True`` (httpx's
transport: httpcore and h2) or with ``transport=hyper.contrib.httpx.HTTPTransport()`` /
``AsyncHTTPTransport()``; (b) runs 100 threads (blocking) or 100 tasks (asyncio) on the
one client. A third column, "model", is httpx over ``httpx.MockTransport`` answering
1 KiB from memory: no network, no HTTP at all, only httpx's own per-request work
(building the request, URL, headers, cookies, the response and its decoding). It is
the most requests per second any transport can reach under httpx on this machine, so
it bounds what (a) and (b) can show.

The server, the worker processes, the rounds and the report are bench/client.py's (h2o
from ``test/support``, one fresh process per measurement, clients taking turns within a
round, the median of the rounds); this file adds the httpx workers.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
# This file is named httpx.py: its directory must not shadow the httpx package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

_spec = importlib.util.spec_from_file_location("bench_client", HERE / "client.py")
assert _spec is not None and _spec.loader is not None
bench_client: Any = importlib.util.module_from_spec(_spec)
sys.modules["bench_client"] = bench_client  # its dataclasses look themselves up there
_spec.loader.exec_module(bench_client)
servers = bench_client.servers
MiB = bench_client.MiB
Sample = bench_client.Sample

SMALL_PATH = "/1k.bin"
UPLOAD_PATH = "/upload"
WORKER_TIMEOUT = 900.0
#: (client, flavour) pairs, in the order they take turns.
CLIENTS = (
    ("httpx", "sync"),
    ("hyper", "sync"),
    ("model", "sync"),
    ("httpx", "async"),
    ("hyper", "async"),
    ("model", "async"),
)
SCENARIOS = {
    "a": ("sequential small GETs", "req/s"),
    "b": ("small GETs, 100 in flight", "req/s"),
    "c": ("one large download", "MB/s"),
    "d": ("one large upload", "MB/s"),
    "m": ("memory over many GETs", "MiB"),
}
GOALS = {"a": 2.0, "b": 5.0, "c": 2.0, "d": 2.0}
MEMORY_REQUESTS = 100_000
MEMORY_WARM = 10_000


# ---------------------------------------------------------------------------------------
# Workers: one client, one flavour, one scenario, one process. Print one JSON line.
# ---------------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _make_client(args: argparse.Namespace) -> Any:
    import ssl

    import httpx

    from hyper.contrib.httpx import AsyncHTTPTransport, HTTPTransport

    is_async = args.flavour == "async"
    kwargs: dict[str, Any] = {}
    if args.worker == "model":
        body = os.urandom(1024)
        if is_async:

            async def answer_async(request: httpx.Request) -> httpx.Response:
                return httpx.Response(200, content=body)

            kwargs["transport"] = httpx.MockTransport(answer_async)
        else:
            kwargs["transport"] = httpx.MockTransport(
                lambda request: httpx.Response(200, content=body)
            )
    else:
        context = ssl.create_default_context(cafile=args.ca)
        if args.worker == "hyper":
            transport_class = AsyncHTTPTransport if is_async else HTTPTransport
            kwargs["transport"] = transport_class(verify=context)
        else:
            # One connection, as hyper's: HTTP/2 multiplexes every request onto it.
            kwargs.update(http2=True, verify=context, limits=httpx.Limits(max_connections=1))
    client_class = httpx.AsyncClient if is_async else httpx.Client
    return client_class(timeout=60.0, **kwargs)


def _check(response: Any, args: argparse.Namespace) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"status {response.status_code}")
    if args.worker != "model" and response.http_version != "HTTP/2":
        raise RuntimeError(f"{response.http_version}, not HTTP/2")


def _sync_worker(args: argparse.Namespace) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    client = _make_client(args)
    base = f"https://{args.authority}"
    small = base + SMALL_PATH

    def get() -> bytes:
        response = client.get(small)
        _check(response, args)
        return response.content  # type: ignore[no-any-return]

    get()  # connect and warm up outside the clock

    def run() -> int:
        if args.scenario == "a":
            for _ in range(args.count):
                get()
            return args.count
        if args.scenario == "b":
            with ThreadPoolExecutor(max_workers=args.inflight) as pool:
                for _ in pool.map(lambda _: get(), range(args.count)):
                    pass
            return args.count
        if args.scenario == "c":
            total = 0
            with client.stream("GET", base + args.path) as response:
                _check(response, args)
                for chunk in response.iter_bytes():
                    total += len(chunk)
            return total
        if args.scenario == "d":
            with open(args.upload_file, "rb") as f:
                response = client.put(base + UPLOAD_PATH, content=f)
            _check_upload(response, args)
            return args.upload_size
        raise ValueError(args.scenario)

    if args.scenario == "m":
        return _memory(get)
    result = bench_client._timed(run)
    client.close()
    return result  # type: ignore[no-any-return]


def _async_worker(args: argparse.Namespace) -> dict[str, Any]:
    import asyncio

    async def main() -> dict[str, Any]:
        client = _make_client(args)
        base = f"https://{args.authority}"
        small = base + SMALL_PATH

        async def get() -> bytes:
            response = await client.get(small)
            _check(response, args)
            return response.content  # type: ignore[no-any-return]

        await get()

        async def run() -> int:
            if args.scenario == "a":
                for _ in range(args.count):
                    await get()
                return args.count
            if args.scenario == "b":
                gate = asyncio.Semaphore(args.inflight)

                async def one() -> bytes:
                    async with gate:
                        return await get()

                await asyncio.gather(*(one() for _ in range(args.count)))
                return args.count
            if args.scenario == "c":
                total = 0
                async with client.stream("GET", base + args.path) as response:
                    _check(response, args)
                    async for chunk in response.aiter_bytes():
                        total += len(chunk)
                return total
            if args.scenario == "d":
                response = await client.put(base + UPLOAD_PATH, content=_file_pieces(args))
                _check_upload(response, args)
                return args.upload_size
            raise ValueError(args.scenario)

        if args.scenario == "m":
            import gc

            for _ in range(MEMORY_WARM):
                await get()
            gc.collect()
            warm = _rss()
            started = time.perf_counter()
            for _ in range(MEMORY_REQUESTS - MEMORY_WARM):
                await get()
            seconds = time.perf_counter() - started
            gc.collect()
            return {
                "seconds": seconds,
                "amount": MEMORY_REQUESTS,
                "warm_rss": warm,
                "end_rss": _rss(),
            }
        with servers.PeakRSS() as rss:
            started = time.perf_counter()
            amount = await run()
            seconds = time.perf_counter() - started
        await client.aclose()
        return {"seconds": seconds, "amount": amount, "peak_rss": rss.peak, "growth": rss.growth}

    return asyncio.run(main())


async def _file_pieces(args: argparse.Namespace) -> Any:
    """The upload file in 1 MiB pieces (an AsyncClient takes no file object)."""
    with open(args.upload_file, "rb") as f:
        while True:
            piece = f.read(MiB)
            if not piece:
                return
            yield piece


def _check_upload(response: Any, args: argparse.Namespace) -> None:
    """h2o's sink answers with the byte count it read."""
    _check(response, args)
    if int(response.content) != args.upload_size:
        raise RuntimeError(f"upload: the server counted {response.content!r}")


def _memory(get: Callable[[], Any]) -> dict[str, Any]:
    """RSS after the first MEMORY_WARM requests and after MEMORY_REQUESTS."""
    import gc

    for _ in range(MEMORY_WARM):
        get()
    gc.collect()
    warm = _rss()
    started = time.perf_counter()
    for _ in range(MEMORY_REQUESTS - MEMORY_WARM):
        get()
    seconds = time.perf_counter() - started
    gc.collect()
    return {"seconds": seconds, "amount": MEMORY_REQUESTS, "warm_rss": warm, "end_rss": _rss()}


def worker_main(args: argparse.Namespace) -> None:
    worker = _async_worker if args.flavour == "async" else _sync_worker
    print(json.dumps(worker(args)))


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------


def _label(client: str, flavour: str) -> str:
    return f"{client} {flavour}"


class Bench:
    def __init__(self, server: Any, sizes: Any, workdir: Path) -> None:
        self.server = server
        self.sizes = sizes
        self.workdir = workdir
        self.download_path = "/" + sizes.download
        self.download_size = servers.LAZY_FILES[sizes.download]
        self.upload_file = workdir / "upload.bin"
        self._fresh = 0

    def prepare(self, scenarios: list[str]) -> None:
        if "c" in scenarios:
            self.server.docroot.ensure(self.sizes.download)
        if "d" in scenarios:
            with open(self.upload_file, "wb") as f:
                for _ in range(self.sizes.upload_size // MiB):
                    f.write(os.urandom(MiB))

    def applies(self, client: str, scenario: str) -> bool:
        if client == "model":
            return scenario in ("a", "b")
        return scenario != "m" or client == "hyper"

    def run(self, client: str, flavour: str, scenario: str) -> Any:
        try:
            if scenario != "d":
                return self._python(client, flavour, scenario, self.server)
            # bench/client.py: h2o's upload sink slows down with use; one h2o per sample.
            self._fresh += 1
            with servers.start_h2o(
                self.server.pki, self.server.docroot, self.workdir / f"h2o-upload-{self._fresh}"
            ) as fresh:
                return self._python(client, flavour, scenario, fresh)
        except Exception as e:
            return Sample(None, error=f"{type(e).__name__}: {e}")

    def _python(self, client: str, flavour: str, scenario: str, server: Any) -> Any:
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker", client,
            "--flavour", flavour,
            "--scenario", scenario,
            "--authority", server.authority,
            "--ca", self.server.ca_path,
            "--count", str(self.sizes.requests),
            "--inflight", str(self.sizes.inflight),
            "--path", self.download_path,
            "--upload-file", str(self.upload_file),
            "--upload-size", str(self.sizes.upload_size),
        ]  # fmt: skip
        out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
            return Sample(None, error=last)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        if scenario == "m":
            growth = (data["end_rss"] - data["warm_rss"]) / MiB
            sample = Sample(growth, peak_rss=data["end_rss"])
            sample.error = None
            return sample
        expected = {"a": self.sizes.requests, "b": self.sizes.requests}.get(
            scenario, self.download_size if scenario == "c" else self.sizes.upload_size
        )
        if data["amount"] != expected:
            return Sample(None, error=f"moved {data['amount']}, not {expected}")
        unit = SCENARIOS[scenario][1]
        rate = data["amount"] / data["seconds"]
        return Sample(rate if unit == "req/s" else rate / 1e6, peak_rss=data["peak_rss"])


def _median(samples: list[Any]) -> float | None:
    values = [s.value for s in samples if s.value is not None]
    return statistics.median(values) if values else None


def report(results: dict[str, dict[str, list[Any]]], sizes: Any) -> str:
    fmt, ratio = bench_client._fmt, bench_client._ratio
    header = ["scenario", "unit"]
    for flavour in ("sync", "async"):
        header += [f"httpx {flavour}", f"hyper {flavour}", "hyper/httpx", f"model {flavour}"]
    header.append("goal")
    rows = []
    for key, by_client in results.items():
        med = {label: _median(samples) for label, samples in by_client.items()}
        row = [f"({key}) {_describe(key, sizes)}", SCENARIOS[key][1]]
        for flavour in ("sync", "async"):
            hyper, httpx_ = med.get(f"hyper {flavour}"), med.get(f"httpx {flavour}")
            model = med.get(f"model {flavour}")
            if key == "m":
                row += ["-", f"{hyper:+.1f}" if hyper is not None else "n/a", "-", "-"]
                continue
            row += [
                fmt(httpx_),
                fmt(hyper),
                ratio(hyper, httpx_),
                fmt(model) if model is not None else "-",
            ]
        row.append("flat" if key == "m" else f">= {GOALS[key]:.0f}x")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    errors = sorted(
        {
            f"{label} ({key}): {s.error}"
            for key, by_client in results.items()
            for label, samples in by_client.items()
            for s in samples
            if s.error
        }
    )
    if errors:
        lines += ["", "Failed runs:", *errors]
    return "\n".join(lines)


def _describe(key: str, sizes: Any) -> str:
    if key == "a":
        return f"{sizes.requests:,} sequential GETs"
    if key == "b":
        return f"{sizes.requests:,} GETs, {sizes.inflight} in flight"
    if key == "c":
        return f"{servers.LAZY_FILES[sizes.download] // MiB} MiB download"
    if key == "d":
        return f"{sizes.upload_size // MiB} MiB upload"
    return f"RSS growth, GETs {MEMORY_WARM:,} to {MEMORY_REQUESTS:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all"
    )
    parser.add_argument("--rounds", type=int, help="rounds per scenario (median is reported)")
    parser.add_argument("--verbose", action="store_true", help="print every sample")
    # Internal: run one measurement in this process and print JSON.
    parser.add_argument("--worker", choices=("httpx", "hyper", "model"), help=argparse.SUPPRESS)
    parser.add_argument("--flavour", choices=("sync", "async"), help=argparse.SUPPRESS)
    parser.add_argument("--authority", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--inflight", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--upload-file", help=argparse.SUPPRESS)
    parser.add_argument("--upload-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        args.scenario = args.scenario[0]
        worker_main(args)
        return 0

    sizes = bench_client.QUICK if args.quick else bench_client.FULL
    rounds = args.rounds or sizes.rounds
    scenarios = args.scenario or sorted(SCENARIOS)
    workdir = servers.standalone_workdir("hyper-bench-httpx-")
    try:
        pki = servers.PKI(workdir / "pki")
        docroot = servers.Docroot(workdir / "docroot")
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(servers.start_h2o(pki, docroot, workdir / "h2o"))
            bench = Bench(server, sizes, workdir)
            bench.prepare(scenarios)
            print(
                f"server: h2o {server.authority} (TLS, h2), {rounds} round(s), "
                f"python {sys.version.split()[0]}",
                file=sys.stderr,
            )
            results: dict[str, dict[str, list[Any]]] = {}
            for key in scenarios:
                pairs = [(c, f) for c, f in CLIENTS if bench.applies(c, key)]
                results[key] = {_label(c, f): [] for c, f in pairs}
                for n in range(1 if key == "m" else rounds):
                    for client, flavour in pairs:
                        sample = bench.run(client, flavour, key)
                        results[key][_label(client, flavour)].append(sample)
                        if args.verbose:
                            shown = (
                                bench_client._fmt(sample.value)
                                if not sample.error
                                else sample.error
                            )
                            print(
                                f"  ({key}) round {n + 1} {client} {flavour}: {shown}",
                                file=sys.stderr,
                            )
                print(f"  ({key}) done", file=sys.stderr)
        print(report(results, sizes))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""requests + hyper's HTTP2Adapter against requests' own adapter, niquests and httpx.

Usage::

    python bench/adapter.py                 # both scenarios, 5 rounds
    python bench/adapter.py --quick         # small counts, one round
    python bench/adapter.py --profile       # cProfile of the adapter, sequential GETs

Scenarios (the targets come from issue 9):

    a  2,000 sequential GETs of a 1 KiB file     hyper >= 1.2x requests
    b  5,000 GETs of it from 32 threads, one     hyper >= 1.5x requests, and ahead of
       session shared by all                     niquests

The server is h2o over TLS, started and timed as ``bench/client.py`` does it (its
helpers are imported, not copied): each measurement runs in a fresh process, the clients
take turns within a round, and the table shows medians. Every client makes its
connection and one warm-up request before the clock starts, and every response is
checked (status 200, 1 KiB body, and the protocol the client is meant to speak).

The clients:

- hyper: ``requests.Session`` with ``HTTP2Adapter()`` mounted (defaults: HTTP/2, up to
  100 streams per connection);
- requests: ``requests.Session`` with its own ``HTTPAdapter(pool_maxsize=32)``
  (HTTP/1.1 keep-alive; 32 so that no thread ever has to discard a connection, its
  best case);
- niquests: ``niquests.Session(pool_maxsize=32)`` (HTTP/2 by ALPN);
- httpx: ``httpx.Client(http2=True)``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import ssl
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import client as bench_client  # noqa: E402  (bench/client.py: h2o, timing, report helpers)

servers = bench_client.servers
CLIENTS = ("hyper", "requests", "niquests", "httpx")
SMALL_PATH = "/1k.bin"
SMALL_SIZE = 1024
THREADS = 32
SCENARIOS = {"a": "sequential GETs", "b": f"GETs from {THREADS} threads"}
TARGETS = {"a": 1.2, "b": 1.5}
FULL = {"a": 2000, "b": 5000, "rounds": 5}
QUICK = {"a": 200, "b": 500, "rounds": 1}


# ---------------------------------------------------------------------------------------
# Workers: one client, one scenario, one process; print one JSON line.
# ---------------------------------------------------------------------------------------


def _make_get(name: str, url: str, ca: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """(get, close) for one client: ``get`` fetches ``url`` and checks the answer."""
    if name in ("hyper", "requests"):
        import requests

        # verify= on each call, as users pass it: a session-level verify loses to
        # REQUESTS_CA_BUNDLE when that is set.
        session = requests.Session()
        if name == "hyper":
            from hyper.contrib import HTTP2Adapter

            session.mount("https://", HTTP2Adapter())
            version = 20
        else:
            session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))
            version = 11

        def get() -> None:
            r = session.get(url, verify=ca)
            if r.status_code != 200 or len(r.content) != SMALL_SIZE or r.raw.version != version:
                raise RuntimeError(f"{name}: {r.status_code} HTTP/{r.raw.version}")

        return get, session.close
    if name == "niquests":
        import niquests

        nsession = niquests.Session(pool_maxsize=THREADS, disable_http3=True)

        def nget() -> None:
            r = nsession.get(url, verify=ca)
            if r.status_code != 200 or len(r.content or b"") != SMALL_SIZE:
                raise RuntimeError(f"niquests: {r.status_code}")
            if r.http_version != 20:
                raise RuntimeError(f"niquests spoke HTTP/{r.http_version}")

        return nget, nsession.close
    import httpx

    client = httpx.Client(http2=True, verify=ssl.create_default_context(cafile=ca))

    def xget() -> None:
        r = client.get(url)
        if r.status_code != 200 or len(r.content) != SMALL_SIZE or r.http_version != "HTTP/2":
            raise RuntimeError(f"httpx: {r.status_code} {r.http_version}")

    return xget, client.close


def worker_main(args: argparse.Namespace) -> None:
    get, close = _make_get(args.worker, f"https://{args.authority}{SMALL_PATH}", args.ca)
    get()  # connect and warm up outside the clock
    count = args.count

    def run() -> int:
        if args.scenario == "a":
            for _ in range(count):
                get()
            return count
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            for _ in pool.map(lambda _: get(), range(count)):
                pass
        return count

    cpu = time.process_time()
    result = bench_client._timed(run)
    result["cpu"] = time.process_time() - cpu
    close()
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------
# The profile: where a sequential request's time goes, by package
# ---------------------------------------------------------------------------------------


def _area(filename: str) -> str:
    if "/hyper/contrib/" in filename:
        return "hyper.contrib (the adapter)"
    if "/hyper/" in filename:
        return "hyper (HTTP/2 client)"
    if "/requests/" in filename:
        return "requests"
    if "/urllib3/" in filename:
        return "urllib3"
    if "ssl" in filename or "socket" in filename:
        return "ssl/socket"
    return "other (stdlib: urllib, os.environ, http.cookiejar...)"


def profile_main(server: Any, count: int) -> None:
    get, close = _make_get("hyper", server.url(SMALL_PATH), server.ca_path)
    get()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        get()
    profiler.disable()
    close()
    stats = pstats.Stats(profiler)
    areas: dict[str, float] = {}
    total = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        areas[_area(filename)] = areas.get(_area(filename), 0.0) + tottime
        total += tottime
    print(f"cProfile of {count:,} sequential GETs through HTTP2Adapter (own time by package):")
    for area, seconds in sorted(areas.items(), key=lambda item: -item[1]):
        per = seconds / count * 1e6
        print(f"  {area:58s} {per:7.1f} us/request  {seconds / total:6.1%}")
    print(f"  {'total':58s} {total / count * 1e6:7.1f} us/request")
    entries = stats.stats.items()  # type: ignore[attr-defined]

    def cumulative(path: str, name: str) -> float:
        return sum(e[3] for f, e in entries if f[0].endswith(path) and f[2] == name)

    whole = cumulative("requests/sessions.py", "request")
    adapter = cumulative("hyper/contrib/_adapter.py", "send") + cumulative(
        "hyper/contrib/_raw.py", "stream"
    )
    core = (
        cumulative("hyper/connection.py", "request")
        + cumulative("hyper/connection.py", "getresponse")
        + cumulative("hyper/common/response.py", "read")
    )
    print("\nInclusive, per request:")
    for label, seconds in (
        ("Session.request, all of it", whole),
        ("requests around the adapter (Session.request - adapter)", whole - adapter),
        ("the adapter, hyper's calls included (send + raw.stream)", adapter),
        ("hyper's HTTPConnection request/getresponse/read", core),
        ("the adapter's own cost (adapter - hyper)", adapter - core),
    ):
        print(f"  {label:58s} {seconds / count * 1e6:7.1f} us")
    print(f"  own cost / requests' cost: {(adapter - core) / (whole - adapter):.1%}")
    print("\nThe adapter's own functions (tottime per request):")
    own = [
        (tottime, func)
        for func, (_, _, tottime, _, _) in stats.stats.items()  # type: ignore[attr-defined]
        if "/hyper/contrib/" in func[0]
    ]
    for tottime, (filename, line, name) in sorted(own, reverse=True)[:12]:
        print(f"  {tottime / count * 1e6:6.2f} us  {Path(filename).name}:{line} {name}")


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------


def _measure(server: Any, name: str, scenario: str, count: int) -> Run:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--scenario",
        scenario,
        "--authority",
        server.authority,
        "--ca",
        server.ca_path,
        "--count",
        str(count),
    ]
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=bench_client.WORKER_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return Run(None, error="timed out")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return Run(None, error=last)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if data["amount"] != count:
        return Run(None, error=f"made {data['amount']} requests, not {count}")
    return Run(data["amount"] / data["seconds"], data["cpu"] / count)


@dataclass
class Run:
    """One measurement: req/s (None when it failed) and client CPU seconds per request."""

    rate: float | None
    cpu: float | None = None
    error: str | None = None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def report(results: dict[str, dict[str, list[Run]]], sizes: dict[str, int]) -> str:
    header = ["scenario", *CLIENTS, "hyper/requests", "hyper/niquests", "target"]
    rows = []
    errors = []
    for key, by_client in results.items():
        med = {c: _median([r.rate for r in by_client[c]]) for c in CLIENTS}
        for c in CLIENTS:
            errors += [f"{c} ({key}): {s.error}" for s in by_client[c] if s.error]
        target = f">= {TARGETS[key]}x requests" + (", > niquests" if key == "b" else "")
        rows.append(
            [
                f"({key}) {sizes[key]:,} {SCENARIOS[key]}",
                *(bench_client._fmt(med[c]) for c in CLIENTS),
                bench_client._ratio(med["hyper"], med["requests"]),
                bench_client._ratio(med["hyper"], med["niquests"]),
                target,
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.append("(req/s, median of the rounds)")
    lines += [
        "",
        "Client CPU time per request (us, median; less is better), and requests' / hyper's:",
    ]
    for key, by_client in results.items():
        cpu = {c: _median([r.cpu for r in by_client[c]]) for c in CLIENTS}
        cells = [f"{c} {cpu[c] * 1e6:,.0f}" if cpu[c] else f"{c} n/a" for c in CLIENTS]
        ratio = bench_client._ratio(cpu["requests"], cpu["hyper"])
        lines.append(f"({key}) " + ", ".join(cells) + f"; requests/hyper {ratio}")
    if errors:
        lines += ["", "Failed runs:", *errors]
    return "\n".join(lines)


def _versions() -> str:
    """The clients' versions; fails when urllib3 is urllib3-future (niquests installed
    without URLLIB3_NO_OVERRIDE), which would put requests' own adapter on it."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version

    import urllib3

    if importlib.util.find_spec("urllib3.backend") is not None:  # only urllib3-future has it
        raise SystemExit(
            f"urllib3 here is {urllib3.__version__} from {urllib3.__file__}: urllib3-future "
            "took its place. Reinstall: pip install --force-reinstall urllib3 && "
            "URLLIB3_NO_OVERRIDE=true pip install niquests --no-binary urllib3-future"
        )
    found = []
    for name in ("requests", "urllib3", "niquests", "httpx"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--profile", action="store_true", help="profile the adapter only")
    parser.add_argument("--verbose", action="store_true", help="print every sample")
    parser.add_argument("--worker", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--authority", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        args.scenario = args.scenario[0]
        worker_main(args)
        return 0

    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or sizes["rounds"]
    scenarios = args.scenario or sorted(SCENARIOS)
    workdir = servers.standalone_workdir("hyper-bench-adapter-")
    try:
        pki = servers.PKI(workdir / "pki")
        docroot = servers.Docroot(workdir / "docroot")
        with servers.start_h2o(pki, docroot, workdir / "h2o") as server:
            if args.profile:
                profile_main(server, sizes["a"])
                return 0
            print(
                f"server: h2o {server.authority} (TLS), {rounds} round(s), "
                f"python {sys.version.split()[0]}; {_versions()}",
                file=sys.stderr,
            )
            results: dict[str, dict[str, list[Run]]] = {}
            for key in scenarios:
                results[key] = {c: [] for c in CLIENTS}
                for n in range(rounds):
                    for name in CLIENTS:
                        sample = _measure(server, name, key, sizes[key])
                        results[key][name].append(sample)
                        if args.verbose:
                            shown = (
                                bench_client._fmt(sample.rate)
                                if sample.error is None
                                else (sample.error)
                            )
                            print(f"  ({key}) round {n + 1} {name}: {shown}", file=sys.stderr)
                print(f"  ({key}) done", file=sys.stderr)
        print(report(results, sizes))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    sys.exit(code)

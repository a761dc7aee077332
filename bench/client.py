"""Client benchmark: hyper vs httpx vs the curl command line, against h2o over TLS.

Usage::

    python bench/client.py                  # all scenarios, 5 rounds, about a minute
    python bench/client.py --quick          # small counts, one round: a smoke run
    python bench/client.py --scenario b --scenario c --rounds 3

Scenarios (the targets of issue 3, then of issue 11):

    a  2,000 sequential small GETs on one connection      hyper >= 2.2x httpx, 1.2x curl
    b  2,000 small GETs, 100 in flight on one connection  hyper >= 8x httpx, 1.0x curl
    c  one 256 MiB download                               hyper >= 0.45x, 0.8x curl
    d  one 64 MiB upload                                  hyper >= 0.8x, 1.2x curl
    e  as (b), but hyper's requests come from 100 threads sharing the connection, handed
       out by a ThreadPoolExecutor (the other clients run as in (b): they are the
       yardstick)
    g  as (e), from 100 threads of their own, each making requests one after another
       until 2,000 are done: the threads' cost without the executor's
    f  as (d), to nghttpd: a sink faster than every client here (h2load about 1.3 GB/s
       against h2o's 0.3-0.7), so the clients, not the server, are measured

The server is h2o on 127.0.0.1 with TLS (ALPN h2), started from ``test/support/h2o.py``
(through ``support.servers``) with the same trustme certificates as the interop tests.
h2o was picked over nghttpd because it was the faster of the two on loopback here
(h2load: 1.2 GB/s against 0.83 GB/s on a 256 MiB download, about the same on small
GETs) and it can swallow an upload quickly (an mruby handler that counts the bytes,
about 400 MB/s with h2load). nghttpd's ``--echo-upload`` spools the body to a file and
sends it back, about 40 MB/s.

Every measurement runs in a fresh process, one client at a time, and the clients take
turns within each round (hyper, httpx, curl, h2load; then again), so that slow drift of
the machine hits all of them alike; the table shows the median over the rounds. The
Python clients make their connection (and one warm-up request) before the clock starts;
curl and h2load are timed as whole commands, which adds a few milliseconds of process
start to their side. Peak RSS is measured in the Python worker process (the kernel's
high-water mark, reset before the timed part).

Both Python clients upload from a file object: httpx slices a ``bytes`` body
quadratically (one 64 MiB upload took 145 s, 0.4 MB/s); ``--upload-bytes`` measures that
case anyway.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
# bench/httpx.py would shadow the httpx package for a script run from here
# (and for the benchmarks that put this directory on the path to import
# this module).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent / "test"))

from support import servers  # noqa: E402  (lives in test/support/, shared with the interop tests)

KiB = 1024
MiB = 1024 * KiB

# One worker run (one client, one scenario). The slowest expected run is httpx on (b),
# about 3 s; --upload-bytes makes httpx take minutes, hence the generous bound.
WORKER_TIMEOUT = 600.0
CLIENTS = ("hyper", "httpx", "niquests", "pycurl", "curl", "h2load")
PYTHON_CLIENTS = ("hyper", "httpx", "niquests", "pycurl")
# With --baseline DIR: hyper from another source tree (an older commit,
# checked out with ``git worktree add DIR REV``), measured in the same run.
BASELINE = "base"
SMALL_PATH = "/1k.bin"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    unit: str  # "req/s" or "MB/s"


SCENARIOS = {
    "a": Scenario("a", "sequential small GETs", "req/s"),
    "b": Scenario("b", "small GETs, 100 in flight", "req/s"),
    "c": Scenario("c", "one large download", "MB/s"),
    "d": Scenario("d", "one large upload", "MB/s"),
    # hyper from 100 threads sharing its one connection; everyone else as in (b).
    "e": Scenario("e", "small GETs, 100 threads on one connection", "req/s"),
    # As (e), without the executor: 100 threads that loop.
    "g": Scenario("g", "small GETs, 100 looping threads on one connection", "req/s"),
    # As (d), to nghttpd, which takes an upload faster than any client here sends it.
    "f": Scenario("f", "one large upload to a sink that keeps up", "MB/s"),
}
UPLOADS = ("d", "f")
# Where each upload goes: h2o's mruby sink answers with the byte count; nghttpd reads
# the whole body, then answers with the file at the path.
UPLOAD_PATHS = {"d": "/upload", "f": SMALL_PATH}


@dataclass(frozen=True)
class Sizes:
    requests: int
    inflight: int
    download: str  # a name from servers.LAZY_FILES
    upload_size: int
    rounds: int


FULL = Sizes(requests=2000, inflight=100, download="256m.bin", upload_size=64 * MiB, rounds=5)
QUICK = Sizes(requests=200, inflight=100, download="64m.bin", upload_size=8 * MiB, rounds=1)


@dataclass
class Sample:
    value: float | None  # req/s or MB/s; None when the run failed
    peak_rss: int | None = None  # bytes, Python workers only
    rss_growth: int | None = None
    error: str | None = None
    # The worker's own CPU time (all its threads, user and system) per
    # request, in microseconds: Python workers, req/s scenarios only. On a
    # machine shared with other work it moves far less than the rate.
    cpu_us: float | None = None


# ---------------------------------------------------------------------------------------
# Workers: one client, one scenario, one process. Print one JSON line.
# ---------------------------------------------------------------------------------------


def _hyper_worker(args: argparse.Namespace) -> dict[str, Any]:
    from hyper.http20.connection import HTTP20Connection
    from hyper.tls import init_context

    conn = HTTP20Connection(
        args.authority, secure=True, ssl_context=init_context(cert_path=args.ca)
    )

    def get(path: str) -> bytes:
        resp = conn.getresponse(conn.request("GET", path))
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: status {resp.status}")
        return body

    get(SMALL_PATH)  # connect and warm up outside the clock
    scenario = args.scenario

    def run() -> int:
        if scenario == "a":
            for _ in range(args.count):
                get(SMALL_PATH)
            return args.count
        if scenario == "b":
            # Single thread, pipelined: keep `inflight` requests open, read the oldest.
            pending: collections.deque[int] = collections.deque()
            issued = done = 0
            while done < args.count:
                while issued < args.count and len(pending) < args.inflight:
                    pending.append(conn.request("GET", SMALL_PATH))
                    issued += 1
                resp = conn.getresponse(pending.popleft())
                resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"status {resp.status}")
                done += 1
            return done
        if scenario == "e":
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=args.inflight) as pool:
                for _ in pool.map(lambda _: get(SMALL_PATH), range(args.count)):
                    pass
            return args.count
        if scenario == "g":
            return _looping_threads(args.inflight, args.count, lambda: get(SMALL_PATH))
        if scenario == "c":
            resp = conn.getresponse(conn.request("GET", args.path))
            total = 0
            for chunk in resp.read_chunked():
                total += len(chunk)
            return total
        if scenario in UPLOADS:
            return _upload(
                args, lambda path, body: conn.getresponse(conn.request("PUT", path, body=body))
            )
        raise ValueError(scenario)

    result = _timed(run)
    conn.close()
    return result


def _looping_threads(threads: int, count: int, get: Callable[[], object]) -> int:
    """``count`` calls of ``get`` from ``threads`` threads, each calling it
    again as soon as it returns (scenario (g)); the first failure is raised."""
    import threading

    left = [count]
    failures: list[BaseException] = []
    lock = threading.Lock()

    def loop() -> None:
        while not failures:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            try:
                get()
            except BaseException as exc:
                failures.append(exc)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    return count


def _httpx_worker(args: argparse.Namespace) -> dict[str, Any]:
    import ssl
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    ctx = ssl.create_default_context(cafile=args.ca)
    # One connection: HTTP/2 multiplexes every request onto it.
    client = httpx.Client(http2=True, verify=ctx, limits=httpx.Limits(max_connections=1))
    base = f"https://{args.authority}"

    def get(path: str) -> bytes:
        resp = client.get(base + path)
        if resp.status_code != 200 or resp.http_version != "HTTP/2":
            raise RuntimeError(f"GET {path}: {resp.status_code} {resp.http_version}")
        return resp.content

    get(SMALL_PATH)
    scenario = args.scenario

    def run() -> int:
        if scenario == "a":
            for _ in range(args.count):
                get(SMALL_PATH)
            return args.count
        if scenario == "b":
            with ThreadPoolExecutor(max_workers=args.inflight) as pool:
                for _ in pool.map(lambda _: get(SMALL_PATH), range(args.count)):
                    pass
            return args.count
        if scenario == "c":
            total = 0
            with client.stream("GET", base + args.path) as resp:
                for chunk in resp.iter_bytes():
                    total += len(chunk)
            return total
        if scenario in UPLOADS:

            class _Resp:
                def __init__(self, r: httpx.Response) -> None:
                    self.status = r.status_code
                    self._body = r.content

                def read(self) -> bytes:
                    return self._body

            return _upload(args, lambda path, body: _Resp(client.put(base + path, content=body)))
        raise ValueError(scenario)

    result = _timed(run)
    client.close()
    return result


def _niquests_worker(args: argparse.Namespace) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import niquests

    # One connection, HTTP/2 by ALPN (HTTP/3 off: it would need UDP).
    session = niquests.Session(pool_connections=1, pool_maxsize=1, disable_http3=True)
    base = f"https://{args.authority}"
    ca = args.ca

    def get(path: str) -> bytes:
        resp = session.get(base + path, verify=ca)
        if resp.status_code != 200 or resp.http_version != 20:
            raise RuntimeError(f"GET {path}: {resp.status_code} HTTP/{resp.http_version}")
        return resp.content or b""

    get(SMALL_PATH)
    scenario = args.scenario

    def run() -> int:
        if scenario == "a":
            for _ in range(args.count):
                get(SMALL_PATH)
            return args.count
        if scenario == "b":
            with ThreadPoolExecutor(max_workers=args.inflight) as pool:
                for _ in pool.map(lambda _: get(SMALL_PATH), range(args.count)):
                    pass
            return args.count
        if scenario == "c":
            total = 0
            with session.get(base + args.path, stream=True, verify=ca) as resp:
                for chunk in resp.iter_content(1 << 20):
                    total += len(chunk)
            return total
        if scenario in UPLOADS:

            class _Resp:
                def __init__(self, r: Any) -> None:
                    self.status = r.status_code
                    self._body = r.content

                def read(self) -> bytes:
                    return self._body  # type: ignore[no-any-return]

            return _upload(
                args, lambda path, body: _Resp(session.put(base + path, data=body, verify=ca))
            )
        raise ValueError(scenario)

    result = _timed(run)
    session.close()
    return result


def _pycurl_worker(args: argparse.Namespace) -> dict[str, Any]:
    """libcurl through pycurl: one easy handle (one connection) for (a), (c)
    and (d); the multi interface with 100 transfers in flight for (b)."""
    import pycurl

    base = f"https://{args.authority}"
    share = pycurl.CurlShare()
    share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_CONNECT)

    def handle() -> Any:
        c = pycurl.Curl()
        c.setopt(pycurl.CAINFO, args.ca)
        c.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS)
        c.setopt(pycurl.SHARE, share)
        return c

    counted = [0]

    def sink(data: bytes) -> None:
        counted[0] += len(data)

    easy = handle()
    easy.setopt(pycurl.WRITEFUNCTION, sink)

    def get(c: Any, path: str) -> None:
        c.setopt(pycurl.URL, base + path)
        c.perform()
        if c.getinfo(pycurl.RESPONSE_CODE) != 200:
            raise RuntimeError(f"GET {path}: {c.getinfo(pycurl.RESPONSE_CODE)}")

    get(easy, SMALL_PATH)
    scenario = args.scenario

    def run() -> int:
        if scenario == "a":
            for _ in range(args.count):
                get(easy, SMALL_PATH)
            return args.count
        if scenario == "b":
            multi = pycurl.CurlMulti()
            multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
            multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, 1)
            handles = []
            for _ in range(args.inflight):
                c = handle()
                c.setopt(pycurl.WRITEFUNCTION, sink)
                c.setopt(pycurl.URL, base + SMALL_PATH)
                c.setopt(pycurl.PIPEWAIT, 1)
                handles.append(c)
            issued = done = 0
            for c in handles[: args.count]:
                multi.add_handle(c)
                issued += 1
            while done < args.count:
                multi.select(1.0)
                while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                    pass
                _, ok, failed = multi.info_read()
                if failed:
                    raise RuntimeError(f"pycurl: {failed[0][2]}")
                for c in ok:
                    done += 1
                    multi.remove_handle(c)
                    if issued < args.count:
                        multi.add_handle(c)
                        issued += 1
            return done
        if scenario == "c":
            counted[0] = 0
            get(easy, args.path)
            return counted[0]
        if scenario in UPLOADS:
            answer = bytearray()
            with open(args.upload_file, "rb") as f:
                easy.setopt(pycurl.URL, base + UPLOAD_PATHS[scenario])
                easy.setopt(pycurl.UPLOAD, 1)
                easy.setopt(pycurl.READFUNCTION, f.read)
                easy.setopt(pycurl.INFILESIZE_LARGE, args.upload_size)
                easy.setopt(pycurl.WRITEFUNCTION, answer.extend)
                easy.perform()
                sent = f.tell()
            _check_upload(args, easy.getinfo(pycurl.RESPONSE_CODE), bytes(answer), sent)
            return args.upload_size
        raise ValueError(scenario)

    return _timed(run)


def _upload(args: argparse.Namespace, put: Callable[[str, Any], Any]) -> int:
    path = UPLOAD_PATHS[args.scenario]
    if args.upload_bytes:
        body: Any = Path(args.upload_file).read_bytes()
        resp = put(path, body)
        sent = len(body)
    else:
        with open(args.upload_file, "rb") as f:
            resp = put(path, f)
            sent = f.tell()
    _check_upload(args, resp.status, resp.read(), sent)
    return args.upload_size


def _check_upload(args: argparse.Namespace, status: int, answer: bytes, sent: int) -> None:
    """The server said 200 after the whole file was read for the upload, and h2o's
    sink (d) counted every byte (nghttpd (f) reads it all before it answers)."""
    if status != 200 or sent != args.upload_size:
        raise RuntimeError(f"upload: status {status}, {sent} bytes of the file read")
    if args.scenario == "d" and int(answer) != args.upload_size:
        raise RuntimeError(f"upload: server counted {answer!r}")


def _timed(run: Callable[[], int]) -> dict[str, Any]:
    # Peak RSS covers the timed part only: imports and the handshake are not the
    # transfer's cost.
    with servers.PeakRSS() as rss:
        started = time.perf_counter()
        cpu = time.process_time()
        amount = run()
        cpu = time.process_time() - cpu
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds, "amount": amount, "cpu": cpu,
        "peak_rss": rss.peak, "growth": rss.growth,
    }  # fmt: skip


def worker_main(args: argparse.Namespace) -> None:
    workers = {
        "hyper": _hyper_worker,
        "httpx": _httpx_worker,
        "niquests": _niquests_worker,
        "pycurl": _pycurl_worker,
    }
    print(json.dumps(workers[args.worker](args)))


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------


class Bench:
    def __init__(
        self,
        server: servers.Server,
        sizes: Sizes,
        workdir: Path,
        args: Any,
        sink: servers.Server | None = None,
    ) -> None:
        self.server = server
        self.sink = sink  # nghttpd, for (f)
        self.upload_server: servers.Server | None = None  # a fresh h2o for each (d) sample
        self._fresh = 0
        self.sizes = sizes
        self.workdir = workdir
        self.args = args
        self.download_path = "/" + sizes.download
        self.download_size = servers.LAZY_FILES[sizes.download]
        self.upload_file = workdir / "upload.bin"
        self.curl = shutil.which("curl")
        self.h2load = shutil.which("h2load")

    def prepare(self, scenarios: list[str]) -> None:
        if "c" in scenarios:
            self.server.docroot.ensure(self.sizes.download)
        if any(key in scenarios for key in UPLOADS):
            with open(self.upload_file, "wb") as f:
                for _ in range(self.sizes.upload_size // MiB):
                    f.write(os.urandom(MiB))
        for key in ("a", "b"):
            # (e) runs everyone but hyper as (b)
            if key in scenarios or (key == "b" and ("e" in scenarios or "g" in scenarios)):
                self._write_curl_config(key)

    def _write_curl_config(self, key: str) -> Path:
        path = self.workdir / f"curl-{key}.cfg"
        url = self.server.url(SMALL_PATH)
        entry = f'url = "{url}"\noutput = "/dev/null"\n'
        path.write_text(entry * self.sizes.requests)
        return path

    def _target(self, scenario: str) -> servers.Server:
        server = {"d": self.upload_server, "f": self.sink}.get(scenario, self.server)
        if server is None:
            raise RuntimeError(f"({scenario}) has no server")
        return server

    def run(self, client: str, scenario: str) -> Sample:
        if scenario in ("e", "g") and client not in ("hyper", BASELINE):
            scenario = "b"  # (e) and (g) differ from (b) for hyper only
        try:
            if scenario != "d":
                return self._run(client, scenario)
            # h2o 2.2.5's upload sink slows down after a few uploads and keeps
            # most of each in memory (h2load, 64 MiB each: about 100 ms for the
            # first four, 190-280 ms from the fifth on, RSS 1 GB after twelve):
            # every (d) sample gets an h2o of its own.
            self._fresh += 1
            server = self.server
            with servers.start_h2o(
                server.pki, server.docroot, self.workdir / f"h2o-upload-{self._fresh}"
            ) as self.upload_server:
                return self._run(client, scenario)
        except Exception as e:
            return Sample(None, error=f"{type(e).__name__}: {e}")
        finally:
            self.upload_server = None

    def _run(self, client: str, scenario: str) -> Sample:
        if client in PYTHON_CLIENTS:
            return self._python(client, scenario)
        if client == BASELINE:
            return self._python("hyper", scenario, pythonpath=self.args.baseline)
        if client == "curl":
            return self._curl(scenario)
        return self._h2load(scenario)

    def _amount_to_rate(self, scenario: str, seconds: float, amount: int) -> float:
        if SCENARIOS[scenario].unit == "req/s":
            return amount / seconds
        return amount / seconds / 1e6

    def _python(self, client: str, scenario: str, pythonpath: str | None = None) -> Sample:
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            client,
            "--scenario",
            scenario,
            "--authority",
            self._target(scenario).authority,
            "--ca",
            self.server.ca_path,
            "--count",
            str(self.sizes.requests),
            "--inflight",
            str(self.sizes.inflight),
            "--path",
            self.download_path,
            "--upload-file",
            str(self.upload_file),
            "--upload-size",
            str(self.sizes.upload_size),
        ]
        if self.args.upload_bytes:
            argv.append("--upload-bytes")
        env = None
        if pythonpath is not None:
            # The baseline's hyper shadows the installed one in the worker.
            env = {**os.environ, "PYTHONPATH": pythonpath}
        out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT, env=env)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
            return Sample(None, error=last)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        self._check_amount(scenario, data["amount"])
        cpu_us = None
        if SCENARIOS[scenario].unit == "req/s" and "cpu" in data:
            cpu_us = data["cpu"] / data["amount"] * 1e6
        return Sample(
            self._amount_to_rate(scenario, data["seconds"], data["amount"]),
            peak_rss=data["peak_rss"],
            rss_growth=data["growth"],
            cpu_us=cpu_us,
        )

    def _check_amount(self, scenario: str, amount: int) -> None:
        expected = {
            "a": self.sizes.requests,
            "b": self.sizes.requests,
            "e": self.sizes.requests,
            "g": self.sizes.requests,
            "c": self.download_size,
            "d": self.sizes.upload_size,
            "f": self.sizes.upload_size,
        }[scenario]
        if amount != expected:
            raise RuntimeError(f"moved {amount}, expected {expected}")

    def _curl_base(self) -> list[str]:
        if self.curl is None:
            raise RuntimeError("curl not on PATH")
        return [self.curl, "--http2", "--silent", "--show-error", "--cacert", self.server.ca_path]

    def _curl(self, scenario: str) -> Sample:
        if scenario in ("a", "b"):
            argv = [*self._curl_base(), "--config", str(self.workdir / f"curl-{scenario}.cfg")]
            if scenario == "b":
                argv += ["--parallel", "--parallel-max", str(self.sizes.inflight)]
            argv += ["--write-out", "%{http_code} %{num_connects} %{http_version}\n"]
            started = time.perf_counter()
            out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
            seconds = time.perf_counter() - started
            if out.returncode != 0:
                raise RuntimeError(out.stderr.strip())
            lines = out.stdout.split()
            codes, connects, versions = lines[0::3], lines[1::3], lines[2::3]
            if codes != ["200"] * self.sizes.requests or set(versions) != {"2"}:
                raise RuntimeError("curl: not every request was an HTTP/2 200")
            n_conn = sum(int(c) for c in connects)
            if n_conn != 1:
                raise RuntimeError(f"curl used {n_conn} connections, not 1")
            return Sample(self.sizes.requests / seconds)
        write_out = "%{http_code} %{time_total} %{size_download} %{size_upload}"
        if scenario == "c":
            argv = [
                *self._curl_base(),
                "--output",
                "/dev/null",
                self.server.url(self.download_path),
            ]
        else:
            argv = [
                *self._curl_base(),
                "--upload-file",
                str(self.upload_file),
                "--output",
                "/dev/null",
                self._target(scenario).url(UPLOAD_PATHS[scenario]),
            ]
        argv += ["--write-out", write_out]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip())
        code, total, down, up = out.stdout.split()
        moved = int(float(down)) if scenario == "c" else int(float(up))
        if code != "200":
            raise RuntimeError(f"curl: status {code}")
        self._check_amount(scenario, moved)
        return Sample(moved / float(total) / 1e6)

    def _h2load(self, scenario: str) -> Sample:
        if self.h2load is None:
            raise RuntimeError("h2load not on PATH")
        argv = [self.h2load, "--clients=1"]
        if scenario in ("a", "b"):
            inflight = 1 if scenario == "a" else self.sizes.inflight
            argv += [f"--requests={self.sizes.requests}", f"--max-concurrent-streams={inflight}"]
            argv.append(self.server.url(SMALL_PATH))
        elif scenario == "c":
            argv += ["--requests=1", self.server.url(self.download_path)]
        else:
            url = self._target(scenario).url(UPLOAD_PATHS[scenario])
            argv += ["--requests=1", f"--data={self.upload_file}", url]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
        text = out.stdout
        match = re.search(r"finished in ([\d.]+)(us|ms|s),", text)
        done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", text)
        if out.returncode != 0 or match is None or done is None:
            raise RuntimeError(f"h2load: {out.stderr.strip() or text[-300:]}")
        seconds = float(match.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[match.group(2)]
        expected = self.sizes.requests if scenario in ("a", "b") else 1
        if int(done.group(1)) != expected:
            raise RuntimeError(f"h2load: {done.group(0)}")
        if scenario in ("a", "b"):
            return Sample(expected / seconds)
        size = self.download_size if scenario == "c" else self.sizes.upload_size
        return Sample(size / seconds / 1e6)


def _median(samples: list[Sample]) -> float | None:
    values = [s.value for s in samples if s.value is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den == 0:
        return "n/a"
    return f"{num / den:.2f}x"


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / MiB:.0f} MiB"


# Issue 22's goals that this harness measures: (scenario, reference, least ratio).
GOALS = (("a", "h2load", 0.7), ("e", "curl", 0.7), ("g", "curl", 0.7))


def _rate_ratio(by_client: dict[str, list[Sample]], other: str) -> float | None:
    mine, theirs = _median(by_client["hyper"]), _median(by_client[other])
    return mine / theirs if mine and theirs else None


def report(results: dict[str, dict[str, list[Sample]]], sizes: Sizes) -> str:
    clients = [c for c in (*CLIENTS, BASELINE) if all(c in r for r in results.values())]
    header = ["scenario", "unit", *clients, "hyper/httpx", "hyper/niquests", "hyper/pycurl",
              "hyper/curl"]  # fmt: skip
    if BASELINE in clients:
        header.append("hyper/base")
    rows = []
    for key, by_client in results.items():
        sc = SCENARIOS[key]
        med = {c: _median(by_client[c]) for c in clients}
        cells = {}
        for c in clients:
            failed = sum(1 for s in by_client[c] if s.value is None)
            # A median over the runs that worked, flagged when some did not.
            cells[c] = _fmt(med[c]) + ("*" if failed and med[c] is not None else "")
        row = [
            f"({key}) {_describe(key, sizes)}",
            sc.unit,
            *(cells[c] for c in clients),
            *(_ratio(med["hyper"], med[c]) for c in ("httpx", "niquests", "pycurl", "curl")),
        ]
        if BASELINE in clients:
            row.append(_ratio(med["hyper"], med[BASELINE]))
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]

    goal_lines = []
    for key, other, goal in GOALS:
        if key in results and other in clients:
            ratio = _rate_ratio(results[key], other)
            if ratio is not None:
                verdict = "met" if ratio >= goal else "not met"
                goal_lines.append(
                    f"({key}) hyper/{other} {ratio:.2f}x, goal >= {goal:.1f}x: {verdict}"
                )
    if goal_lines:
        lines += ["", "Goals (issue 22; medians of the rounds):", *goal_lines]

    cpu_lines = []
    for key, by_client in results.items():
        if SCENARIOS[key].unit != "req/s":
            continue
        cells = []
        for client in (*PYTHON_CLIENTS, BASELINE):
            values = [s.cpu_us for s in by_client.get(client, []) if s.cpu_us is not None]
            if values:
                cells.append(f"{client} {statistics.median(values):,.0f}")
        if cells:
            cpu_lines.append(f"({key}) " + ", ".join(cells))
    if cpu_lines:
        lines += ["", "Client CPU per request (us, median; user + system, all threads):",
                  *cpu_lines]  # fmt: skip

    rss_lines = []
    for key in ("c", *UPLOADS):
        if key not in results:
            continue
        for client in PYTHON_CLIENTS:
            samples = [s for s in results[key][client] if s.peak_rss is not None]
            if samples:
                peak = max(s.peak_rss or 0 for s in samples)
                growth = max(s.rss_growth or 0 for s in samples)
                rss_lines.append(
                    f"({key}) {client}: peak RSS {_mib(peak)}, growth during transfer "
                    f"{_mib(growth)}"
                )
    if rss_lines:
        lines += ["", "Peak RSS of the client process (worst round):", *rss_lines]

    errors = collections.Counter(
        f"{client} ({key}): {s.error}"
        for key, by_client in results.items()
        for client, samples in by_client.items()
        for s in samples
        if s.error
    )
    if errors:
        lines += ["", "Failed runs (n/a: all failed; *: median of the runs that worked):"]
        lines += [f"{n}x {error}" for error, n in sorted(errors.items())]
    return "\n".join(lines)


def _describe(key: str, sizes: Sizes) -> str:
    if key == "a":
        return f"{sizes.requests:,} sequential GETs"
    if key == "b":
        return f"{sizes.requests:,} GETs, {sizes.inflight} in flight"
    if key == "e":
        return f"{sizes.requests:,} GETs, {sizes.inflight} threads"
    if key == "g":
        return f"{sizes.requests:,} GETs, {sizes.inflight} own threads"
    if key == "c":
        return f"{servers.LAZY_FILES[sizes.download] // MiB} MiB download"
    if key == "f":
        return f"{sizes.upload_size // MiB} MiB upload, nghttpd"
    return f"{sizes.upload_size // MiB} MiB upload"


def _start_sink(pki: servers.PKI, docroot: servers.Docroot, workdir: Path) -> servers.Server:
    """nghttpd as the upload sink of (f): no push, no trailers, no echo (it reads the
    body and answers with the file at the path), 16 MiB windows like h2o's."""
    return servers.start_nghttpd(
        pki,
        docroot,
        workdir,
        push=(),
        trailers=(),
        echo_upload=False,
        extra_args=("--window-bits=24", "--connection-window-bits=24"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument("--rounds", type=int, help="rounds per scenario (median is reported)")
    parser.add_argument(
        "--upload-bytes",
        action="store_true",
        help="(d): Python clients upload a bytes object instead of a file (httpx: minutes)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every sample")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also time hyper from the source tree DIR (say, a git worktree of an older "
        "commit) in the same run, and report hyper/base",
    )
    # Internal: run one measurement in this process and print JSON.
    parser.add_argument("--worker", choices=PYTHON_CLIENTS, help=argparse.SUPPRESS)
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

    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or sizes.rounds
    scenarios = args.scenario or sorted(SCENARIOS)
    workdir = servers.standalone_workdir("hyper-bench-")
    try:
        pki = servers.PKI(workdir / "pki")
        docroot = servers.Docroot(workdir / "docroot")
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(servers.start_h2o(pki, docroot, workdir / "h2o"))
            sink = None
            if "f" in scenarios:
                sink = stack.enter_context(_start_sink(pki, docroot, workdir / "nghttpd"))
            bench = Bench(server, sizes, workdir, args, sink)
            bench.prepare(scenarios)
            print(
                f"server: h2o {server.authority} (TLS, h2), "
                f"{rounds} round(s), python {sys.version.split()[0]}",
                file=sys.stderr,
            )
            results: dict[str, dict[str, list[Sample]]] = {}
            for key in scenarios:
                clients = (*CLIENTS, BASELINE) if args.baseline else CLIENTS
                results[key] = {c: [] for c in clients}
                for n in range(rounds):
                    for client in clients:
                        sample = bench.run(client, key)
                        results[key][client].append(sample)
                        if args.verbose:
                            shown = _fmt(sample.value) if sample.error is None else sample.error
                            print(f"  ({key}) round {n + 1} {client}: {shown}", file=sys.stderr)
                print(f"  ({key}) done", file=sys.stderr)
        print(report(results, sizes))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

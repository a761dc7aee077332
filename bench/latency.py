"""
Round trips to the first response: one GET on a fresh TLS connection through a
relay that delays every chunk, each way, by a fixed time.

On loopback a round trip costs microseconds, so a client that waits one more
round trip than it needs looks as fast as one that does not. This benchmark
puts a relay between the client and h2o that holds every chunk it forwards for
``--delay`` seconds (25 ms: an RTT of 50 ms, a cross-country link), then
reports each client's time to the full response in RTTs. A TLS 1.3 handshake
is one round trip and the request another, so two is the floor; a client that
waits for the server's SETTINGS before it sends its request needs three.

Running::

    python bench/latency.py                  # 5 rounds, 25 ms each way
    python bench/latency.py --rounds 9 --delay 0.05

Each measurement is a fresh process; the clock starts after imports, just
before the connection is made (curl is timed by its own ``time_total``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test"))

import servers  # noqa: E402  (lives in test/, shared with the interop tests)

PATH = "/1k.bin"
WORKER_TIMEOUT = 60.0
# Worker names; each is a function below, or curl.
CLIENTS = ("hyper.HTTP20Connection", "hyper.HTTPConnection", "httpx", "curl")


# ---------------------------------------------------------------------------------------
# The relay
# ---------------------------------------------------------------------------------------


class DelayRelay:
    """
    Listens on 127.0.0.1 and forwards each connection to ``target``, holding
    every chunk read in either direction for ``delay`` seconds before it is
    written on (order kept). The delay is the simulated link, not a wait for
    anything: chunks read while others are held travel together.
    """

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.target = target
        self.delay = delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> DelayRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        held: deque[tuple[float, bytes]] = deque()
        ready = threading.Condition()
        done = False

        def deliver() -> None:
            while True:
                with ready:
                    while not held and not done:
                        ready.wait()
                    if not held:
                        break
                    due, data = held.popleft()
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # the link's latency
                try:
                    dst.sendall(data)
                except OSError:
                    break
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            with ready:
                if not data:
                    done = True
                    ready.notify()
                    break
                held.append((time.monotonic() + self.delay, data))
                ready.notify()
        sender.join(WORKER_TIMEOUT)


# ---------------------------------------------------------------------------------------
# Workers: one GET on a fresh connection; print the seconds it took.
# ---------------------------------------------------------------------------------------


def _hyper_h2(authority: str, ca: str) -> Callable[[], bytes]:
    from hyper import HTTP20Connection
    from hyper.tls import init_context

    context = init_context(cert_path=ca)

    def get() -> bytes:
        with HTTP20Connection(authority, secure=True, ssl_context=context) as conn:
            conn.request("GET", PATH)
            return conn.getresponse().read()

    return get


def _hyper_auto(authority: str, ca: str) -> Callable[[], bytes]:
    from hyper import HTTPConnection
    from hyper.common.util import HTTPVersion
    from hyper.tls import init_context

    context = init_context(cert_path=ca)

    def get() -> bytes:
        with HTTPConnection(authority, secure=True, ssl_context=context) as conn:
            conn.request("GET", PATH)
            response = conn.getresponse()
            if response.version is not HTTPVersion.http20:
                raise RuntimeError(f"not HTTP/2: {response.version}")
            return response.read()

    return get


def _httpx(authority: str, ca: str) -> Callable[[], bytes]:
    import ssl

    import httpx

    context = ssl.create_default_context(cafile=ca)

    def get() -> bytes:
        with httpx.Client(http2=True, verify=context) as client:
            response = client.get(f"https://{authority}{PATH}")
            if response.http_version != "HTTP/2":
                raise RuntimeError(f"not HTTP/2: {response.http_version}")
            return response.content

    return get


WORKERS = {
    "hyper.HTTP20Connection": _hyper_h2,
    "hyper.HTTPConnection": _hyper_auto,
    "httpx": _httpx,
}


def worker_main(args: argparse.Namespace) -> None:
    get = WORKERS[args.worker](args.authority, args.ca)
    started = time.perf_counter()
    body = get()
    seconds = time.perf_counter() - started
    if len(body) != 1024:
        raise RuntimeError(f"got {len(body)} bytes")
    print(json.dumps({"seconds": seconds}))


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------


def measure(client: str, authority: str, ca: str) -> float:
    if client == "curl":
        curl = shutil.which("curl")
        if curl is None:
            raise RuntimeError("curl is not installed")
        out = subprocess.run(
            [curl, "-sS", "--http2", "--cacert", ca, "-o", "/dev/null", "-w",
             "%{http_version} %{time_total}", f"https://{authority}{PATH}"],
            capture_output=True, text=True, timeout=WORKER_TIMEOUT, check=True,
        )  # fmt: skip
        version, seconds = out.stdout.split()
        if version != "2":
            raise RuntimeError(f"curl spoke HTTP/{version}")
        return float(seconds)
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", client,
            "--authority", authority, "--ca", ca]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError((out.stderr.strip().splitlines() or ["(no output)"])[-1])
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.025, help="seconds, each way")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--authority", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args)
        return 0
    rtt = 2 * args.delay
    workdir = servers.standalone_workdir("hyper-latency-")
    try:
        pki = servers.PKI(workdir / "pki")
        docroot = servers.Docroot(workdir / "docroot")
        with servers.start_h2o(pki, docroot, workdir / "h2o") as server:
            host, _, port = server.authority.rpartition(":")
            with DelayRelay((host, int(port)), args.delay) as relay:
                authority = f"127.0.0.1:{relay.port}"
                results: dict[str, list[float]] = {c: [] for c in CLIENTS}
                errors: dict[str, str] = {}
                for _ in range(args.rounds):
                    for client in CLIENTS:
                        try:
                            results[client].append(measure(client, authority, server.ca_path))
                        except Exception as e:  # one client failing must not hide the rest
                            errors[client] = f"{type(e).__name__}: {e}"
        print(f"time to the first response, fresh TLS connection, RTT {rtt * 1000:.0f} ms, "
              f"median of {args.rounds}")  # fmt: skip
        print(f"{'client':<26}{'ms':>8}{'RTTs':>8}")
        for client, samples in results.items():
            if samples:
                median = statistics.median(samples)
                print(f"{client:<26}{median * 1000:>8.1f}{median / rtt:>8.2f}")
            else:
                print(f"{client:<26}{'n/a':>8}{'n/a':>8}")
        for client, error in errors.items():
            print(f"{client}: {error}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

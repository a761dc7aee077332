"""
Where a sequential request's time goes: hyper's Python against the socket and TLS
calls it makes, per request, for ``bench/client.py``'s scenario (a) (sequential GETs
of 1 KiB on one connection to h2o over TLS).

Running::

    python bench/per_request.py                          # this tree, 5 rounds
    mkdir /tmp/before && git archive <commit> hyper | tar -x -C /tmp/before
    python bench/per_request.py --baseline /tmp/before   # both trees, alternating

Each measurement is a fresh process that times, from outside, the socket layer's
calls (``RawIO.wait``, ``receive`` and ``write_all``: the ``send``, the ``poll`` that
waits for h2o, the ``recv``) and the TLS object's ``read`` and ``write``; hyper's
Python is the wall time minus both. The timing wrappers' own cost (a few us a
request) lands in the Python figure, the same for every tree measured. The table
shows medians over the rounds, in microseconds per request.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test"))

from support import servers  # noqa: E402  (lives in test/support/, shared with the tests)

PATH = "/1k.bin"
WORKER_TIMEOUT = 300.0
ROWS = (
    ("wall", "wall"),
    ("cpu", "CPU (user + system)"),
    ("io", "socket calls"),
    ("tls", "TLS calls"),
    ("hyper", "hyper's Python"),
)


def worker(tree: str, authority: str, ca: str, count: int) -> dict[str, float]:
    """Make ``count`` timed GETs with the hyper of ``tree`` (after a warm-up)."""
    sys.path.insert(0, tree)
    from hyper.http20.connection import HTTP20Connection
    from hyper.net import rawio
    from hyper.net.tls_socket import TLSSocket
    from hyper.tls import init_context

    spent = {"io": 0.0, "tls": 0.0}
    clock = time.perf_counter

    def timed(kind: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            started = clock()
            try:
                return call(*args)
            finally:
                spent[kind] += clock() - started

        return wrapper

    # receive() waits through wait(): time it whole, and its waits once.
    receive = rawio.RawIO.receive

    def timed_receive(self: Any, view: memoryview, deadline: float | None) -> int:
        started, before = clock(), spent["io"]
        try:
            return int(receive(self, view, deadline))
        finally:
            spent["io"] = before + clock() - started

    rawio.RawIO.wait = timed("io", rawio.RawIO.wait)  # type: ignore[method-assign]
    rawio.RawIO.write_all = timed("io", rawio.RawIO.write_all)  # type: ignore[method-assign]
    rawio.RawIO.receive = timed_receive  # type: ignore[method-assign]

    class TimedTLS:
        def __init__(self, obj: Any) -> None:
            self._obj = obj
            self.read = timed("tls", obj.read)
            self.write = timed("tls", obj.write)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._obj, name)

    conn = HTTP20Connection(authority, secure=True, ssl_context=init_context(cert_path=ca))

    def get() -> None:
        response = conn.getresponse(conn.request("GET", PATH))
        if len(response.read()) != 1024 or response.status != 200:
            raise RuntimeError(f"GET {PATH}: status {response.status}")

    get()  # connect
    for obj in gc.get_objects():
        if isinstance(obj, TLSSocket):
            obj._obj = TimedTLS(obj._obj)  # type: ignore[assignment]
    for _ in range(200):
        get()
    spent["io"] = spent["tls"] = 0.0
    cpu, started = time.process_time(), clock()
    for _ in range(count):
        get()
    wall, cpu = clock() - started, time.process_time() - cpu
    conn.close()
    per = {
        "wall": wall, "cpu": cpu, "io": spent["io"], "tls": spent["tls"],
        "hyper": wall - spent["io"] - spent["tls"],
    }  # fmt: skip
    return {key: value / count * 1e6 for key, value in per.items()}


def measure(tree: str, server: servers.Server, ca: Path, count: int) -> dict[str, float]:
    argv = [sys.executable, __file__, "--worker", tree, server.authority, str(ca), str(count)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError(f"worker for {tree} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=3000, help="timed GETs a measurement")
    parser.add_argument("--baseline", metavar="DIR", help="another tree, in alternation")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        tree, authority, ca, count = args.worker
        print(json.dumps(worker(tree, authority, ca, int(count))))
        return 0

    trees = {"hyper": str(HERE.parent)}
    if args.baseline:
        trees["base"] = str(Path(args.baseline).resolve())
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    workdir = servers.standalone_workdir("hyper-bench-per-request-")
    pki = servers.PKI(workdir / "pki")
    docroot = servers.Docroot(workdir / "docroot")
    with servers.start_h2o(pki, docroot, workdir / "h2o") as server:
        python = sys.version.split()[0]
        print(f"server: h2o {server.authority}; {args.count:,} sequential GETs of {PATH}; "
              f"{args.rounds} round(s); python {python}", file=sys.stderr)  # fmt: skip
        for n in range(args.rounds):
            for name, tree in trees.items():
                sample = measure(tree, server, pki.ca_path, args.count)
                results[name].append(sample)
                print(f"  round {n + 1} {name}: " + json.dumps(
                    {k: round(v, 1) for k, v in sample.items()}), file=sys.stderr)  # fmt: skip
    print(f"{'per request, us':<24}" + "".join(f"{name:>10}" for name in trees))
    for key, label in ROWS:
        cells = "".join(
            f"{statistics.median(s[key] for s in results[name]):>10.0f}" for name in trees
        )
        print(f"{label:<24}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""
The policy layer's cost: hyper's client core and server core back to back.

A :class:`~hyper.core.client.ClientCore` and a
:class:`~hyper.core.server.ServerCore` in one process, their bytes shuttled
by hand (no sockets, no driver), so what is timed is the engines plus what
the cores add per request: filing events into stream buffers, reading with
window credit, releasing slots. Each request is a GET answered with a 1 KiB
body, read by the client the way the drivers read it (``response_ready``,
``check_response``, ``read`` until drained).

- ``sequential``: one request in flight at a time (bench/client.py's (a));
- ``in-flight``: batches of ``--in-flight`` concurrent streams (its (b)).

Each scenario prints the median of ``--rounds`` runs, in seconds of this
process's CPU time (``--wall`` for wall-clock time: on a shared machine the
CPU time of one process moves far less), for the whole exchange and for the
client's part alone (``receive_data`` and ``read``). To compare two
versions of hyper, run this alternately with ``PYTHONPATH`` pointing at each
(``git archive <commit> hyper | tar -x -C DIR``) and compare the medians.
``--quick`` is a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hyper.core.client import ClientCore
from hyper.core.server import ServerCore, ServerLimits
from hyper.engine.config import EngineConfig
from hyper.engine.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The same request and response bench/engine.py times the engine with.
from engine import BODY, REQUEST, RESPONSE


def core_pair(concurrency: int) -> tuple[ClientCore, ServerCore]:
    """A client core and a server core after the preface and SETTINGS exchange."""
    client = ClientCore(Engine(EngineConfig(client_side=True)))
    server = ServerCore(concurrency, ServerLimits(), time.monotonic)
    client.start()
    server.start()
    for _ in range(4):
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
    assert client.settings_seen and server.settings_seen
    return client, server


def run(total: int, in_flight: int, clock: Callable[[], float]) -> tuple[float, float]:
    """``total`` requests, ``in_flight`` at a time: (whole time, client's part)."""
    client, server = core_pair(max(in_flight, 100))
    client_time = 0.0
    done = 0
    start = clock()
    while done < total:
        batch = min(in_flight, total - done)
        streams = []
        for _ in range(batch):
            opened = client.open_stream(REQUEST, True)
            assert opened is not None
            streams.append(opened[0])
        server.receive_data(client.data_to_send())
        request = server.next_request()
        while request is not None:
            server.send_headers(request, RESPONSE, False)
            server.send_data(request, BODY, True)
            request = server.next_request()
        data = server.data_to_send()
        t0 = clock()
        client.receive_data(data)
        for stream in streams:
            if not client.response_ready(stream):
                raise AssertionError("no response")
            client.check_response(stream)
            received = 0
            while True:
                chunks = client.read(stream, None)
                if not chunks:
                    break
                received += sum(map(len, chunks))
            if received != len(BODY):
                raise AssertionError(f"read {received} bytes")
        client_time += clock() - t0
        server.receive_data(client.data_to_send())
        done += batch
    return clock() - start, client_time


def measure(fn: Callable[[], tuple[float, float]], rounds: int) -> tuple[float, float]:
    results = [fn() for _ in range(rounds)]
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wall", action="store_true", help="time by the wall clock")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    total, rounds = (500, 1) if args.quick else (args.requests, args.rounds)
    clock = time.perf_counter if args.wall else time.process_time
    for name, in_flight in (("sequential", 1), ("in-flight", args.in_flight)):
        whole, client = measure(lambda n=in_flight: run(total, n, clock), rounds)
        print(f"{name:<11} {total} requests  whole {whole:.4f} s  client {client:.4f} s")


if __name__ == "__main__":
    main()

"""
The protocol cost alone: hyper's engine against the ``h2`` package.

Both run the same scripted exchange in one process, client and server
engines back to back with no sockets, so what is timed is framing, HPACK,
state machines and flow control:

- ``requests``: N request/response pairs, small headers, 1 KiB bodies, in
  batches of ``--in-flight`` concurrent streams; once with the same request
  repeated (HPACK block caches hit), once with a new ``:path`` each time (the
  request blocks miss and go through hpack's encoder);
- ``download``: one 64 MiB response body in 16 KiB DATA frames, the client
  acknowledging each chunk as consumed.

Each scenario alternates hyper and h2 ``--rounds`` times and reports the best
time of each and their ratio (h2 time / hyper time: above 1 means hyper is
faster). Run ``python bench/engine.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import h2.config
import h2.connection
import h2.events

from hyper.http20 import events as ev
from hyper.http20.config import EngineConfig
from hyper.http20.engine import Engine

REQUEST = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":path", b"/index.html"),
    (b":authority", b"example.com"),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"*/*"),
]
RESPONSE = [
    (b":status", b"200"),
    (b"content-type", b"text/plain"),
    (b"content-length", b"1024"),
    (b"server", b"bench"),
]
BODY = b"x" * 1024
CHUNK = 16384


# -- hyper -------------------------------------------------------------------


def hyper_pair() -> tuple[Engine, Engine]:
    client = Engine(EngineConfig(client_side=True))
    server = Engine(EngineConfig(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    return client, server


def request_for(n: int, vary: bool) -> list[tuple[bytes, bytes]]:
    """The request headers; with ``vary`` each request has its own path."""
    if not vary:
        return REQUEST
    return [*REQUEST[:2], (b":path", b"/item/%d" % n), *REQUEST[3:]]


def hyper_requests(total: int, in_flight: int, vary: bool = False) -> None:
    client, server = hyper_pair()
    done = 0
    while done < total:
        batch = min(in_flight, total - done)
        for n in range(done, done + batch):
            sid = client.get_next_available_stream_id()
            client.send_headers(sid, request_for(n, vary), end_stream=True)
        for event in server.receive_data(client.data_to_send()):
            if type(event) is ev.RequestReceived:
                server.send_headers(event.stream_id, RESPONSE)
                server.send_data(event.stream_id, BODY, end_stream=True)
        finished = 0
        for event in client.receive_data(server.data_to_send()):
            if type(event) is ev.DataReceived:
                client.acknowledge_received_data(event.stream_id, len(event.data))
                if event.end_stream:
                    finished += 1
        assert finished == batch
        server.receive_data(client.data_to_send())
        done += batch


def hyper_download(size: int) -> None:
    client, server = hyper_pair()
    sid = client.get_next_available_stream_id()
    client.send_headers(sid, REQUEST, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_headers(sid, RESPONSE[:2])
    payload = memoryview(b"y" * size)
    sent = 0
    received = 0
    while received < size:
        if sent < size:
            sent += server.send_data(sid, payload[sent:], end_stream=True)
        for event in client.receive_data(server.data_to_send()):
            if type(event) is ev.DataReceived:
                received += len(event.data)
                client.acknowledge_received_data(sid, len(event.data))
        server.receive_data(client.data_to_send())


# -- h2 ----------------------------------------------------------------------


def h2_pair() -> tuple[h2.connection.H2Connection, h2.connection.H2Connection]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, validate_inbound_headers=True)
    )
    client.initiate_connection()
    # The same large windows hyper advertises, so both do equal framing work.
    client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    client.increment_flow_control_window((16 << 20) - 65535)
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    return client, server


def h2_requests(total: int, in_flight: int, vary: bool = False) -> None:
    client, server = h2_pair()
    done = 0
    while done < total:
        batch = min(in_flight, total - done)
        for n in range(done, done + batch):
            sid = client.get_next_available_stream_id()
            client.send_headers(sid, request_for(n, vary), end_stream=True)
        for event in server.receive_data(client.data_to_send()):
            if type(event) is h2.events.RequestReceived:
                server.send_headers(event.stream_id, RESPONSE)
                server.send_data(event.stream_id, BODY, end_stream=True)
        finished = 0
        for event in client.receive_data(server.data_to_send()):
            if type(event) is h2.events.DataReceived:
                client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif type(event) is h2.events.StreamEnded:
                finished += 1
        assert finished == batch
        server.receive_data(client.data_to_send())
        done += batch


def h2_download(size: int) -> None:
    client, server = h2_pair()
    sid = client.get_next_available_stream_id()
    client.send_headers(sid, REQUEST, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_headers(sid, RESPONSE[:2])
    payload = memoryview(b"y" * size)
    sent = 0
    received = 0
    while received < size:
        window = server.local_flow_control_window(sid)
        while sent < size and window > 0:
            n = min(window, CHUNK, size - sent)
            server.send_data(sid, payload[sent : sent + n].tobytes(), end_stream=sent + n == size)
            sent += n
            window -= n
        for event in client.receive_data(server.data_to_send()):
            if type(event) is h2.events.DataReceived:
                received += len(event.data)
                client.acknowledge_received_data(event.flow_controlled_length, sid)
        server.receive_data(client.data_to_send())


# -- runner ------------------------------------------------------------------


def best_of(rounds: int, runs: dict[str, Callable[[], None]]) -> dict[str, float]:
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():  # interleaved, so drift hits both
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--download-mib", type=int, default=64)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests, args.download_mib = 1, 1000, 8
    size = args.download_mib << 20
    scenarios = {
        f"{args.requests} requests, 1 KiB bodies, {args.in_flight} in flight": {
            "hyper": lambda: hyper_requests(args.requests, args.in_flight),
            "h2": lambda: h2_requests(args.requests, args.in_flight),
        },
        f"{args.requests} requests as above, each its own :path": {
            "hyper": lambda: hyper_requests(args.requests, args.in_flight, vary=True),
            "h2": lambda: h2_requests(args.requests, args.in_flight, vary=True),
        },
        f"{args.download_mib} MiB download, 16 KiB frames": {
            "hyper": lambda: hyper_download(size),
            "h2": lambda: h2_download(size),
        },
    }
    print(f"{'scenario':<48} {'hyper s':>9} {'h2 s':>9} {'h2/hyper':>9}")
    for name, runs in scenarios.items():
        best = best_of(args.rounds, runs)
        ratio = best["h2"] / best["hyper"]
        print(f"{name:<48} {best['hyper']:>9.3f} {best['h2']:>9.3f} {ratio:>8.2f}x")


if __name__ == "__main__":
    main()

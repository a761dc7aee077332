"""Server benchmark: h2load against a minimal hyper.aio handler and against hypercorn.

Usage::

    python bench/aio_server.py              # h2load -n 100000 -c 10 -m 100, 3 rounds
    python bench/aio_server.py --quick      # -n 20000, one round
    python bench/aio_server.py --uvloop     # both servers on uvloop

Target (issue 8): hyper.aio at least 5x hypercorn's requests per second, one process
each. Both servers answer every request with the same status, headers and body
(``200``, ``content-type: text/plain``, 21 bytes), over cleartext HTTP/2 with prior
knowledge on 127.0.0.1, one process each, taking turns within a round; the table shows
the medians. h2load must report every request succeeded, or the run counts as failed.

hypercorn is an h2-based ASGI server (``pip install hypercorn``, a benchmark-only
dependency), serving a minimal ASGI app.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BODY = b"hello from the bench\n"
HEADERS = [("content-type", "text/plain"), ("content-length", str(len(BODY)))]
SERVERS = ("hyper.aio", "hypercorn")
# A server has this long to print its port, and h2load this long to finish.
START_TIMEOUT = 30.0
RUN_TIMEOUT = 300.0


# ---------------------------------------------------------------------------------------
# The servers (each runs in its own process: --serve NAME)
# ---------------------------------------------------------------------------------------


async def _serve_hyper() -> None:
    import hyper.aio as aioh2

    response = [(":status", "200"), *HEADERS]

    async def handler(proto: aioh2.H2Protocol) -> None:
        while True:
            stream_id, _ = await proto.recv_request()
            await proto.start_response(stream_id, response)
            await proto.send_data(stream_id, BODY, end_stream=True)

    server = await aioh2.start_server(handler, "127.0.0.1", 0, concurrency=100)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(n.encode(), v.encode()) for n, v in HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


async def _serve_hypercorn() -> None:
    import socket

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # hypercorn binds it again; a clash fails the start, loudly
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.h2_max_concurrent_streams = 100
    # Its default (1,000 requests, then GOAWAY) would fail h2load's later requests.
    config.keep_alive_max_requests = 10**9
    print(port, flush=True)  # the driver waits until it accepts connections
    await serve(_asgi_app, config)  # type: ignore[arg-type]


def serve_main(name: str, use_uvloop: bool) -> None:
    run = _serve_hyper if name == "hyper.aio" else _serve_hypercorn
    if use_uvloop:
        import uvloop

        uvloop.run(run())
    else:
        asyncio.run(run())


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------


def _wait_port(proc: subprocess.Popen[str], port: int) -> None:
    """Until the server accepts a TCP connection (it may print before it listens)."""
    import socket
    import time

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            try:  # returns early if the server died
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
    raise RuntimeError("server did not start listening")


def measure(name: str, args: argparse.Namespace, requests: int) -> float | None:
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", name]
    if args.uvloop:
        argv.append("--uvloop")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            error = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"{name} did not start: {error}")
        port = int(line)
        _wait_port(proc, port)
        h2load = shutil.which("h2load")
        if h2load is None:
            raise RuntimeError("h2load not on PATH")
        out = subprocess.run(
            [h2load, "-n", str(requests), "-c", "10", "-m", "100", f"http://127.0.0.1:{port}/"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        text = out.stdout
        rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
        ok = re.search(rf"{requests} succeeded, 0 failed, 0 errored, 0 timeout", text)
        if rate is None or ok is None:
            print(f"  {name}: h2load did not succeed:\n{text[-600:]}", file=sys.stderr)
            return None
        return float(rate.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 requests, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uvloop", action="store_true", help="both servers on uvloop")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_main(args.serve, args.uvloop)
        return 0
    requests = 20000 if args.quick else 100000
    rounds = 1 if args.quick else args.rounds
    loop_name = "uvloop" if args.uvloop else "asyncio"
    print(
        f"h2load -n {requests} -c 10 -m 100, h2c; {rounds} round(s); event loop {loop_name}; "
        f"python {sys.version.split()[0]}",
        file=sys.stderr,
    )
    results: dict[str, list[float]] = {name: [] for name in SERVERS}
    for n in range(rounds):
        for name in SERVERS:
            rate = measure(name, args, requests)
            if rate is not None:
                results[name].append(rate)
            shown = f"{rate:,.0f}" if rate is not None else "failed"
            print(f"  round {n + 1} {name}: {shown}", file=sys.stderr)
    med = {n: statistics.median(v) if v else None for n, v in results.items()}
    print(f"{'server':<12}{'req/s':>10}")
    for name in SERVERS:
        value = med[name]
        print(f"{name:<12}{f'{value:,.0f}' if value is not None else 'n/a':>10}")
    hyper_rate, hypercorn_rate = med["hyper.aio"], med["hypercorn"]
    if hyper_rate and hypercorn_rate:
        print(f"\nhyper.aio / hypercorn: {hyper_rate / hypercorn_rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

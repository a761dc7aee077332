"""Static file benchmark: h2load against ``hyper serve`` (one worker, and two), the hyper.aio
echo server and nghttpd, all serving one directory.

Usage::

    python bench/serve.py            # 3 rounds: small file (req/s), 64 MiB file (MB/s)
    python bench/serve.py --quick    # one round, shorter runs
    python bench/serve.py --rounds 5 --verbose
    mkdir /tmp/before && git archive <commit> hyper | tar -x -C /tmp/before
    python bench/serve.py --baseline /tmp/before    # adds that tree's hyper serve

Every server listens on 127.0.0.1, cleartext HTTP/2 with prior knowledge, and they take
turns within a round; the table shows the medians. The small file (660 bytes, ``style.css``)
is asked for by ``h2load -c10 -m100`` for a fixed time (``-D``, after a warm-up): the rate a
server sustains, whichever of its workers each connection landed on (with ``-n`` each
connection has a fixed share, and the worker given more connections than the other would
set the time). The hyper.aio echo server is ``bench/aio_server.py``'s (21 bytes from a
handler that does nothing else): the engine's own rate, the goal's reference. The 64 MiB
file is downloaded 32 times, 4 connections at once (``-n32 -c4 -m1``). h2load must report
every request succeeded with a 2xx, or the run fails.

Goals (issue 22): small file >= 0.8x the echo server and >= 0.25x nghttpd; 64 MiB >= 1.0x
nghttpd; ``--workers 2`` >= 1.7x ``--workers 1`` on the small file. nghttpd runs one
thread (its default), hyper serve ``--workers 1`` one process: one core each.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 30.0
RUN_TIMEOUT = 300.0
AIO_SERVER = Path(__file__).resolve().with_name("aio_server.py")
ROOT = AIO_SERVER.parent.parent
STYLE = b"body { font-family: sans-serif }\n" * 20  # 660 bytes
SERVERS = ("hyper serve -w1", "hyper serve -w2", "hyper.aio echo", "nghttpd")
BASE = "hyper serve base"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            try:  # waiting for a child process to listen, not test sync
                proc.wait(0.05)
            except subprocess.TimeoutExpired:
                pass
    proc.kill()
    raise RuntimeError("the server did not start listening")


def _start(
    name: str, docs: Path, baseline: str | None
) -> tuple[subprocess.Popen[bytes], int]:
    # The hyper of this tree (or the baseline's), whatever is installed, and
    # not one in the current directory (``-m`` puts it first on the path).
    env = {**os.environ, "PYTHONPATH": str(baseline if name == BASE else ROOT)}
    if name.startswith("hyper serve"):
        argv = [sys.executable, "-m", "hyper", "serve", str(docs), "--port", "0"]
        if name != BASE:  # (the baseline may predate --workers: one process)
            argv += ["--workers", name.rsplit("w", 1)[1]]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, cwd=docs)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        return proc, int(line.rsplit(":", 1)[1].strip().rstrip("/"))
    if name == "hyper.aio echo":
        argv = [sys.executable, str(AIO_SERVER), "--serve", "hyper.aio"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, cwd=docs)
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        _wait_listening(proc, port)
        return proc, port
    port = _free_port()
    argv = [shutil.which("nghttpd") or "nghttpd", "--no-tls", "-d", str(docs), str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _wait_listening(proc, port)
    return proc, port


def _h2load(port: int, path: str, shape: list[str]) -> tuple[float, float]:
    """(requests/s, MB/s) from one h2load run."""
    out = subprocess.run(
        ["h2load", *shape, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, check=True,
    ).stdout  # fmt: skip
    # (With -D the counts of requests and of 2xx answers may differ by the few
    # in flight when the clock stopped: failures and other statuses are what count.)
    if (
        re.search(r"\d+ succeeded, 0 failed, 0 errored, 0 timeout", out) is None
        or re.search(r"status codes: [1-9]\d* 2xx, 0 3xx, 0 4xx, 0 5xx", out) is None
    ):
        raise RuntimeError(f"h2load reported failures or non-2xx answers:\n{out}")
    match = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s, ([\d.]+)([KMG]?)B/s", out)
    if match is None:
        raise RuntimeError(f"cannot read h2load's output:\n{out}")
    scale = {"": 1e-6, "K": 1e-3, "M": 1.0, "G": 1e3}[match.group(5)]
    return float(match.group(3)), float(match.group(4)) * scale


def _ratio(ours: float | None, ref: float | None) -> str:
    return f"{ours / ref:.2f}x" if ours and ref else "n/a"


def _per_round(ours: list[float], ref: list[float]) -> str:
    return " ".join(f"{a / b:.2f}" for a, b in zip(ours, ref))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, shorter runs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="each run's numbers")
    parser.add_argument("--baseline", metavar="DIR", help="also run DIR's hyper serve")
    args = parser.parse_args()
    names = (BASE, *SERVERS) if args.baseline else SERVERS
    rounds = 1 if args.quick else args.rounds
    seconds, warm_up, big_n = ("2", "1", "8") if args.quick else ("5", "1", "32")
    small_shape = ["-D", seconds, "--warm-up-time", warm_up, "-c", "10", "-m", "100"]
    big_shape = ["-n", big_n, "-c", "4", "-m", "1"]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; {rounds} round(s)",
        file=sys.stderr,
    )
    small: dict[str, list[float]] = {name: [] for name in names}
    big: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp)
        (docs / "style.css").write_bytes(STYLE)
        with open(docs / "big.bin", "wb") as f:
            f.write(os.urandom(64 << 20))
        for n in range(rounds):
            for name in names:
                proc, port = _start(name, docs, args.baseline)
                try:
                    small[name].append(_h2load(port, "/style.css", small_shape)[0])
                    if name != "hyper.aio echo":  # it serves no files
                        big[name].append(_h2load(port, "/big.bin", big_shape)[1])
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                if args.verbose:
                    shown = f"{small[name][-1]:,.0f} req/s" + (
                        f", {big[name][-1]:,.0f} MB/s" if big[name] else ""
                    )
                    print(f"  round {n + 1} {name}: {shown}", file=sys.stderr)
    med_small = {n: statistics.median(v) if v else None for n, v in small.items()}
    med_big = {n: statistics.median(v) if v else None for n, v in big.items()}
    print(f"{'server':<16} {'660 B file, req/s':>18} {'64 MiB file, MB/s':>18}")
    for name in names:
        rate, speed = med_small[name], med_big[name]
        shown_rate = f"{rate:,.0f}" if rate else "-"
        shown_speed = f"{speed:,.0f}" if speed else "-"
        print(f"{name:<16} {shown_rate:>18} {shown_speed:>18}")
    one, two = med_small["hyper serve -w1"], med_small["hyper serve -w2"]
    w1 = "hyper serve -w1"
    # (what, median ratio, the rounds' ratios, goal)
    goals = [
        ("660 B, hyper serve / hyper.aio echo", _ratio(one, med_small["hyper.aio echo"]),
         _per_round(small[w1], small["hyper.aio echo"]), 0.8),
        ("660 B, hyper serve / nghttpd", _ratio(one, med_small["nghttpd"]),
         _per_round(small[w1], small["nghttpd"]), 0.25),
        ("64 MiB, hyper serve / nghttpd", _ratio(med_big[w1], med_big["nghttpd"]),
         _per_round(big[w1], big["nghttpd"]), 1.0),
        ("660 B, --workers 2 / --workers 1", _ratio(two, one),
         _per_round(small["hyper serve -w2"], small[w1]), 1.7),
    ]  # fmt: skip
    if args.baseline:
        goals.append(("660 B, hyper serve / its baseline", _ratio(one, med_small[BASE]),
                      _per_round(small[w1], small[BASE]), 0))  # fmt: skip
        goals.append(("64 MiB, hyper serve / its baseline", _ratio(med_big[w1], med_big[BASE]),
                      _per_round(big[w1], big[BASE]), 0))  # fmt: skip
    print(f"\n{'ratio (median of the rounds)':<38} {'median':>7}   {'goal':<8} each round")
    for what, ratio, rounds_, goal in goals:
        shown = f">= {goal}x" if goal else ""
        print(f"{what:<38} {ratio:>7}   {shown:<8} {rounds_}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

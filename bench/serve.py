"""Static file benchmark: h2load against ``hyper serve`` and nghttpd serving one directory.

Usage::

    python bench/serve.py            # 3 rounds: small file (req/s), 64 MiB file (MB/s)
    python bench/serve.py --quick    # one round, fewer requests

Both servers serve the same directory over cleartext HTTP/2 with prior
knowledge on 127.0.0.1, one process each, taking turns within a round; the
table shows the medians and hyper serve's ratio to nghttpd (a C server, the
reference). h2load must report every request succeeded, or the run fails.
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(name: str, docs: Path) -> tuple[subprocess.Popen[bytes], int]:
    if name == "hyper serve":
        proc = subprocess.Popen(
            [sys.executable, "-m", "hyper", "serve", str(docs), "--port", "0"],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        return proc, int(line.rsplit(":", 1)[1].strip().rstrip("/"))
    port = _free_port()
    proc = subprocess.Popen(
        [shutil.which("nghttpd") or "nghttpd", "--no-tls", "-d", str(docs), str(port)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)  # waiting for a child process to listen, not test sync
    proc.kill()
    raise RuntimeError("nghttpd did not start")


def _h2load(port: int, path: str, n: int, c: int, m: int) -> tuple[float, float]:
    """(requests/s, MB/s) from one h2load run."""
    out = subprocess.run(
        ["h2load", "-n", str(n), "-c", str(c), "-m", str(m), f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, check=True,
    ).stdout  # fmt: skip
    if f"{n} succeeded" not in out or f"status codes: {n} 2xx" not in out:
        raise RuntimeError(f"h2load reported failures or non-2xx answers:\n{out}")
    match = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s, ([\d.]+)([KMG]?)B/s", out)
    assert match is not None, out
    scale = {"": 1e-6, "K": 1e-3, "M": 1.0, "G": 1e3}[match.group(5)]
    return float(match.group(3)), float(match.group(4)) * scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, small_n, big_n = (1, 5000, 8) if args.quick else (3, 20000, 32)
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp)
        (docs / "style.css").write_bytes(b"body { font-family: sans-serif }\n" * 20)
        with open(docs / "big.bin", "wb") as f:
            f.write(os.urandom(64 << 20))
        results: dict[str, dict[str, list[float]]] = {}
        for _ in range(rounds):
            for name in ("hyper serve", "nghttpd"):
                proc, port = _start(name, docs)
                try:
                    small = _h2load(port, "/style.css", small_n, 10, 10)[0]
                    big = _h2load(port, "/big.bin", big_n, 4, 1)[1]
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(30)
                row = results.setdefault(name, {"small": [], "big": []})
                row["small"].append(small)
                row["big"].append(big)
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    print(f"{'server':<12} {'660 B file, req/s':>18} {'64 MiB file, MB/s':>18}")
    for name, row in med.items():
        print(f"{name:<12} {row['small']:>18.0f} {row['big']:>18.0f}")
    ours, ref = med["hyper serve"], med["nghttpd"]
    print(f"{'ratio':<12} {ours['small'] / ref['small']:>18.2f} {ours['big'] / ref['big']:>18.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

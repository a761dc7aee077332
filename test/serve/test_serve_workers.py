"""
``hyper serve --workers N``: N processes on one port under a supervisor
(every one answers, a killed one is replaced, SIGTERM ends them all without
cutting a response short, a dead supervisor takes its workers with it,
SIGHUP reopens the access log), and the cache seen from a client: a changed
file is served new within the check interval.
"""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, SettingsFrame
from serve_support import (
    DEADLINE,
    HOST,
    STYLE,
    RawH2,
    Served,
    big_bytes,
    start_serve,
    wait_until,
)

from hyper import HTTP20Connection
from hyper.serve._app import CHUNK

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers need fork()")

_LINE = re.compile(r'\[(\d+)\] 127\.0\.0\.1 "GET (\S+)" (\d+) (\d+) (h2|http/1\.1) \d+\.\dms')


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def get_style(port: int) -> None:
    """One GET on a fresh connection (so the kernel may pick another worker)."""
    with HTTP20Connection(f"{HOST}:{port}", secure=False, timeout=DEADLINE) as conn:
        conn.request("GET", "/style.css")
        assert conn.getresponse().read() == STYLE


def answered_by(log: str) -> list[int]:
    """The worker pid of every access-log line (each line must be whole)."""
    pids = []
    for line in log.splitlines():
        if line.startswith("["):
            match = _LINE.fullmatch(line)
            assert match is not None, line
            pids.append(int(match.group(1)))
    return pids


def until_answered_by(served: Served, workers: set[int], log: Path | None = None) -> None:
    """Fresh connections until every pid in ``workers`` has answered one."""

    def everyone() -> bool:
        get_style(served.port)
        text = log.read_text() if log is not None else served.stderr()
        return workers <= set(answered_by(text))

    wait_until(f"workers {sorted(workers)} each answering", everyone)


@pytest.fixture
def stopped_cleanly() -> Iterator[list[Served]]:
    """Servers the test registers are stopped (SIGTERM) and must exit 0
    with no traceback on stderr."""
    started: list[Served] = []
    yield started
    for served in started:
        status = served.stop()
        assert "Traceback" not in served.stderr(), served.stderr()
        assert status == 0, served.stderr()


class TestWorkers:
    @pytest.mark.parametrize("listen", ["reuse-port", "shared-socket"])
    def test_every_worker_answers(
        self, docs: Path, tmp_path: Path, listen: str, stopped_cleanly: list[Served]
    ) -> None:
        extra = ("--no-reuse-port",) if listen == "shared-socket" else ()
        served = start_serve(docs, tmp_path, "--workers", "3", "-v", *extra)
        stopped_cleanly.append(served)
        workers = wait_until("3 workers", lambda: children(served.proc.pid))
        assert len(workers) == 3
        until_answered_by(served, workers)
        assert set(answered_by(served.stderr())) == workers  # nobody else

    def test_a_killed_worker_is_replaced_and_logged(
        self, docs: Path, tmp_path: Path, stopped_cleanly: list[Served]
    ) -> None:
        served = start_serve(docs, tmp_path, "--workers", "2", "-v")
        stopped_cleanly.append(served)
        supervisor = served.proc.pid
        workers = wait_until("2 workers", lambda: children(supervisor))
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)

        def replaced() -> set[int]:
            now = children(supervisor)
            return now if len(now) == 2 and victim not in now else set()

        now = wait_until("a new worker in the dead one's place", replaced)
        (new,) = now - workers
        assert f"worker {victim} exited (killed by SIGKILL)" in served.stderr()
        until_answered_by(served, {new})

    def test_sigterm_lets_a_download_finish_and_ends_every_worker(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """A response in flight completes (under flow control, so it is
        still being sent when the signal comes); then the connection gets
        GOAWAY and closes; the supervisor exits 0 with no worker left."""
        served = start_serve(docs, tmp_path, "--workers", "2")
        workers = wait_until("2 workers", lambda: children(served.proc.pid))
        body = bytearray()
        with RawH2(served.port) as raw:  # 65,535 bytes of stream window at a time
            raw.send(raw.request(1, "/big.bin"))
            first = raw.until(DataFrame, 1)
            body += first.data
            served.proc.send_signal(signal.SIGTERM)
            raw.send(raw.factory.window_update(0, len(first.data)))
            raw.send(raw.factory.window_update(1, len(first.data)))
            _, rest = raw.response(1)
            body += rest
            assert bytes(body) == big_bytes(docs)
            assert isinstance(raw.goaway(), (GoAwayFrame, type(None)))
        assert served.stop(None) == 0, served.stderr()
        assert "Traceback" not in served.stderr()
        assert not any(alive(pid) for pid in workers)

    def test_new_connections_after_sigterm_are_not_accepted(
        self, docs: Path, tmp_path: Path
    ) -> None:
        served = start_serve(docs, tmp_path, "--workers", "2")
        workers = wait_until("2 workers", lambda: children(served.proc.pid))
        assert served.stop() == 0
        assert not any(alive(pid) for pid in workers)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, served.port), timeout=DEADLINE).close()

    def test_a_dead_supervisor_takes_its_workers_with_it(
        self, docs: Path, tmp_path: Path
    ) -> None:
        served = start_serve(docs, tmp_path, "--workers", "2")
        workers = wait_until("2 workers", lambda: children(served.proc.pid))
        get_style(served.port)
        served.proc.kill()
        served.proc.wait(DEADLINE)
        wait_until("every orphaned worker gone", lambda: not any(alive(p) for p in workers))
        assert "Traceback" not in served.stderr()

    def test_a_worker_that_does_not_stop_is_killed_after_the_shutdown_timeout(
        self, docs: Path, tmp_path: Path
    ) -> None:
        """A hung worker (stopped, here) does not keep the server alive:
        SIGKILL at the shutdown timeout plus KILL_GRACE, logged, status 1."""
        served = start_serve(docs, tmp_path, "--workers", "2", "--shutdown-timeout", "0.2")
        workers = wait_until("2 workers", lambda: children(served.proc.pid))
        hung = min(workers)
        os.kill(hung, signal.SIGSTOP)
        assert served.stop(signal.SIGTERM) == 1
        assert f"worker {hung} still running" in served.stderr()
        assert not any(alive(pid) for pid in workers)

    def test_a_taken_port_fails_the_start(self, docs: Path, tmp_path: Path) -> None:
        with socket.create_server((HOST, 0)) as taken:
            port = taken.getsockname()[1]
            with pytest.raises(AssertionError, match="exited"):
                start_serve(docs, tmp_path, "--workers", "2", "--port", str(port))
        # (start_serve passes --port 0 first; the last --port wins.)


class TestSignals:
    @pytest.mark.parametrize("workers", ["1", "2"])
    def test_sighup_reopens_the_access_log(
        self, docs: Path, tmp_path: Path, workers: str, stopped_cleanly: list[Served]
    ) -> None:
        """As logrotate does it: the file moved away, SIGHUP, new lines in a
        new file; every request logged once, in whole lines."""
        log = tmp_path / "access.log"
        served = start_serve(docs, tmp_path, "--workers", workers, "--access-log", str(log))
        stopped_cleanly.append(served)
        for _ in range(5):
            get_style(served.port)
        wait_until("5 lines logged", lambda: log.read_text().count("\n") == 5)
        moved = tmp_path / "access.log.1"
        log.rename(moved)
        served.proc.send_signal(signal.SIGHUP)
        pids = children(served.proc.pid) if workers == "2" else {served.proc.pid}
        requests = 5

        def reopened() -> bool:
            nonlocal requests
            get_style(served.port)
            requests += 1
            if not log.exists():
                return False
            text = log.read_text()
            return pids <= set(answered_by(text)) if workers == "2" else bool(text)

        wait_until("lines in the reopened log", reopened)
        lines = moved.read_text().splitlines() + log.read_text().splitlines()
        assert len(lines) == requests
        for line in lines:
            assert '"GET /style.css" 200' in line, line

    def test_sighup_without_an_access_log_closes_gracefully(
        self, docs: Path, tmp_path: Path
    ) -> None:
        served = start_serve(docs, tmp_path, "--workers", "2")
        get_style(served.port)
        assert served.stop(signal.SIGHUP) == 0
        assert "Traceback" not in served.stderr()


class TestOnTheWire:
    @pytest.fixture
    def site(self, tmp_path: Path) -> Path:
        root = tmp_path / "site"
        root.mkdir()
        (root / "page.html").write_bytes(b"<p>version 1</p>\n")
        return root

    def _get(self, port: int, path: str = "/page.html") -> bytes:
        with HTTP20Connection(f"{HOST}:{port}", secure=False, timeout=DEADLINE) as conn:
            conn.request("GET", path)
            return conn.getresponse().read()

    def test_a_changed_file_is_served_new_within_the_check_interval(
        self, site: Path, tmp_path: Path, stopped_cleanly: list[Served]
    ) -> None:
        served = start_serve(site, tmp_path, "--cache-check", "0.2")
        stopped_cleanly.append(served)
        assert self._get(served.port) == b"<p>version 1</p>\n"
        assert self._get(served.port) == b"<p>version 1</p>\n"  # from memory
        (site / "page.html").write_bytes(b"<p>version 2</p>\n")
        new = b"<p>version 2</p>\n"
        wait_until("the new version served", lambda: self._get(served.port) == new)

    def test_check_zero_serves_a_change_on_the_next_request(
        self, site: Path, tmp_path: Path, stopped_cleanly: list[Served]
    ) -> None:
        served = start_serve(site, tmp_path, "--cache-check", "0")
        stopped_cleanly.append(served)
        assert self._get(served.port) == b"<p>version 1</p>\n"
        (site / "page.html").write_bytes(b"<p>version 2, longer</p>\n")
        assert self._get(served.port) == b"<p>version 2, longer</p>\n"
        (site / "page.html").unlink()
        with HTTP20Connection(f"{HOST}:{served.port}", secure=False, timeout=DEADLINE) as conn:
            conn.request("GET", "/page.html")
            assert conn.getresponse().status == 404

    @pytest.mark.parametrize("max_frame", [16384, 1 << 20])
    def test_a_big_file_goes_in_frames_the_client_allows(
        self, docs: Path, tmp_path: Path, max_frame: int, stopped_cleanly: list[Served]
    ) -> None:
        """Read straight into DATA frames: none above the client's
        MAX_FRAME_SIZE, the bytes in order, the stream ended."""
        served = start_serve(docs, tmp_path)
        stopped_cleanly.append(served)
        with RawH2(served.port, handshake=False) as raw:
            settings = {SettingsFrame.MAX_FRAME_SIZE: max_frame,
                        SettingsFrame.INITIAL_WINDOW_SIZE: (1 << 31) - 1}  # fmt: skip
            raw.send(raw.factory.preface() + raw.factory.settings(settings))
            raw.send(raw.factory.window_update(0, (1 << 31) - 1 - 65535))
            raw.send(raw.request(1, "/big.bin"))
            body = bytearray()
            largest = 0
            while True:
                frame = raw.read_frame()
                assert frame is not None, "closed mid-response"
                if isinstance(frame, DataFrame) and frame.stream_id == 1:
                    body += frame.data
                    largest = max(largest, len(frame.data))
                    if "END_STREAM" in frame.flags:
                        break
            assert bytes(body) == big_bytes(docs)
            assert largest == min(max_frame, CHUNK)  # a chunk read is one frame at most

    def test_a_small_file_wider_than_the_window_is_sent_as_the_window_opens(
        self, docs: Path, tmp_path: Path, stopped_cleanly: list[Served]
    ) -> None:
        """A file in memory, a stream window of 100 bytes: not sent at once,
        but piece by piece as WINDOW_UPDATEs come."""
        served = start_serve(docs, tmp_path)
        stopped_cleanly.append(served)
        with RawH2(served.port, window=100) as raw:
            raw.send(raw.factory.settings(ack=True) + raw.request(1, "/style.css"))
            headers, body = raw.response(1)
            assert dict(headers)[b":status"] == b"200" and body == STYLE
            etag = dict(headers)[b"etag"].decode()
            raw.send(raw.request(3, "/style.css", **{"if-none-match": etag}))
            head = raw.until(HeadersFrame, 3)
            assert dict(head.decoded)[b":status"] == b"304"

"""The ``hyper`` command line: its parsing as pure functions, then the real command.

The command runs as a subprocess (``python -m hyper``) against the tests' demo server
(``support.demo_server``: cleartext HTTP/2 in this process, so ``--h2``), against
nghttpd over TLS (interop), and against sockets that refuse or never answer. Every run
has a timeout.
"""

from __future__ import annotations

import hashlib
import io
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import listener, servers
from support.demo_server import DemoServer
from support.listener import silent_listener
from support.timeouts import SHORT_TIMEOUT

from hyper import __version__
from hyper.cli import (
    EXIT_CONNECT,
    EXIT_ERROR,
    EXIT_HTTP,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    _body_length,
    _CommandError,
    _exit_status,
    _human,
    _parse_items,
    _parse_url,
    _Progress,
    _split_words,
    _Target,
)
from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.common.headers import HTTPHeaderMap
from hyper.http20.exceptions import ProtocolError, StreamResetError

_REPO_ROOT = Path(__file__).resolve().parents[2]
_TIMEOUT = 60  # seconds; the demo moves ~66 MB and 1000 requests, with room for slow CI
# One request of a few MiB on loopback takes well under a second; this is for slow CI.
_RUN_TIMEOUT = 20
# Reading what the command wrote to a pseudo-terminal.
_PTY_READ_TIMEOUT = 5.0


def _run_hyper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyper", *args],
        cwd=_REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the command; stdout stays bytes (the body is never decoded)."""
    return subprocess.run(
        [sys.executable, "-m", "hyper", *args],
        cwd=_REPO_ROOT,
        input=stdin,
        capture_output=True,
        timeout=_RUN_TIMEOUT,
        check=False,
    )


def _err(result: subprocess.CompletedProcess[bytes]) -> str:
    return result.stderr.decode("utf-8", "replace")


class TestCLI:
    def test_version_prints_version_and_exits_0(self) -> None:
        result = _run_hyper("--version")
        assert result.returncode == 0, result.stderr
        assert __version__ in result.stdout

    def test_demo_talks_http2_to_itself_and_reports_success(self) -> None:
        """The demo runs its own server on loopback; every check must pass."""
        result = _run_hyper("demo")
        assert result.returncode == 0, result.stdout + result.stderr
        assert __version__ in result.stdout
        assert "h2c" in result.stdout
        assert "BAD" not in result.stdout
        assert result.stdout.rstrip().endswith("all good")

    def test_no_command_prints_usage_and_exits_2(self) -> None:
        result = _run_hyper()
        assert result.returncode == 2
        assert "usage: hyper" in result.stderr

    def test_help_lists_the_exit_statuses(self) -> None:
        result = _run_hyper("--help")
        assert result.returncode == 0
        for status in ("0", "1", "2", "7", "22", "28"):
            assert f"\n  {status} " in result.stdout


# ---------------------------------------------------------------------------
# Pure functions


class TestParseItems:
    def test_three_kinds_sorted_in_order(self) -> None:
        items = _parse_items(["X-A:1", "q==2", "name=3", "X-B: 4 ", "q==5"])
        assert items.headers == [("X-A", "1"), ("X-B", "4")]
        assert items.query == [("q", "2"), ("q", "5")]
        assert items.json == {"name": "3"}

    def test_first_separator_wins(self) -> None:
        """A value may contain any separator; the earliest one splits the item."""
        items = _parse_items(["a=b:c", "Accept:a=b", "q==x==y", "u=http://h/"])
        assert items.json == {"a": "b:c", "u": "http://h/"}
        assert items.headers == [("Accept", "a=b")]
        assert items.query == [("q", "x==y")]

    def test_double_equals_is_a_query_not_a_field(self) -> None:
        items = _parse_items(["a==b"])
        assert items.query == [("a", "b")]
        assert items.json == {}

    def test_backslash_escapes_a_separator_in_the_name(self) -> None:
        items = _parse_items([r"a\:b=c", r"x\=y==z", r"back\\slash:v"])
        assert items.json == {"a:b": "c"}
        assert items.query == [("x=y", "z")]
        assert items.headers == [("back\\slash", "v")]

    def test_empty_value_is_allowed(self) -> None:
        assert _parse_items(["name="]).json == {"name": ""}
        assert _parse_items(["X-Empty:"]).headers == [("X-Empty", "")]

    def test_last_json_field_of_a_name_wins(self) -> None:
        assert _parse_items(["a=1", "a=2"]).json == {"a": "2"}

    @pytest.mark.parametrize("item", ["plain", "", r"escaped\=only"])
    def test_item_without_separator_is_an_error(self, item: str) -> None:
        with pytest.raises(_CommandError, match="not Header:Value"):
            _parse_items([item])

    @pytest.mark.parametrize("item", [":value", "==q", "=v"])
    def test_item_with_empty_name_is_an_error(self, item: str) -> None:
        with pytest.raises(_CommandError, match="empty name"):
            _parse_items([item])


class TestSplitWords:
    def test_capitalised_first_word_is_the_method(self) -> None:
        assert _split_words(["PUT", "example.com", "a=b"]) == ("PUT", "example.com", ["a=b"])
        assert _split_words(["M-SEARCH", "/"]) == ("M-SEARCH", "/", [])

    def test_lowercase_first_word_is_the_url(self) -> None:
        assert _split_words(["localhost", "/x=y"]) == (None, "localhost", ["/x=y"])

    def test_lone_word_is_the_url_even_in_capitals(self) -> None:
        assert _split_words(["GET"]) == (None, "GET", [])
        assert _split_words(["get"]) == (None, "get", [])

    @pytest.mark.parametrize(
        "word", ["get", "Head", "post", "put", "patch", "delete", "options", "trace", "connect"]
    )
    def test_known_method_in_any_case_is_the_method_upper_cased(self, word: str) -> None:
        """As the historic tool, which upper-cased its METHOD (issue 20, item 9)."""
        assert _split_words([word, "example.com", "a:b"]) == (word.upper(), "example.com", ["a:b"])

    def test_other_lowercase_words_stay_the_url(self) -> None:
        assert _split_words(["propfind", "/x"]) == (None, "propfind", ["/x"])
        assert _split_words(["getter", "/x"]) == (None, "getter", ["/x"])


class TestParseURL:
    def test_path_alone_means_https_localhost(self) -> None:
        assert _parse_url("/path?x=1") == _Target(True, "localhost", 443, "/path?x=1")

    def test_host_alone_means_https_and_root(self) -> None:
        assert _parse_url("example.com") == _Target(True, "example.com", 443, "/")

    def test_port_alone_means_localhost(self) -> None:
        assert _parse_url(":8443/x") == _Target(True, "localhost", 8443, "/x")

    def test_http_scheme_is_kept_with_port_80(self) -> None:
        assert _parse_url("http://h/") == _Target(False, "h", 80, "/")

    def test_query_items_are_encoded_and_appended(self) -> None:
        target = _parse_url("https://h:1/p", [("q", "a b&c"), ("é", "/")])
        assert target.path == "/p?q=a+b%26c&%C3%A9=%2F"
        assert _parse_url("h/p?x=1", [("y", "2")]).path == "/p?x=1&y=2"

    def test_fragment_is_dropped(self) -> None:
        assert _parse_url("h/p#frag").path == "/p"

    @pytest.mark.parametrize(
        "url", ["ftp://h/", "https://user:pw@h/", "https://", "h:99999", "http://:1/"]
    )
    def test_unusable_url_is_an_error(self, url: str) -> None:
        with pytest.raises(_CommandError):
            _parse_url(url)

    def test_an_empty_host_says_so_before_any_lookup(self) -> None:
        with pytest.raises(_CommandError, match="No host in ':1'"):
            _parse_url("http://:1/")


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestProgress:
    def test_redraws_at_most_every_tenth_of_a_second(self) -> None:
        out, clock = io.StringIO(), _Clock()
        progress = _Progress(out, 4096, clock)
        progress.update(1024)
        progress.update(1024)  # same instant: no redraw
        clock.now += 0.0625  # binary fractions: the sums below are exact
        progress.update(1024)
        assert out.getvalue().count("\r") == 1
        clock.now += 0.0625
        progress.update(1024)
        assert out.getvalue().count("\r") == 2
        assert out.getvalue().endswith("4.0 KiB / 4.0 KiB  100%  32.0 KiB/s")

    def test_finish_draws_the_last_state_and_ends_the_line(self) -> None:
        out, clock = io.StringIO(), _Clock()
        progress = _Progress(out, None, clock)
        progress.update(3 << 20)
        clock.now += 0.01
        progress.update(1 << 20)
        clock.now += 1.99
        progress.finish()
        last = out.getvalue().split("\r")[-1]
        assert last == "4.0 MiB  2.0 MiB/s\n"
        assert "%" not in out.getvalue()  # no total, no percentage

    def test_shorter_line_wipes_the_longer_one(self) -> None:
        out, clock = io.StringIO(), _Clock()
        progress = _Progress(out, 10, clock)
        progress.update(0)
        first = out.getvalue()
        clock.now += 1.0
        progress.update(10)
        assert len(out.getvalue()) - len(first) >= len(first)

    @pytest.mark.parametrize(
        ("size", "text"),
        [
            (0, "0 B"),
            (1023, "1023 B"),
            (1536, "1.5 KiB"),
            (5 << 30, "5.0 GiB"),
            (3 << 40, "3.0 TiB"),
        ],
    )
    def test_human_sizes(self, size: int, text: str) -> None:
        assert _human(size) == text


class TestBodyLength:
    def test_content_length_is_the_total(self) -> None:
        assert _body_length(HTTPHeaderMap([(b"content-length", b"12")])) == 12

    def test_no_total_for_encoded_or_missing_or_bad_length(self) -> None:
        """A gzip body's content-length does not count the decoded bytes written."""
        encoded = HTTPHeaderMap([(b"content-length", b"12"), (b"content-encoding", b"gzip")])
        assert _body_length(encoded) is None
        assert _body_length(HTTPHeaderMap()) is None
        assert _body_length(HTTPHeaderMap([(b"content-length", b"x")])) is None


class TestExitStatus:
    def test_timeouts_are_28(self) -> None:
        assert _exit_status(HyperTimeoutError("t")) == EXIT_TIMEOUT
        assert _exit_status(socket.timeout("t")) == EXIT_TIMEOUT

    def test_connection_failures_are_7(self) -> None:
        assert _exit_status(HyperConnectionError("refused")) == EXIT_CONNECT
        assert _exit_status(ProtocolError("bad frame")) == EXIT_CONNECT

    def test_anything_else_is_1(self) -> None:
        assert _exit_status(StreamResetError("reset", stream_id=1)) == EXIT_ERROR
        assert _exit_status(ValueError("x")) == EXIT_ERROR


# ---------------------------------------------------------------------------
# The command against the tests' demo server (cleartext, prior knowledge: --h2)


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


def _demo_url(demo: DemoServer, path: str) -> str:
    return f"http://127.0.0.1:{demo.port}{path}"


class TestAgainstDemoServer:
    def test_json_items_post_a_json_body(self, demo: DemoServer) -> None:
        result = _run("-v", "--h2", _demo_url(demo, "/echo"), "name=value", "n=1", "X-A:b")
        assert result.returncode == 0, _err(result)
        assert result.stdout == b'{"name": "value", "n": "1"}'
        stderr = _err(result)
        assert "> POST /echo HTTP/2" in stderr
        assert "> content-type: application/json" in stderr
        assert "> x-a: b" in stderr  # as sent: HTTP/2 field names are lowercase

    def test_own_content_type_header_is_kept(self, demo: DemoServer) -> None:
        result = _run("-v", "--h2", _demo_url(demo, "/echo"), "a=b", "Content-Type:text/x")
        assert result.returncode == 0, _err(result)
        assert "application/json" not in _err(result)

    def test_data_from_a_file_is_sent_as_is(self, demo: DemoServer, tmp_path: Path) -> None:
        body = os.urandom(1 << 20)
        (tmp_path / "body.bin").write_bytes(body)
        result = _run("--h2", "--data", f"@{tmp_path / 'body.bin'}", _demo_url(demo, "/echo"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == body

    def test_data_from_stdin(self, demo: DemoServer) -> None:
        body = bytes(range(256)) * 1000
        result = _run("--h2", "--data", "-", _demo_url(demo, "/echo"), stdin=body)
        assert result.returncode == 0, _err(result)
        assert result.stdout == body

    def test_lowercase_method_is_sent_upper_cased(self, demo: DemoServer) -> None:
        """``hyper head URL`` is a HEAD (no body printed); without the word, a GET."""
        head = _run("--h2", "head", _demo_url(demo, "/bytes/10"))
        assert head.returncode == 0, _err(head)
        assert head.stdout == b""
        get = _run("--h2", "get", _demo_url(demo, "/bytes/10"))
        assert (get.returncode, get.stdout) == (0, b"x" * 10), _err(get)
        put = _run("--h2", "--data", "up", "put", _demo_url(demo, "/echo"))
        assert (put.returncode, put.stdout) == (0, b"up"), _err(put)

    def test_literal_data_with_an_explicit_method(self, demo: DemoServer) -> None:
        result = _run("-v", "--h2", "--data", "héllo", "PUT", _demo_url(demo, "/echo"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == "héllo".encode()
        assert "> PUT /echo HTTP/2" in _err(result)

    def test_data_and_json_items_cannot_be_combined(self, demo: DemoServer) -> None:
        result = _run("--h2", "--data", "x", _demo_url(demo, "/echo"), "a=b")
        assert result.returncode == EXIT_ERROR
        assert "cannot be combined" in _err(result)

    def test_gzip_body_is_decoded(self, demo: DemoServer) -> None:
        result = _run("--h2", _demo_url(demo, "/gzip"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == b"hyper decodes gzip on the fly. " * 200

    def test_output_file_gets_the_body_and_stdout_nothing(
        self, demo: DemoServer, tmp_path: Path
    ) -> None:
        out = tmp_path / "out.bin"
        result = _run("--h2", "-o", str(out), _demo_url(demo, "/bytes/3000000"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == b""
        assert result.stderr == b""  # stderr is not a terminal: no progress bar
        assert out.read_bytes() == b"x" * 3000000

    def test_404_without_fail_prints_the_body_and_exits_0(self, demo: DemoServer) -> None:
        result = _run("--h2", _demo_url(demo, "/missing"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == b"not found\n"

    def test_404_with_fail_exits_22_without_the_body(self, demo: DemoServer) -> None:
        result = _run("--h2", "--fail", _demo_url(demo, "/missing"))
        assert result.returncode == EXIT_HTTP
        assert result.stdout == b""
        assert "404" in _err(result)

    def test_progress_bar_on_a_terminal(self, demo: DemoServer, tmp_path: Path) -> None:
        """With stderr on a terminal, ``-o`` draws a meter that ends at 100%."""
        out = tmp_path / "out.bin"
        url = _demo_url(demo, "/bytes/2000000")
        master, slave = pty.openpty()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "hyper", "--h2", "-o", str(out), url],
                cwd=_REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=slave,
                timeout=_RUN_TIMEOUT,
                check=False,
            )
        finally:
            os.close(slave)
        try:
            terminal = _read_pty(master)
        finally:
            os.close(master)
        assert result.returncode == 0, terminal
        assert out.stat().st_size == 2000000
        assert "1.9 MiB / 1.9 MiB  100%" in terminal


def _read_pty(fd: int) -> str:
    """Everything written to a pseudo-terminal whose writers have all closed it."""
    data = b""
    deadline = time.monotonic() + _PTY_READ_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed and drained
            break
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# Failures before any response


@pytest.fixture
def refused_port() -> Iterator[int]:
    with listener.refused_port() as port:
        yield port


class TestFailures:
    def test_connection_refused_exits_7_with_one_line(self, refused_port: int) -> None:
        result = _run(f"https://127.0.0.1:{refused_port}/")
        assert result.returncode == EXIT_CONNECT
        lines = _err(result).splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("hyper: error: ")
        assert "refused" in lines[0].lower()

    def test_debug_adds_the_traceback(self, refused_port: int) -> None:
        result = _run("--debug", f"https://127.0.0.1:{refused_port}/")
        assert result.returncode == EXIT_CONNECT
        assert "Traceback (most recent call last)" in _err(result)

    def test_server_that_never_answers_times_out_with_28(self) -> None:
        """--timeout is honoured: without it the command would wait for the server
        until the run's own bound (_RUN_TIMEOUT) killed it."""
        with silent_listener() as port:
            result = _run("--timeout", str(SHORT_TIMEOUT), f"https://127.0.0.1:{port}/")
        assert result.returncode == EXIT_TIMEOUT, _err(result)
        assert "timed out" in _err(result)

    def test_bad_item_exits_1(self) -> None:
        result = _run("https://127.0.0.1:1/", "no-separator")
        assert result.returncode == EXIT_ERROR
        assert "no-separator" in _err(result)

    def test_missing_data_file_exits_1(self, tmp_path: Path) -> None:
        result = _run("--data", f"@{tmp_path / 'absent'}", "https://127.0.0.1:1/")
        assert result.returncode == EXIT_ERROR
        assert "cannot read" in _err(result)

    @pytest.mark.parametrize("value", ["0", "-1", "soon"])
    def test_bad_timeout_is_a_usage_error(self, value: str) -> None:
        result = _run("--timeout", value, "https://127.0.0.1:1/")
        assert result.returncode == EXIT_USAGE
        assert "usage: hyper" in _err(result)


# ---------------------------------------------------------------------------
# Interop: nghttpd over TLS (ALPN h2, --echo-upload)


@pytest.mark.interop
class TestAgainstNghttpd:
    def test_get_prints_the_body(self, nghttpd: servers.Server) -> None:
        result = _run("--cacert", nghttpd.ca_path, nghttpd.url("/small.txt"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == servers.SMALL_BODY
        assert result.stderr == b""

    def test_output_file_matches_checksum(self, nghttpd: servers.Server, tmp_path: Path) -> None:
        out = tmp_path / "1m.bin"
        result = _run("--cacert", nghttpd.ca_path, "-o", str(out), nghttpd.url("/1m.bin"))
        assert result.returncode == 0, _err(result)
        assert hashlib.sha256(out.read_bytes()).hexdigest() == nghttpd.docroot.sha256("1m.bin")

    def test_verbose_shows_protocol_and_status(self, nghttpd: servers.Server) -> None:
        result = _run("-v", "--cacert", nghttpd.ca_path, nghttpd.url("/small.txt"), "q==a b")
        assert result.returncode == 0, _err(result)
        stderr = _err(result)
        assert "> GET /small.txt?q=a+b HTTP/2" in stderr
        assert "< HTTP/2 200" in stderr
        assert f"< content-length: {len(servers.SMALL_BODY)}" in stderr
        assert result.stdout == servers.SMALL_BODY

    def test_fail_on_404_exits_22(self, nghttpd: servers.Server) -> None:
        result = _run("--fail", "--cacert", nghttpd.ca_path, nghttpd.url("/missing"))
        assert result.returncode == EXIT_HTTP
        assert result.stdout == b""

    def test_json_items_are_echoed(self, nghttpd: servers.Server) -> None:
        result = _run("--cacert", nghttpd.ca_path, nghttpd.url("/"), "name=value")
        assert result.returncode == 0, _err(result)
        assert result.stdout == b'{"name": "value"}'

    def test_data_file_is_echoed(self, nghttpd: servers.Server, tmp_path: Path) -> None:
        body = os.urandom(300_000)
        (tmp_path / "up.bin").write_bytes(body)
        args = ("--cacert", nghttpd.ca_path, "--data", f"@{tmp_path / 'up.bin'}")
        result = _run(*args, nghttpd.url("/"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == body

    def test_untrusted_certificate_exits_7(self, nghttpd: servers.Server) -> None:
        result = _run(nghttpd.url("/small.txt"))
        assert result.returncode == EXIT_CONNECT
        assert "certificate" in _err(result).lower()
        assert "Traceback" not in _err(result)

    def test_insecure_skips_verification(self, nghttpd: servers.Server) -> None:
        result = _run("-k", nghttpd.url("/small.txt"))
        assert result.returncode == 0, _err(result)
        assert result.stdout == servers.SMALL_BODY


# ---------------------------------------------------------------------------
# Interop: protocol negotiation (nginx HTTP/1.1-only TLS port, h2o's plaintext port)


@pytest.mark.interop
class TestNegotiation:
    def test_tls_server_without_h2_is_spoken_to_in_http11(self, nginx: servers.Server) -> None:
        url = nginx.url("/small.txt", port=nginx.ports["h1"])
        result = _run("-v", "--cacert", nginx.ca_path, url)
        assert result.returncode == 0, _err(result)
        assert "< HTTP/1.1 200 OK" in _err(result)
        assert re.search(r"\n< date: \w{3}, \d", _err(result), re.I), "header split"
        assert result.stdout == servers.SMALL_BODY

    def test_tls_server_with_h2_is_spoken_to_in_http2(self, nginx: servers.Server) -> None:
        result = _run("-v", "--cacert", nginx.ca_path, nginx.url("/small.txt"))
        assert result.returncode == 0, _err(result)
        assert "< HTTP/2 200" in _err(result)

    def test_plaintext_get_upgrades_to_h2c(self, h2o: servers.Server) -> None:
        url = h2o.url("/small.txt", port=h2o.ports["plain"], scheme="http")
        result = _run("-v", url)
        assert result.returncode == 0, _err(result)
        assert "> GET /small.txt HTTP/1.1" in _err(result)  # asking for the upgrade
        assert "< HTTP/2 200" in _err(result)
        assert result.stdout == servers.SMALL_BODY

    def test_plaintext_post_is_not_lost(self, h2o: servers.Server) -> None:
        """h2o's /upload answers with the body's length: 17 bytes of JSON."""
        url = h2o.url("/upload", port=h2o.ports["plain"], scheme="http")
        result = _run(url, "name=value")
        assert result.returncode == 0, _err(result)
        assert result.stdout == b"17\n"

    def test_h2_flag_means_prior_knowledge_on_plaintext(self, h2o: servers.Server) -> None:
        url = h2o.url("/small.txt", port=h2o.ports["plain"], scheme="http")
        result = _run("-v", "--h2", url)
        assert result.returncode == 0, _err(result)
        assert "> GET /small.txt HTTP/2" in _err(result)
        assert result.stdout == servers.SMALL_BODY

    def test_stdin_body_streams_over_http11(self, h2o: servers.Server) -> None:
        """A body of unknown length (a pipe) goes out chunked; h2o counts every byte."""
        url = h2o.url("/upload", port=h2o.ports["plain"], scheme="http")
        result = _run("-v", "--data", "-", url, stdin=os.urandom(700_000))
        assert result.returncode == 0, _err(result)
        assert "< HTTP/1.1 200" in _err(result)
        assert result.stdout == b"700000\n"

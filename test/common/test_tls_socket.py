"""
hyper's in-memory TLS connection (``hyper.net.tls_socket``), what every
hyper client connection runs on, against a real TLS server (Python's
``ssl`` on the other end, trustme certificates) on 127.0.0.1.

What a user of a connection would notice: data arrives whole and in order
however it is read (a few bytes at a time, or a record split across TCP
segments); a reader waiting for data never stops a writer; the server's
close_notify or EOF reads as EOF; a handshake cut short or too slow is a
clear error within the timeout.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from typing import Any, Callable

import pytest
from support.listener import Conn, Listener, silent_listener
from support.timeouts import TIMEOUT

from hyper.common.exceptions import ConnectionError as HyperConnectionError
from hyper.common.exceptions import TimeoutError as HyperTimeoutError
from hyper.net.connect import open_socket
from hyper.net.tls_socket import TLSSocket, handshake

MiB = 1024 * 1024


def _connect(server: Listener, client_tls: ssl.SSLContext) -> TLSSocket:
    raw = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    return handshake(raw, client_tls, "localhost", TIMEOUT)


def _recv_exactly(sock: Any, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = sock.recv(min(65536, size - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _handshake_in_memory(
    conn: Conn, context: ssl.SSLContext
) -> tuple[ssl.SSLObject, ssl.MemoryBIO] | None:
    """The server's TLS handshake on ``conn`` through memory BIOs, for a
    script that then chooses how its ciphertext goes out: the TLS object
    and its outgoing BIO, or None if the client left."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            conn.sock.sendall(outgoing.read())
            data = conn.sock.recv(65536)
            if not data:
                return None
            incoming.write(data)
    conn.sock.sendall(outgoing.read())
    return obj, outgoing


class TestReading:
    def test_small_reads_return_a_record_whole_and_in_order(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext
    ) -> None:
        payload = bytes(range(256)) * 200  # 51,200 bytes: several records

        def script(conn: Conn) -> None:
            conn.send(payload)
            conn.read_until_closed()

        with (
            Listener([script], tls=server_tls()) as server,
            _connect(server, client_tls) as tls_sock,
        ):
            tls_sock.settimeout(TIMEOUT)
            first = tls_sock.recv(7)
            assert first == payload[:7]
            # The rest of the record is held in memory: no wait to read it.
            assert tls_sock.pending() > 0
            rest = _recv_exactly(tls_sock, len(payload) - 7)
            assert first + rest == payload

    def test_a_record_trickling_in_byte_by_byte_is_put_together(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext
    ) -> None:
        inner = server_tls()
        record_sent = threading.Event()

        def script(conn: Conn) -> None:
            # Encrypt with an in-memory server, then send the ciphertext one
            # byte per TCP segment.
            handshaken = _handshake_in_memory(conn, inner)
            if handshaken is None:
                return
            obj, outgoing = handshaken
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            obj.write(b"assembled from single bytes")
            for byte in outgoing.read():
                conn.sock.sendall(bytes([byte]))
            record_sent.set()
            conn.read_until_closed()

        with Listener([script]) as server, _connect(server, client_tls) as tls_sock:
            tls_sock.settimeout(TIMEOUT)
            assert _recv_exactly(tls_sock, 27) == b"assembled from single bytes"
            assert record_sent.wait(TIMEOUT)

    @pytest.mark.parametrize("read_size", [7, 1000, 256 * 1024])
    def test_records_arriving_together_are_read_with_nothing_more_coming(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext,
        read_size: int,
    ) -> None:  # fmt: skip
        """Sixty records of mixed sizes in one TCP write, then silence until
        the client has read them all: every byte comes out of what arrived,
        whatever the read size (none is left inside OpenSSL waiting for more
        input, which would never come)."""
        inner = server_tls()
        sizes = [(n * 797) % 5000 + 1 for n in range(60)]
        payload = b"".join(bytes([n % 251]) * size for n, size in enumerate(sizes))
        all_read = threading.Event()

        def script(conn: Conn) -> None:
            handshaken = _handshake_in_memory(conn, inner)
            if handshaken is None:
                return
            obj, outgoing = handshaken
            offset = 0
            for size in sizes:  # a record each
                obj.write(payload[offset : offset + size])
                offset += size
            conn.sock.sendall(outgoing.read())
            all_read.wait(TIMEOUT)
            conn.read_until_closed()

        with Listener([script]) as server, _connect(server, client_tls) as tls_sock:
            tls_sock.settimeout(TIMEOUT)
            got = bytearray()
            buf = bytearray(read_size)
            while len(got) < len(payload):
                count = tls_sock.recv_into(buf)
                assert count > 0
                got += buf[:count]
            all_read.set()
            assert got == payload

    def test_close_notify_and_eof_read_as_eof(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext
    ) -> None:
        def polite(conn: Conn) -> None:
            conn.send(b"bye")
            try:
                # Sends close_notify, then waits for the client's, which
                # never comes: the client closes instead.
                conn.sock.unwrap()  # type: ignore[attr-defined]
            except OSError:
                pass

        def abrupt(conn: Conn) -> None:
            conn.send(b"gone")
            conn.sock.shutdown(socket.SHUT_RDWR)

        with Listener([polite, abrupt], tls=server_tls()) as server:
            for expected in (b"bye", b"gone"):
                with _connect(server, client_tls) as tls_sock:
                    tls_sock.settimeout(TIMEOUT)
                    assert _recv_exactly(tls_sock, len(expected)) == expected
                    assert tls_sock.recv(100) == b""
                    assert tls_sock.recv(100) == b""  # and stays at EOF

    def test_a_silent_server_times_the_read_out(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext
    ) -> None:
        release = threading.Event()

        def script(conn: Conn) -> None:
            release.wait(TIMEOUT)

        with (
            Listener([script], tls=server_tls()) as server,
            _connect(server, client_tls) as tls_sock,
        ):
            tls_sock.settimeout(0.05)
            with pytest.raises(socket.timeout):
                tls_sock.recv(10)
            tls_sock.settimeout(0.0)
            with pytest.raises(ssl.SSLWantReadError):
                tls_sock.recv(10)
            release.set()


class TestBothWays:
    def test_a_reader_waiting_for_data_never_stops_a_writer(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext
    ) -> None:
        """16 MiB each way at once, one thread reading and one writing on
        the same connection: both arrive whole (the SSLSocket this
        replaced corrupted the connection under such use)."""
        size = 16 * MiB
        sent = hashlib.sha256()
        echoed = hashlib.sha256()

        def script(conn: Conn) -> None:
            # Echo everything back as it comes.
            remaining = size
            while remaining:
                chunk = conn.sock.recv(min(remaining, 1 << 16))
                if not chunk:
                    return
                conn.sock.sendall(chunk)
                remaining -= len(chunk)
            conn.read_until_closed()

        with (
            Listener([script], tls=server_tls()) as server,
            _connect(server, client_tls) as tls_sock,
        ):
            tls_sock.settimeout(TIMEOUT)
            failures: list[BaseException] = []

            def write() -> None:
                try:
                    block = bytes(range(256)) * 1024
                    for _ in range(size // len(block)):
                        sent.update(block)
                        tls_sock.sendall(block)
                except BaseException as exc:  # reported below
                    failures.append(exc)

            writer = threading.Thread(target=write)
            writer.start()
            received = 0
            while received < size:
                chunk = tls_sock.recv(1 << 18)
                if not chunk:
                    break
                echoed.update(chunk)
                received += len(chunk)
            writer.join(TIMEOUT)
            assert not writer.is_alive()
            assert not failures
            assert received == size
            assert echoed.hexdigest() == sent.hexdigest()


class TestHandshake:
    def test_what_was_negotiated_is_reported(
        self, server_tls: Callable[..., ssl.SSLContext], client_tls: ssl.SSLContext
    ) -> None:
        def script(conn: Conn) -> None:
            conn.read_until_closed()

        with Listener([script], tls=server_tls(("h2", "http/1.1"))) as server:
            client_tls.set_alpn_protocols(["h2"])
            sock, proto = open_socket(
                server.host, server.port, secure=True, ssl_context=client_tls,
                connect_timeout=TIMEOUT,
            )  # fmt: skip
            with sock:
                assert proto == "h2"
                assert isinstance(sock, TLSSocket)
                assert sock.selected_alpn_protocol() == "h2"
                assert sock.version() in ("TLSv1.2", "TLSv1.3")
                names = [value for kind, value in sock.getpeercert()["subjectAltName"]]
                assert "localhost" in names

    def test_eof_during_the_handshake_is_a_connection_error(
        self, client_tls: ssl.SSLContext
    ) -> None:
        def script(conn: Conn) -> None:
            conn.sock.recv(65536)  # the ClientHello, then hang up

        with (
            Listener([script]) as server,
            pytest.raises(HyperConnectionError, match="TLS handshake"),
        ):
            open_socket(
                server.host, server.port, secure=True, ssl_context=client_tls,
                connect_timeout=TIMEOUT,
            )  # fmt: skip

    def test_a_server_that_never_answers_times_the_handshake_out(
        self, client_tls: ssl.SSLContext
    ) -> None:
        with silent_listener() as port, pytest.raises(HyperTimeoutError, match="TLS handshake"):
            open_socket(
                "127.0.0.1", port, secure=True, ssl_context=client_tls, connect_timeout=0.2
            )

    def test_an_untrusted_certificate_fails_and_the_server_hears_why(
        self, server_tls: Callable[..., ssl.SSLContext]
    ) -> None:
        class Recording(Listener):
            tolerate_tls_errors = True

        stranger = ssl.create_default_context()  # trusts the system store, not our CA

        def script(conn: Conn) -> None:  # pragma: no cover - never reached
            conn.read_until_closed()

        with (
            Recording([script], tls=server_tls()) as server,
            pytest.raises(HyperConnectionError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            open_socket(
                "localhost", server.port, secure=True, ssl_context=stranger,
                connect_timeout=TIMEOUT,
            )  # fmt: skip
            server.wait_finished(0)
            # Our alert reached the server: its handshake failed with the reason.
            assert server.tls_errors
            assert "unknown ca" in str(server.tls_errors[0]).lower()

"""
Fuzz targets: functions of one ``bytes`` input that feed hyper's parsers
and must never raise anything but hyper's own exceptions
(:class:`hyper.common.exceptions.HyperError`). ``python -m hyper.fuzz``
runs them (atheris when installed, else hypothesis); see docs/security.rst.

- ``engine_server`` / ``engine_client``: a byte stream into each engine role
  (after the preface and a SETTINGS frame, so most inputs reach the frame
  handlers); requests are answered, so the send side runs too.
- ``header_block``: the input as a header block, on HEADERS to a server and
  to a client (HPACK decoding and field validation).
- ``body_decoder``: the input as a body in a content-coding picked by its
  first byte, read in pieces of varying size (bounded-output decoding).
- ``serve_plan``: the input as a request target and headers for
  ``hyper serve``'s file logic, which must answer (never raise) and never
  name a file outside the served directory.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from hyper.common.decoder import make_decoder
from hyper.common.exceptions import HyperError
from hyper.engine.config import EngineConfig
from hyper.engine.engine import Engine
from hyper.engine.events import RequestReceived

__all__ = ["TARGETS", "FuzzFailure", "checked", "seeds"]

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADER = struct.Struct(">HBBBL")
_CODINGS = ("gzip", "deflate", "br", "zstd", "gzip, br", "deflate, gzip", "identity", "x-nope")


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    length = len(payload)
    return _HEADER.pack(length >> 8, length & 0xFF, kind, flags, stream_id) + payload


_SETTINGS = _frame(0x4, 0, 0, b"")
_SETTINGS_ACK = _frame(0x4, 0x1, 0, b"")
# A GET as a literal-without-indexing block (static-table names), valid HPACK.
_GET_BLOCK = b"\x82\x86\x84\x41\x09127.0.0.1"


def _feed(engine: Engine, data: bytes) -> None:
    """Feed ``data`` in pieces sized by its own bytes; answer requests."""
    offset = 0
    step = 1 + (data[0] if data else 0)
    while offset < len(data):
        chunk = data[offset : offset + step]
        offset += step
        step = 1 + (chunk[-1] * 7) % 4096
        for event in engine.receive_data(chunk):
            if type(event) is RequestReceived and not engine.client_side:
                engine.send_headers(event.stream_id, [(b":status", b"200")])
                engine.send_data(event.stream_id, b"ok", end_stream=True)
        engine.data_to_send()


def engine_server(data: bytes) -> None:
    engine = Engine(EngineConfig(client_side=False))
    engine.initiate_connection()
    engine.data_to_send()
    prefix = _PREFACE + _SETTINGS + _SETTINGS_ACK if data[:1] != b"P" else b""
    _feed(engine, prefix + data)


def engine_client(data: bytes) -> None:
    engine = Engine(EngineConfig(client_side=True, enable_push=bool(data[:1] == b"\x01")))
    engine.initiate_connection()
    engine.send_headers(1, [(b":method", b"GET"), (b":scheme", b"http"),
                            (b":authority", b"a"), (b":path", b"/")], end_stream=True)  # fmt: skip
    engine.data_to_send()
    _feed(engine, _SETTINGS + _SETTINGS_ACK + data[1:])


def header_block(data: bytes) -> None:
    flags = 0x4 | (0x1 if data[:1] == b"\x00" else 0)  # END_HEADERS (+END_STREAM)
    frame = _frame(0x1, flags, 1, data)
    for run, stream in ((engine_server, frame), (engine_client, b"\x00" + frame)):
        try:
            run(stream)
        except HyperError:
            pass


def body_decoder(data: bytes) -> None:
    if not data:
        return
    coding = _CODINGS[data[0] % len(_CODINGS)]
    decoder = make_decoder(coding)
    if decoder is None:
        return
    body = data[1:]
    offset, step = 0, 1
    while offset < len(body):
        chunk = body[offset : offset + step]
        offset += step
        step = 1 + (chunk[-1] * 13) % 2048
        limit = 1 + chunk[0] * 64
        out = decoder.decompress(chunk, limit)
        if len(out) > limit:
            raise AssertionError(f"{len(out)} bytes decoded past the {limit}-byte bound")
        while decoder.has_unconsumed_tail:
            out = decoder.decompress(b"", limit)
            if len(out) > limit:
                raise AssertionError(f"{len(out)} bytes decoded past the {limit}-byte bound")
            if not out:
                break
    decoder.flush()


def _serve_root() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def serve_plan(data: bytes) -> None:
    from hyper.serve import FileServer  # the app layer; imported only when fuzzed

    text = data.decode("latin-1")
    target, _, rest = text.partition("\n")
    headers = []
    for line in rest.split("\n"):
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    root = _serve_root()
    for method in ("GET", "HEAD", "POST"):
        plan = FileServer(root).plan(method, target, headers)
        if plan.path is not None and not os.path.realpath(plan.path).startswith(root + os.sep):
            raise AssertionError(f"{target!r} was planned as {plan.path}, outside {root}")


class FuzzFailure(Exception):
    """A target raised something other than a hyper exception."""

    def __init__(self, target: str, data: bytes, error: BaseException) -> None:
        super().__init__(f"{target}: {type(error).__name__}: {error} on input {data.hex()}")
        self.data = data


def checked(name: str, target: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``target``, raising :class:`FuzzFailure` for any exception not hyper's."""

    def run(data: bytes) -> None:
        try:
            target(data)
        except HyperError:
            pass
        except Exception as exc:
            raise FuzzFailure(name, data, exc) from exc

    return run


TARGETS: dict[str, Callable[[bytes], None]] = {
    "engine_server": engine_server,
    "engine_client": engine_client,
    "header_block": header_block,
    "body_decoder": body_decoder,
    "serve_plan": serve_plan,
}


def seeds(target: str) -> list[bytes]:
    """A few valid inputs per target, for mutation to start from."""
    get = _frame(0x1, 0x5, 1, _GET_BLOCK)
    if target == "engine_server":
        return [
            get,
            _frame(0x6, 0, 0, b"12345678") + get + _frame(0x3, 0, 1, b"\x00\x00\x00\x08"),
            _frame(0x1, 0x4, 1, _GET_BLOCK) + _frame(0x0, 0x1, 1, b"body"),
            _frame(0x1, 0x0, 1, _GET_BLOCK[:3]) + _frame(0x9, 0x4, 1, _GET_BLOCK[3:]),
            _frame(0x8, 0, 0, b"\x00\x00\x10\x00") + _frame(0x2, 0, 3, b"\x00\x00\x00\x01\x10"),
        ]
    if target == "engine_client":
        status = b"\x88"  # :status 200
        return [
            b"\x00" + _frame(0x1, 0x5, 1, status),
            b"\x00" + _frame(0x1, 0x4, 1, status) + _frame(0x0, 0x1, 1, b"hello"),
            b"\x01" + _frame(0x5, 0x4, 1, b"\x00\x00\x00\x02" + _GET_BLOCK)
            + _frame(0x1, 0x5, 2, status),
            b"\x00" + _frame(0x7, 0, 0, b"\x00\x00\x00\x01\x00\x00\x00\x00"),
        ]  # fmt: skip
    if target == "header_block":
        return [_GET_BLOCK, _GET_BLOCK + b"\x40\x03abc\x03def", b"\x88", b"\x00\x88"]
    if target == "body_decoder":
        import gzip
        import zlib

        text = b"hyper " * 200
        return [bytes([0]) + gzip.compress(text), bytes([1]) + zlib.compress(text),
                bytes([4]) + gzip.compress(text)]  # fmt: skip
    return [
        b"/\naccept-encoding: gzip",
        b"/__init__.py\nrange: bytes=0-9",
        b"/../x\nif-none-match: *",
        b"/%2e%2e/\nif-modified-since: Tue, 01 Jan 2030",
    ]

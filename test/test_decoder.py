"""Tests for hyper.common.decoder: bounded streaming Content-Encoding decoding."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyper.common.decoder import Decoder, DeflateDecoder, accept_encoding, make_decoder
from hyper.common.exceptions import DecodingError

try:
    import tracemalloc
except ImportError:  # PyPy has none: these memory bounds are measured in the CPython run
    tracemalloc = None  # type: ignore[assignment]

try:
    import brotli
except ImportError:  # PyPy: brotlicffi, the same API through cffi
    import brotlicffi as brotli

zstandard = pytest.importorskip("zstandard")

_DATA = os.urandom(3000) + b"hyper decodes streams, " * 4000 + os.urandom(2000)


def _zlib_wrapped(data: bytes) -> bytes:
    return zlib.compress(data)


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


def _zstd(data: bytes) -> bytes:
    return bytes(zstandard.ZstdCompressor(write_checksum=True).compress(data))


# (Content-Encoding, encoder) pairs covering every supported framing.
_CODECS: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", _zlib_wrapped),
    ("deflate", _raw_deflate),
    ("br", brotli.compress),
    ("zstd", _zstd),
]
_CODEC_IDS = ["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "br", "zstd"]
# (bytes fed per call, bytes read per call); feeding and reading one byte at a
# time adds nothing that feed=13 does not cover, only minutes.
_FEED_READ = [
    (feed, read)
    for feed in (1, 13, 4096, 1 << 30)
    for read in (-1, 1, 999, 65536)
    if (feed, read) != (1, 1)
]
_FEED_READ_IDS = [f"feed{feed}-read{read}" for feed, read in _FEED_READ]


def _decode_all(
    decoder: Decoder, blob: bytes, feed: int = 65536, max_length: int = -1
) -> tuple[bytes, int]:
    """Decode ``blob`` fed ``feed`` bytes at a time, reading ``max_length``
    per call as a response would; returns the output and the largest read."""
    out: list[bytes] = []
    largest = 0
    offset = 0
    while True:
        if decoder.needs_input:
            if offset >= len(blob):
                break
            chunk = blob[offset : offset + feed]
            offset += feed
        else:
            chunk = b""
        piece = decoder.decompress(chunk, max_length)
        largest = max(largest, len(piece))
        out.append(piece)
    out.append(decoder.flush())
    return b"".join(out), largest


def _make(coding: str) -> Decoder:
    decoder = make_decoder(coding)
    assert decoder is not None
    return decoder


class TestMakeDecoder:
    @pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "br", "zstd"])
    def test_known_codings_get_a_decoder(self, coding: str) -> None:
        assert isinstance(make_decoder(coding), Decoder)

    @pytest.mark.parametrize("value", [None, "", b"", "identity", b"Identity", " , identity"])
    def test_nothing_to_undo_is_none(self, value: str | bytes | None) -> None:
        assert make_decoder(value) is None

    @pytest.mark.parametrize("value", ["compress", "gzip, foo", "foo, gzip", b"x-unknown"])
    def test_unknown_coding_anywhere_is_none(self, value: str | bytes) -> None:
        """The body is then passed through undecoded rather than half-decoded."""
        assert make_decoder(value) is None

    def test_names_are_case_and_space_insensitive(self) -> None:
        decoder = make_decoder(b" GZip ")
        assert decoder is not None
        assert decoder.decompress(gzip.compress(b"abc")) + decoder.flush() == b"abc"

    def test_five_stacked_codings_are_allowed(self) -> None:
        blob = b"abc"
        for _ in range(5):
            blob = gzip.compress(blob)
        decoder = _make(", ".join(["gzip"] * 5))
        assert _decode_all(decoder, blob)[0] == b"abc"

    def test_more_than_five_stacked_codings_is_decoding_error(self) -> None:
        """urllib3 CVE-2025-66418: an unbounded chain costs a decoder per link."""
        with pytest.raises(DecodingError):
            make_decoder(", ".join(["gzip"] * 6))
        with pytest.raises(DecodingError):
            make_decoder(b"identity, " * 6)

    def test_stack_limit_can_be_raised(self) -> None:
        assert make_decoder(", ".join(["gzip"] * 6), max_encodings=6) is not None

    def test_historic_deflate_decoder_name(self) -> None:
        decoder = DeflateDecoder()
        assert decoder.decompress(_raw_deflate(b"abc")) + decoder.flush() == b"abc"
        decoder = DeflateDecoder()
        assert decoder.decompress(zlib.compress(b"abc")) + decoder.flush() == b"abc"

    def test_accept_encoding_lists_what_we_decode(self) -> None:
        assert accept_encoding() == b"gzip, deflate, br, zstd"


class TestRoundTrip:
    @pytest.mark.parametrize(("coding", "encode"), _CODECS, ids=_CODEC_IDS)
    @pytest.mark.parametrize(("feed", "max_length"), _FEED_READ, ids=_FEED_READ_IDS)
    def test_any_feed_and_read_size_gives_the_original(
        self, coding: str, encode: Callable[[bytes], bytes], feed: int, max_length: int
    ) -> None:
        out, largest = _decode_all(_make(coding), encode(_DATA), feed, max_length)
        assert out == _DATA
        if max_length >= 0:
            assert largest <= max_length

    @pytest.mark.parametrize(("coding", "encode"), _CODECS, ids=_CODEC_IDS)
    def test_empty_body_is_fine(self, coding: str, encode: Callable[[bytes], bytes]) -> None:
        """A 200 with Content-Encoding but no body (seen in the wild)."""
        decoder = _make(coding)
        assert decoder.decompress(b"") == b""
        assert decoder.flush() == b""

    @pytest.mark.parametrize(("coding", "encode"), _CODECS, ids=_CODEC_IDS)
    def test_encoded_empty_string(self, coding: str, encode: Callable[[bytes], bytes]) -> None:
        assert _decode_all(_make(coding), encode(b""))[0] == b""

    def test_stacked_codings_are_undone_in_reverse_order(self) -> None:
        # "gzip, br": gzip was applied first, then br.
        blob = brotli.compress(gzip.compress(_DATA))
        out, largest = _decode_all(_make("gzip, br"), blob, 1000, 4096)
        assert out == _DATA
        assert largest <= 4096

    def test_identity_in_a_stack_is_skipped(self) -> None:
        blob = _zstd(gzip.compress(_DATA))
        assert _decode_all(_make("gzip, identity, zstd"), blob)[0] == _DATA

    def test_gzip_with_several_members_decodes_them_all(self) -> None:
        blob = gzip.compress(b"first ") + gzip.compress(b"second ") + gzip.compress(b"third")
        for feed in (1, 5, 1 << 20):
            assert _decode_all(_make("gzip"), blob, feed)[0] == b"first second third"

    def test_gzip_trailing_garbage_after_a_member_is_ignored(self) -> None:
        blob = gzip.compress(b"body") + b"\x00\x00\x00 junk"
        assert _decode_all(_make("gzip"), blob)[0] == b"body"

    def test_zstd_several_frames_and_skippable_frames(self) -> None:
        skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"skip!"
        plain = zstandard.ZstdCompressor(write_content_size=False, write_checksum=False)
        blob = skippable + _zstd(b"one ") + skippable + plain.compress(b"two") + skippable
        for feed in (1, 3, 1 << 20):
            assert _decode_all(_make("zstd"), blob, feed, 2)[0] == b"one two"

    def test_zstd_streamed_frame_without_content_size(self) -> None:
        obj = zstandard.ZstdCompressor(write_checksum=True).compressobj()
        blob = b"".join(obj.compress(_DATA[i : i + 5000]) for i in range(0, len(_DATA), 5000))
        blob += obj.flush()
        assert _decode_all(_make("zstd"), blob, 777, 1000)[0] == _DATA

    @settings(max_examples=60, deadline=None)
    @given(
        data=st.binary(max_size=3000),
        coding=st.sampled_from(range(len(_CODECS))),
        feeds=st.lists(st.integers(1, 500), min_size=1, max_size=20),
        reads=st.lists(st.integers(-1, 700), min_size=1, max_size=20),
    )
    def test_random_splits_and_read_sizes(
        self, data: bytes, coding: int, feeds: list[int], reads: list[int]
    ) -> None:
        """Whatever the input chunking and read sizes, output is the original
        and no read exceeds its bound."""
        name, encode = _CODECS[coding]
        blob = encode(data * 3)
        decoder = _make(name)
        out: list[bytes] = []
        offset = 0
        for step in range(10_000):
            feed = feeds[step % len(feeds)]
            read = reads[step % len(reads)]
            chunk = b""
            if decoder.needs_input or step % 3 == 0:
                chunk = blob[offset : offset + feed]
                offset += len(chunk)
            piece = decoder.decompress(chunk, read)
            assert read < 0 or len(piece) <= read
            out.append(piece)
            if offset >= len(blob) and decoder.needs_input:
                break
        out.append(decoder.flush())
        assert b"".join(out) == data * 3


class TestTail:
    def test_tail_is_reported_until_drained(self) -> None:
        decoder = _make("gzip")
        first = decoder.decompress(gzip.compress(bytes(100_000)), 1000)
        assert len(first) == 1000
        assert decoder.has_unconsumed_tail
        assert not decoder.needs_input
        total = len(first)
        while decoder.has_unconsumed_tail:
            total += len(decoder.decompress(b"", 1000))
        assert total == 100_000
        assert decoder.needs_input
        assert decoder.flush() == b""

    @pytest.mark.parametrize(("coding", "encode"), _CODECS, ids=_CODEC_IDS)
    def test_empty_result_means_no_tail(
        self, coding: str, encode: Callable[[bytes], bytes]
    ) -> None:
        """A bounded call returning b'' leaves has_unconsumed_tail false, so a
        drain loop can never spin."""
        decoder = _make(coding)
        blob = encode(_DATA)
        decoder.decompress(blob[: len(blob) // 2], 100)
        while True:
            piece = decoder.decompress(b"", 100)
            if not piece:
                assert not decoder.has_unconsumed_tail
                break

    def test_max_length_zero_only_buffers(self) -> None:
        decoder = _make("gzip")
        assert decoder.decompress(gzip.compress(b"abc"), 0) == b""
        assert decoder.has_unconsumed_tail
        assert decoder.decompress(b"", 10) == b"abc"

    def test_flush_returns_the_rest_unbounded(self) -> None:
        decoder = _make("br")
        assert len(decoder.decompress(brotli.compress(bytes(300_000)), 10)) == 10
        assert len(decoder.flush()) == 300_000 - 10


class TestErrors:
    @pytest.mark.parametrize(("coding", "encode"), _CODECS, ids=_CODEC_IDS)
    def test_truncated_stream_fails_at_flush(
        self, coding: str, encode: Callable[[bytes], bytes]
    ) -> None:
        blob = encode(_DATA)
        decoder = _make(coding)
        decoder.decompress(blob[:-5])
        with pytest.raises(DecodingError, match="truncated"):
            decoder.flush()

    @pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "deflate"])
    def test_a_single_byte_body_is_truncated(self, coding: str) -> None:
        decoder = _make(coding)
        decoder.decompress(b"\x1f")
        with pytest.raises(DecodingError):
            decoder.flush()

    def test_gzip_without_its_trailer_is_truncated(self) -> None:
        blob = gzip.compress(b"abc")[:-8]
        decoder = _make("gzip")
        assert decoder.decompress(blob) == b"abc"
        with pytest.raises(DecodingError, match="truncated"):
            decoder.flush()

    @pytest.mark.parametrize(
        ("coding", "library_error"),
        [
            ("gzip", zlib.error),
            ("deflate", zlib.error),
            ("br", brotli.error),
            ("zstd", zstandard.ZstdError),
        ],
    )
    def test_bad_data_is_decoding_error_with_cause(
        self, coding: str, library_error: type[Exception]
    ) -> None:
        decoder = _make(coding)
        with pytest.raises(DecodingError) as info:
            decoder.decompress(b"this is not compressed at all" * 10)
            decoder.flush()
        assert isinstance(info.value.__cause__, library_error)

    def test_corruption_mid_stream_is_decoding_error(self) -> None:
        blob = bytearray(gzip.compress(_DATA))
        blob[len(blob) // 2] ^= 0xFF
        with pytest.raises(DecodingError):
            _decode_all(_make("gzip"), bytes(blob), 4096, 4096)

    def test_zstd_window_above_8_mib_is_refused(self) -> None:
        """RFC 9659 3: zstd content-encoding windows are capped at 8 MiB."""
        params = zstandard.ZstdCompressionParameters.from_level(3, window_log=24)
        obj = zstandard.ZstdCompressor(compression_params=params).compressobj()
        blob = obj.compress(os.urandom(1 << 16)) + obj.flush()
        with pytest.raises(DecodingError):
            _decode_all(_make("zstd"), blob)

    def test_stacked_truncation_is_reported(self) -> None:
        blob = brotli.compress(gzip.compress(_DATA))
        decoder = _make("gzip, br")
        decoder.decompress(blob[:-3])
        with pytest.raises(DecodingError):
            decoder.flush()


# -- decompression bombs -----------------------------------------------------

_GIB = 1 << 30
_MIB = 1 << 20
_READ = 65536
# Fed to the decoder per network read, like a response's socket reads.
_FEED = 65536
# Peak traced allocations allowed while decoding a 1 GiB bomb.
_PEAK_LIMIT = 10 * _MIB


def _zeros_chunks() -> Iterator[bytes]:
    zeros = bytes(_MIB)
    for _ in range(_GIB // _MIB):
        yield zeros


def _build_bomb(coding: str) -> bytes:
    """Compress 1 GiB of zeros chunk by chunk, never holding it whole."""
    if coding in ("gzip", "deflate"):
        # Z_RLE: the same maximal ratio on zeros as level 9, three times faster.
        wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
        zobj = zlib.compressobj(9, zlib.DEFLATED, wbits, 9, zlib.Z_RLE)
        parts = [zobj.compress(chunk) for chunk in _zeros_chunks()]
        parts.append(zobj.flush())
    elif coding == "br":
        bobj = brotli.Compressor(quality=5)
        parts = [bobj.process(chunk) for chunk in _zeros_chunks()]
        parts.append(bobj.finish())
    else:
        cobj = zstandard.ZstdCompressor(level=3).compressobj()
        parts = [cobj.compress(chunk) for chunk in _zeros_chunks()]
        parts.append(cobj.flush())
    return b"".join(parts)


@pytest.mark.slow
class TestDecompressionBombs:
    """urllib3 CVE-2025-66471 / CVE-2026-44432: bounded reads stay bounded."""

    @pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
    def test_1_gib_of_zeros_read_64_kib_at_a_time(self, coding: str) -> None:
        if tracemalloc is None:
            pytest.skip("no tracemalloc on PyPy; memory bounds are measured in the CPython run")
        bomb = _build_bomb(coding)
        assert len(bomb) < 2 * _MIB
        decoder = _make(coding)
        total = 0
        largest = 0
        offset = 0
        tracemalloc.start()
        try:
            while True:
                if decoder.needs_input:
                    if offset >= len(bomb):
                        break
                    chunk = bomb[offset : offset + _FEED]
                    offset += _FEED
                else:
                    chunk = b""
                piece = decoder.decompress(chunk, _READ)
                largest = max(largest, len(piece))
                total += len(piece)
            total += len(decoder.flush())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert largest <= _READ
        assert total == _GIB
        assert peak < _PEAK_LIMIT, f"{coding}: peak {peak} bytes"

    def test_stacked_bomb_stays_bounded(self) -> None:
        """A br-wrapped gzip bomb: the middle layer is pulled in steps too."""
        if tracemalloc is None:
            pytest.skip("no tracemalloc on PyPy; memory bounds are measured in the CPython run")
        zobj = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, zlib.Z_RLE)
        zeros = bytes(_MIB)
        inner = b"".join([zobj.compress(zeros) for _ in range(256)] + [zobj.flush()])
        bomb = brotli.compress(inner)
        decoder = _make("gzip, br")
        tracemalloc.start()
        try:
            piece = decoder.decompress(bomb, _READ)
            total = largest = len(piece)
            while decoder.has_unconsumed_tail:
                piece = decoder.decompress(b"", _READ)
                largest = max(largest, len(piece))
                total += len(piece)
            total += len(decoder.flush())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert largest <= _READ
        assert total == 256 * _MIB
        assert peak < _PEAK_LIMIT

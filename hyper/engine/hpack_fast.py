"""
A fast path for decoding the header blocks that cannot change HPACK state.

A block made only of indexed fields and literals *without* indexing (or
never indexed) neither adds to nor resizes the dynamic table (RFC 7541 6.1,
6.2.2, 6.2.3), so it can be decoded without hpack's per-field machinery: a
table lookup per indexed field (memoised until the table next changes) and
hpack's own Huffman decoder for literal strings. Typical responses are
exactly this shape once the server's first block has filled the table (a
``date`` sent as a literal without indexing, everything else indexed), and
this path costs a fraction of ``hpack.Decoder.decode``.

Anything else, or anything unusual (integers over 2**21, index 0, a string
running past the block, bad Huffman data, a header list over the limit, a
table size the peer still has to shrink) returns ``None`` and the caller
hands the block to hpack, which decodes it or raises the right error. Since
this path never changes state, giving up halfway is always safe.
"""

from __future__ import annotations

from hpack import Decoder, NeverIndexedHeaderTuple
from hpack.huffman_table import decode_huffman

Header = tuple[bytes, bytes]


def decode_stateless(
    data: bytes, decoder: Decoder, entries: dict[int, Header]
) -> list[Header] | None:
    """
    Decode ``data`` if it cannot change the decoder's state, else ``None``.

    ``entries`` memoises index -> field; the caller empties it whenever the
    dynamic table may have changed (any block hpack decodes itself).
    """
    table = decoder.header_table
    if table.maxsize > decoder.max_allowed_table_size:
        return None  # the peer owes us a size update: hpack reports it
    limit = decoder.max_header_list_size
    headers: list[Header] = []
    size = 0
    pos = 0
    end = len(data)
    while pos < end:
        first = data[pos]
        if first & 0x80:
            index = first & 0x7F
            pos += 1
            if index == 0x7F:
                index, pos = _integer(data, pos, end, 0x7F)
            if index <= 0:
                return None
            field = entries.get(index)
            if field is None:
                try:
                    name, value = table.get_by_index(index)
                except Exception:  # hpack raises its own error for a bad index
                    return None
                # bytes(): on PyPy hpack's table holds memoryviews (a no-op
                # on CPython, where it holds bytes); only on a cache miss.
                field = entries[index] = (bytes(name), bytes(value))
        elif first < 0x20:
            # Literal without indexing (0000xxxx) or never indexed (0001xxxx).
            index = first & 0x0F
            pos += 1
            if index == 0x0F:
                index, pos = _integer(data, pos, end, 0x0F)
                if pos < 0:
                    return None
            if index:
                cached = entries.get(index)
                if cached is None:
                    try:
                        cached = table.get_by_index(index)
                    except Exception:
                        return None
                    cached = entries[index] = (bytes(cached[0]), bytes(cached[1]))
                name = cached[0]
            else:
                name, pos = _string(data, pos, end)
                if pos < 0:
                    return None
            value, pos = _string(data, pos, end)
            if pos < 0:
                return None
            field = NeverIndexedHeaderTuple(name, value) if first & 0x10 else (name, value)
        else:
            return None  # incremental indexing or a size update: state changes
        size += len(field[0]) + len(field[1]) + 32
        if size > limit:
            return None
        headers.append(field)
    return headers


def _integer(data: bytes, pos: int, end: int, prefix_max: int) -> tuple[int, int]:
    """
    The continuation bytes of an integer whose prefix was full (RFC 7541
    5.1), at most three of them (values below 2**21 + prefix): anything longer
    is left to hpack. Position -1 means 'give up'.
    """
    value = prefix_max
    shift = 0
    while pos < end and shift <= 14:
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return 0, -1


def _string(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """A string literal at ``pos``; position -1 means 'give up'."""
    if pos >= end:
        return b"", -1
    first = data[pos]
    length = first & 0x7F
    start = pos + 1
    if length == 0x7F:
        length, start = _integer(data, start, end, 0x7F)
        if start < 0:
            return b"", -1
    stop = start + length
    if stop > end:
        return b"", -1
    raw = data[start:stop]
    if first & 0x80:
        try:
            raw = decode_huffman(raw)
        except Exception:
            return b"", -1
    return raw, stop

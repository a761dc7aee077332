"""The HPACK fast path agrees with hpack on every block it accepts."""

from __future__ import annotations

from hpack import Decoder, Encoder, NeverIndexedHeaderTuple
from hypothesis import given, settings
from hypothesis import strategies as st

from hyper.engine.hpack_fast import decode_stateless

names = st.sampled_from([b"date", b"content-length", b"x-a", b"server", b"etag", b"cookie"])
values = st.binary(min_size=0, max_size=300)
fields = st.tuples(names, values, st.sampled_from(["index", "none", "never"]))


def encode(encoder: Encoder, block: list[tuple[bytes, bytes, str]], huffman: bool) -> bytes:
    out = []
    for name, value, how in block:
        if how == "never":
            out.append(NeverIndexedHeaderTuple(name, value))
        else:
            out.append((name, value, how == "none"))  # third item: sensitive, no indexing
    return encoder.encode(out, huffman=huffman)


class TestDecodeStateless:
    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.lists(fields, max_size=8), min_size=1, max_size=8), st.booleans())
    def test_agrees_with_hpack_and_never_changes_the_table(
        self, blocks: list[list[tuple[bytes, bytes, str]]], huffman: bool
    ) -> None:
        encoder = Encoder()
        reference = Decoder()
        ours = Decoder()
        entries: dict[int, tuple[bytes, bytes]] = {}
        for block in blocks:
            data = encode(encoder, block, huffman)
            expected = [tuple(h) for h in reference.decode(data, raw=True)]
            before = list(ours.header_table.dynamic_entries)
            fast = decode_stateless(data, ours, entries)
            if fast is None:
                entries.clear()
                got = [tuple(h) for h in ours.decode(data, raw=True)]
            else:
                assert list(ours.header_table.dynamic_entries) == before
                got = [tuple(h) for h in fast]
            assert got == expected

    def test_indexed_and_unindexed_literals_take_the_fast_path(self) -> None:
        encoder = Encoder()
        decoder = Decoder()
        first = encoder.encode([(b":status", b"200"), (b"server", b"x")])
        decoder.decode(first, raw=True)
        block = encoder.encode([(b":status", b"200"), (b"server", b"x"), (b"date", b"now", True)])
        assert decode_stateless(block, decoder, {}) == [
            (b":status", b"200"), (b"server", b"x"), (b"date", b"now"),
        ]  # fmt: skip

    def test_never_indexed_fields_stay_never_indexed(self) -> None:
        block = Encoder().encode([NeverIndexedHeaderTuple(b"authorization", b"secret")])
        [field] = decode_stateless(block, Decoder(), {}) or []
        assert isinstance(field, NeverIndexedHeaderTuple)

    def test_blocks_that_change_the_table_are_left_to_hpack(self) -> None:
        block = Encoder().encode([(b"x-new", b"value")])  # literal with incremental indexing
        assert decode_stateless(block, Decoder(), {}) is None

    def test_list_over_the_limit_is_left_to_hpack(self) -> None:
        decoder = Decoder(max_header_list_size=40)
        block = Encoder().encode([(b"x-a", b"v" * 20, True)])
        assert decode_stateless(block, decoder, {}) is None

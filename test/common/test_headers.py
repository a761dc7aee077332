"""Tests for hyper.common.headers.HTTPHeaderMap, the historic hyper contract."""

from __future__ import annotations

import collections.abc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyper.common.headers import HTTPHeaderMap, canonical_form

# Header names: token characters in mixed case, so case-folding is exercised.
_names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
    min_size=1,
    max_size=12,
).map(str.encode)
# Values: any bytes, including commas, spaces and non-ASCII.
_values = st.binary(max_size=30)
_pairs = st.lists(st.tuples(_names, _values), max_size=20)


def _expected_values(pairs: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """The canonical values of ``name``, computed independently of the map."""
    out: list[bytes] = []
    for n, v in pairs:
        if n.lower() != name.lower():
            continue
        if n.lower() in (b"set-cookie", b"set-cookie2"):
            out.append(v)
        else:
            out.extend(part.strip() for part in v.split(b","))
    return out


class TestConstruction:
    def test_from_list_of_pairs_keeps_order_and_case(self) -> None:
        h = HTTPHeaderMap([(b"Content-Type", b"text/html"), (b"X-A", b"1")])
        assert list(h.iter_raw()) == [(b"Content-Type", b"text/html"), (b"X-A", b"1")]

    def test_str_names_and_values_are_stored_as_utf8_bytes(self) -> None:
        h = HTTPHeaderMap([("X-Name", "caf\u00e9")])
        assert list(h.iter_raw()) == [(b"X-Name", b"caf\xc3\xa9")]

    def test_from_dict_and_kwargs(self) -> None:
        source: dict[str | bytes, str | bytes] = {"a": "1", b"b": b"2"}
        h = HTTPHeaderMap(source, c="3")
        assert list(h.iter_raw()) == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]

    def test_several_sources_are_concatenated(self) -> None:
        first = HTTPHeaderMap([(b"a", b"1")])
        h = HTTPHeaderMap(first, [(b"b", b"2")])
        assert list(h.iter_raw()) == [(b"a", b"1"), (b"b", b"2")]

    def test_non_string_value_is_value_error(self) -> None:
        with pytest.raises(ValueError):
            HTTPHeaderMap([(b"a", 1)])  # type: ignore[list-item]

    def test_the_map_copies_the_pairs(self) -> None:
        pairs = [(b"a", b"1")]
        h = HTTPHeaderMap(pairs)
        pairs.append((b"b", b"2"))
        assert list(h.iter_raw()) == [(b"a", b"1")]

    def test_copy_is_independent(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1")])
        c = h.copy()
        h[b"b"] = b"2"
        assert list(c.iter_raw()) == [(b"a", b"1")]
        assert list(h.iter_raw()) == [(b"a", b"1"), (b"b", b"2")]

    def test_is_a_mutable_mapping(self) -> None:
        assert isinstance(HTTPHeaderMap(), collections.abc.MutableMapping)


class TestLookup:
    def test_getitem_is_case_insensitive_for_str_and_bytes(self) -> None:
        h = HTTPHeaderMap([(b"Content-Type", b"text/html")])
        assert h["content-type"] == [b"text/html"]
        assert h[b"CONTENT-TYPE"] == [b"text/html"]

    def test_getitem_splits_on_commas_and_strips(self) -> None:
        h = HTTPHeaderMap([(b"Accept", b"a, b ,c"), (b"accept", b" d ")])
        assert h[b"accept"] == [b"a", b"b", b"c", b"d"]

    def test_set_cookie_is_never_split(self) -> None:
        cookie = b"id=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"
        h = HTTPHeaderMap([(b"Set-Cookie", cookie), (b"set-cookie2", b"a, b")])
        assert h[b"set-cookie"] == [cookie]
        assert h[b"set-cookie2"] == [b"a, b"]

    def test_missing_key_is_key_error(self) -> None:
        with pytest.raises(KeyError):
            HTTPHeaderMap()[b"nope"]

    def test_get_returns_default_when_missing(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1")])
        assert h.get(b"A") == [b"1"]
        assert h.get(b"b") is None
        assert h.get(b"b", []) == []

    def test_contains_is_case_insensitive(self) -> None:
        h = HTTPHeaderMap([(b"X-Thing", b"1")])
        assert "x-thing" in h
        assert b"X-THING" in h
        assert b"x-other" not in h
        assert 5 not in h

    def test_len_counts_canonical_values(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1, 2"), (b"Set-Cookie", b"x, y"), (b"b", b"")])
        assert len(h) == 4

    def test_iteration_yields_lowercased_name_value_pairs(self) -> None:
        h = HTTPHeaderMap([(b"A", b"1, 2"), (b"B", b"3")])
        assert list(h) == [(b"a", b"1"), (b"a", b"2"), (b"b", b"3")]
        assert list(h.items()) == list(h)

    def test_keys_are_lowercased_and_not_deduplicated(self) -> None:
        h = HTTPHeaderMap([(b"A", b"1, 2"), (b"B", b"3"), (b"a", b"4")])
        assert list(h.keys()) == [b"a", b"a", b"b", b"a"]
        assert list(h.values()) == [b"1", b"2", b"3", b"4"]

    def test_dict_of_a_map_groups_values_by_name(self) -> None:
        h = HTTPHeaderMap([(b"A", b"1, 2"), (b"B", b"3")])
        assert dict(h) == {b"a": [b"1", b"2"], b"b": [b"3"]}


class TestMutation:
    def test_setitem_appends(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1")])
        h["A"] = "2"
        assert list(h.iter_raw()) == [(b"a", b"1"), (b"A", b"2")]
        assert h[b"a"] == [b"1", b"2"]

    def test_delitem_removes_every_field_with_that_name(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1"), (b"b", b"2"), (b"A", b"3")])
        del h["a"]
        assert list(h.iter_raw()) == [(b"b", b"2")]

    def test_delitem_missing_is_key_error(self) -> None:
        with pytest.raises(KeyError):
            del HTTPHeaderMap()[b"a"]

    def test_replace_keeps_first_position_and_drops_the_rest(self) -> None:
        h = HTTPHeaderMap([(b"x", b"0"), (b"A", b"1"), (b"b", b"2"), (b"a", b"3")])
        h.replace(b"a", b"new")
        assert list(h.iter_raw()) == [(b"x", b"0"), (b"a", b"new"), (b"b", b"2")]

    def test_replace_appends_when_absent(self) -> None:
        h = HTTPHeaderMap([(b"x", b"0")])
        h.replace("a", "1")
        assert list(h.iter_raw()) == [(b"x", b"0"), (b"a", b"1")]

    def test_merge_accepts_maps_dicts_and_pair_lists(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1")])
        h.merge(HTTPHeaderMap([(b"b", b"2")]))
        h.merge({"c": "3"})
        h.merge([(b"d", b"4")])
        assert list(h.iter_raw()) == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4")]

    def test_merge_into_itself_changes_nothing(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1")])
        h.merge(h)
        assert list(h.iter_raw()) == [(b"a", b"1")]

    def test_update_appends_like_merge(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1")])
        h.update(HTTPHeaderMap([(b"a", b"2")]), b=b"3")
        assert list(h.iter_raw()) == [(b"a", b"1"), (b"a", b"2"), (b"b", b"3")]

    def test_pop_returns_values_and_removes(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1, 2"), (b"b", b"3")])
        assert h.pop(b"A") == [b"1", b"2"]
        assert list(h.iter_raw()) == [(b"b", b"3")]
        assert h.pop(b"a", None) is None
        with pytest.raises(KeyError):
            h.pop(b"a")

    def test_popitem_clear_setdefault(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1"), (b"b", b"2")])
        assert h.popitem() == (b"b", b"2")
        assert h.setdefault(b"a", b"x") == [b"1"]
        assert h.setdefault(b"c", b"3") == [b"3"]
        h.clear()
        assert len(h) == 0
        with pytest.raises(KeyError):
            h.popitem()

    def test_copy_is_independent(self) -> None:
        h = HTTPHeaderMap([(b"a", b"1")])
        c = h.copy()
        c[b"b"] = b"2"
        assert list(h.iter_raw()) == [(b"a", b"1")]


class TestEqualityAndRepr:
    def test_equal_when_raw_pairs_match_with_names_case_insensitive(self) -> None:
        assert HTTPHeaderMap([(b"A", b"1")]) == HTTPHeaderMap([(b"a", b"1")])
        assert HTTPHeaderMap([(b"a", b"1")]) != HTTPHeaderMap([(b"a", b"2")])
        assert HTTPHeaderMap([(b"a", b"1")]) != HTTPHeaderMap([(b"A", b"1"), (b"a", b"1")])

    def test_values_compare_exactly(self) -> None:
        assert HTTPHeaderMap([(b"a", b"1,2")]) != HTTPHeaderMap([(b"a", b"1, 2")])

    def test_order_matters(self) -> None:
        a = HTTPHeaderMap([(b"a", b"1"), (b"b", b"2")])
        b = HTTPHeaderMap([(b"b", b"2"), (b"a", b"1")])
        assert a != b

    def test_not_equal_to_other_types_and_unhashable(self) -> None:
        assert HTTPHeaderMap() != {}
        with pytest.raises(TypeError):
            hash(HTTPHeaderMap())

    def test_repr_shows_raw_pairs(self) -> None:
        assert repr(HTTPHeaderMap([(b"a", b"1")])) == "HTTPHeaderMap([(b'a', b'1')])"

    def test_canonical_form(self) -> None:
        assert list(canonical_form(b"A", b"1, 2")) == [(b"a", b"1"), (b"a", b"2")]
        assert list(canonical_form(b"Set-Cookie", b"1, 2")) == [(b"set-cookie", b"1, 2")]


class TestProperties:
    @given(_pairs)
    def test_raw_pairs_round_trip_unchanged(self, pairs: list[tuple[bytes, bytes]]) -> None:
        assert list(HTTPHeaderMap(pairs).iter_raw()) == pairs
        assert list(HTTPHeaderMap(pairs).copy().iter_raw()) == pairs

    @given(_pairs, st.data())
    def test_lookups_are_case_insensitive_and_split(
        self, pairs: list[tuple[bytes, bytes]], data: st.DataObject
    ) -> None:
        h = HTTPHeaderMap(pairs)
        if pairs:
            name = data.draw(st.sampled_from([n for n, _ in pairs]))
            variants = [name, name.lower(), name.upper(), name.swapcase()]
            expected = _expected_values(pairs, name)
            for variant in variants:
                assert variant in h
                assert h[variant] == expected
        assert len(h) == len(list(h)) == len(list(h.keys()))

    @given(_pairs, _names, _values)
    def test_set_cookie_values_survive_whole(
        self, pairs: list[tuple[bytes, bytes]], name: bytes, value: bytes
    ) -> None:
        h = HTTPHeaderMap(pairs)
        h[b"Set-Cookie"] = value
        assert h[b"set-cookie"][-1] == value

    @given(_pairs, _names)
    def test_delete_then_lookup_fails(self, pairs: list[tuple[bytes, bytes]], name: bytes) -> None:
        h = HTTPHeaderMap(pairs)
        present = name in h
        if present:
            del h[name.upper()]
        assert name not in h
        kept = [(n, v) for n, v in pairs if n.lower() != name.lower()]
        assert list(h.iter_raw()) == kept

    @given(_pairs, _names, _values)
    def test_replace_leaves_exactly_one_field(
        self, pairs: list[tuple[bytes, bytes]], name: bytes, value: bytes
    ) -> None:
        h = HTTPHeaderMap(pairs)
        h.replace(name, value)
        matching = [(n, v) for n, v in h.iter_raw() if n.lower() == name.lower()]
        assert matching == [(name, value)]
        others = [(n, v) for n, v in pairs if n.lower() != name.lower()]
        assert [(n, v) for n, v in h.iter_raw() if n.lower() != name.lower()] == others

"""The sans-IO file logic of ``hyper serve``: paths, validators, 304, Range, compression."""

from __future__ import annotations

import errno
import gzip
import os
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

try:
    import brotli
except ImportError:  # PyPy: brotlicffi, the same API through cffi
    import brotlicffi as brotli
from hypothesis import given, settings
from hypothesis import strategies as st
from serve_support import INDEX, STYLE, TEXT

from hyper.serve import FileServer, Plan
from hyper.serve._body import FileBody, FileChangedError
from hyper.serve._cache import CACHE_BYTES, CACHE_FILE_MAX, MAX_ROUTES
from hyper.serve._files import (
    COMPRESS_INLINE,
    accepted_codings,
    choose_coding,
    compress_file,
    content_type,
    parse_range,
    plan_for_open_error,
    preload_links,
    split_target,
)
from hyper.serve._h1 import origin_form


@pytest.fixture(params=["cache", "no-cache"])
def files(docs: Path, request: pytest.FixtureRequest) -> FileServer:
    """Every answer, from a server with its cache (small files in memory)
    and from one without (every file read from disk)."""
    return FileServer(str(docs), cache_bytes=0 if request.param == "no-cache" else CACHE_BYTES)


def _h(plan: Plan) -> dict[str, str]:
    return dict(plan.headers)


class TestTargets:
    @pytest.mark.parametrize(
        "target",
        [
            "/../secret.txt",
            "/sub/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/sub/%2E%2E/%2e%2e/secret.txt",
            "/a%00b",
            "/a\x00b",
            "/..%2fsecret.txt",
            "/sub%5c..%5c..%5csecret.txt",
            "/./index.html",
            "http://example.com/index.html",
            "secret.txt",
            "*",
            "/%ff%fe",
        ],
    )
    def test_targets_that_could_leave_the_directory_are_refused(self, target: str) -> None:
        assert split_target(target) is None

    def test_query_and_fragment_are_not_part_of_the_path(self) -> None:
        assert split_target("/a%20b.txt?x=1#frag") == "/a b.txt"

    @pytest.mark.parametrize(
        "target", ["/escape.txt", "/escape-dir/secret.txt", "//etc/passwd", "/../secret.txt"]
    )
    def test_nothing_outside_the_directory_is_served(self, files: FileServer, target: str) -> None:
        """Symlinks out, absolute paths, '..': all 404, never the file."""
        plan = files.plan("GET", target, [])
        assert plan.status == 404
        assert plan.path is None
        assert b"outside" not in plan.body

    def test_percent_encoded_and_unicode_names_are_served(self, files: FileServer) -> None:
        assert files.plan("GET", "/sub/a%20b.txt", []).status == 200
        assert files.plan("GET", "/sub/caf%C3%A9.txt", []).status == 200

    def test_missing_file_is_404(self, files: FileServer) -> None:
        plan = files.plan("GET", "/nope.txt", [])
        assert (plan.status, plan.body) == (404, b"404 Not Found\n")

    @given(st.text(max_size=40))
    @settings(max_examples=300, deadline=None)
    def test_no_target_at_all_escapes(
        self, tmp_path_factory: pytest.TempPathFactory, path: str
    ) -> None:
        """Whatever the target, a planned file lies inside the root."""
        root = os.path.realpath(os.path.dirname(__file__))
        plan = FileServer(root).plan("GET", "/" + path, [])
        if plan.path is not None:
            assert plan.path.startswith(root + os.sep)


class TestDirectories:
    def test_index_html_is_the_directory_answer(self, files: FileServer) -> None:
        plan = files.plan("GET", "/", [])
        assert plan.status == 200
        assert plan.path is not None and plan.path.endswith("index.html")
        assert _h(plan)["content-length"] == str(len(INDEX))

    def test_directory_without_index_is_listed(self, files: FileServer) -> None:
        plan = files.plan("GET", "/sub/", [])
        assert plan.status == 200
        assert _h(plan)["content-type"] == "text/html; charset=utf-8"
        assert b'href="a%20b.txt"' in plan.body
        assert b'href="caf%C3%A9.txt"' in plan.body

    def test_directory_without_slash_redirects(self, files: FileServer) -> None:
        plan = files.plan("GET", "/sub", [])
        assert plan.status == 301
        assert _h(plan)["location"] == "/sub/"

    @pytest.mark.parametrize("target", ["//sub", "///sub", "//sub?x=1"])
    def test_redirects_are_never_scheme_relative(self, files: FileServer, target: str) -> None:
        """CVE-2021-28861's shape: "//sub/" would send a browser to host "sub"."""
        assert _h(files.plan("GET", target, []))["location"] == "/sub/"

    def test_a_file_with_a_trailing_slash_is_not_found(self, files: FileServer) -> None:
        assert files.plan("GET", "/text.txt/", []).status == 404
        assert files.plan("GET", "/text.txt", []).status == 200


class TestHeaders:
    @pytest.mark.parametrize(
        ("name", "ctype"),
        [
            ("a.html", "text/html; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.json", "application/json; charset=utf-8"),
            ("a.png", "image/png"),
            ("a.unknownext", "application/octet-stream"),
        ],
    )
    def test_content_type_from_the_name(self, name: str, ctype: str) -> None:
        assert content_type(name) == ctype

    def test_file_answer_has_validators_and_length(self, files: FileServer, docs: Path) -> None:
        plan = files.plan("GET", "/text.txt", [])
        headers = _h(plan)
        assert headers["content-length"] == str(len(TEXT))
        assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
        mtime = (docs / "text.txt").stat().st_mtime
        assert headers["last-modified"] == formatdate(mtime, usegmt=True)
        assert headers["accept-ranges"] == "bytes"

    def test_head_sends_the_same_headers_without_body(self, files: FileServer) -> None:
        get, head = files.plan("GET", "/text.txt", []), files.plan("HEAD", "/text.txt", [])
        assert head.head_only and not get.head_only
        assert head.headers == get.headers

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "BREW"])
    def test_other_methods_are_405(self, files: FileServer, method: str) -> None:
        plan = files.plan(method, "/text.txt", [])
        assert plan.status == 405
        assert _h(plan)["allow"] == "GET, HEAD"


class TestConditional:
    def test_matching_if_none_match_is_304(self, files: FileServer) -> None:
        etag = _h(files.plan("GET", "/text.txt", []))["etag"]
        for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            plan = files.plan("GET", "/text.txt", [("if-none-match", value)])
            assert plan.status == 304, value
            assert plan.head_only
            assert _h(plan)["etag"] == etag

    def test_other_etag_is_200(self, files: FileServer) -> None:
        assert files.plan("GET", "/text.txt", [("if-none-match", '"nope"')]).status == 200

    def test_if_modified_since(self, files: FileServer) -> None:
        modified = _h(files.plan("GET", "/text.txt", []))["last-modified"]
        assert files.plan("GET", "/text.txt", [("if-modified-since", modified)]).status == 304
        old = formatdate(0, usegmt=True)
        assert files.plan("GET", "/text.txt", [("if-modified-since", old)]).status == 200
        assert files.plan("GET", "/text.txt", [("if-modified-since", "garbage")]).status == 200

    def test_if_none_match_wins_over_if_modified_since(self, files: FileServer) -> None:
        modified = _h(files.plan("GET", "/text.txt", []))["last-modified"]
        fields = [("if-none-match", '"nope"'), ("if-modified-since", modified)]
        assert files.plan("GET", "/text.txt", fields).status == 200

    def test_compressed_variant_has_its_own_etag_and_revalidates(self, files: FileServer) -> None:
        plain = _h(files.plan("GET", "/text.txt", []))["etag"]
        zipped = _h(files.plan("GET", "/text.txt", [("accept-encoding", "gzip")]))["etag"]
        assert zipped != plain
        again = files.plan(
            "GET", "/text.txt", [("accept-encoding", "gzip"), ("if-none-match", zipped)]
        )
        assert again.status == 304


class TestRange:
    @pytest.mark.parametrize(
        ("value", "span"),
        [
            ("bytes=0-9", (0, 9)),
            ("bytes=10-", (10, 99)),
            ("bytes=-10", (90, 99)),
            ("bytes=-1000", (0, 99)),
            ("bytes=95-1000", (95, 99)),
            ("bytes = 5 - 6", (5, 6)),
        ],
    )
    def test_single_ranges(self, value: str, span: tuple[int, int]) -> None:
        assert parse_range(value, 100) == span

    @pytest.mark.parametrize("value", ["bytes=100-", "bytes=200-300", "bytes=-0"])
    def test_unsatisfiable(self, value: str) -> None:
        assert parse_range(value, 100) is False

    @pytest.mark.parametrize(
        "value",
        ["bytes=0-1,5-6", "items=0-1", "bytes=9-2", "bytes=-", "x", "bytes=\u0660-\u0669",
         "bytes=\uff11-\uff12", "bytes=0-9\u00a0"],
    )  # fmt: skip
    def test_ignored(self, value: str) -> None:
        """Several ranges, other units, nonsense, digits and spaces that are not
        ASCII (RFC 9110 14.1.1's DIGIT): the whole file (RFC 9110 14.2)."""
        assert parse_range(value, 100) is None

    @pytest.mark.parametrize(
        ("value", "span"),
        [
            ("bytes=" + "9" * 5000 + "-", False),
            ("bytes=0-" + "9" * 5000, (0, 99)),
            ("bytes=-" + "9" * 5000, (0, 99)),
            ("bytes=" + "0" * 5000 + "5-" + "0" * 5000 + "7", (5, 7)),
            ("bytes=" + "9" * 19 + "-", False),
            ("BYTES=1-2", (1, 2)),
        ],
    )
    def test_numbers_of_any_length(self, value: str, span: object) -> None:
        """Past int()'s 4,300 digits too: a start past the end is 416, an end
        past it is the end, a suffix longer than the file is all of it."""
        assert parse_range(value, 100) == span

    def test_range_is_206_with_content_range(self, files: FileServer) -> None:
        plan = files.plan(
            "GET", "/text.txt", [("range", "bytes=10-19"), ("accept-encoding", "gzip")]
        )
        assert plan.status == 206
        headers = _h(plan)
        assert headers["content-range"] == f"bytes 10-19/{len(TEXT)}"
        assert headers["content-length"] == "10"
        assert "content-encoding" not in headers  # ranges are of the identity body
        assert (plan.offset, plan.length) == (10, 10)

    def test_unsatisfiable_range_is_416(self, files: FileServer) -> None:
        plan = files.plan("GET", "/text.txt", [("range", f"bytes={len(TEXT)}-")])
        assert plan.status == 416
        assert _h(plan)["content-range"] == f"bytes */{len(TEXT)}"

    def test_if_range_that_does_not_match_gives_the_whole_file(self, files: FileServer) -> None:
        etag = _h(files.plan("GET", "/text.txt", []))["etag"]
        fields = [("range", "bytes=0-1")]
        assert files.plan("GET", "/text.txt", [*fields, ("if-range", etag)]).status == 206
        assert files.plan("GET", "/text.txt", [*fields, ("if-range", '"old"')]).status == 200
        assert files.plan("GET", "/text.txt", [*fields, ("if-range", f"W/{etag}")]).status == 200


class TestCompression:
    def test_gzip_when_accepted(self, files: FileServer) -> None:
        plan = files.plan("GET", "/text.txt", [("accept-encoding", "gzip, deflate")])
        headers = _h(plan)
        assert headers["content-encoding"] == "gzip"
        assert headers["vary"] == "accept-encoding"
        assert gzip.decompress(plan.body) == TEXT
        assert headers["content-length"] == str(len(plan.body)) and len(plan.body) < len(TEXT)

    def test_br_preferred_when_accepted(self, files: FileServer) -> None:
        plan = files.plan("GET", "/text.txt", [("accept-encoding", "gzip, br")])
        assert _h(plan)["content-encoding"] == "br"
        assert brotli.decompress(plan.body) == TEXT

    def test_q_zero_refuses_a_coding(self) -> None:
        assert choose_coding("br;q=0, gzip") == "gzip"
        assert choose_coding("*;q=0") == ""
        assert choose_coding("identity") == ""
        assert choose_coding("*") == "br"
        assert accepted_codings("gzip;q=0.5, br;q=x") == {"gzip": 0.5, "br": 0.0}

    def test_binary_types_are_not_compressed(self, files: FileServer) -> None:
        plan = files.plan("GET", "/big.bin", [("accept-encoding", "gzip, br")])
        assert "content-encoding" not in _h(plan)
        assert plan.path is not None  # streamed from the file, not held in memory

    def test_listing_is_compressed_when_accepted(self, files: FileServer) -> None:
        plan = files.plan("GET", "/sub/", [("accept-encoding", "gzip")])
        if len(files.plan("GET", "/sub/", []).body) >= 256:
            assert _h(plan)["content-encoding"] == "gzip"


class TestDeferredCompression:
    def test_a_big_file_is_left_to_compress_elsewhere(self, files: FileServer) -> None:
        """compress_now=False: above COMPRESS_INLINE bytes, the identity answer
        with the job to do; with_compressed then makes the compressed answer."""
        accept = [("accept-encoding", "gzip")]
        plan = files.plan("GET", "/text.txt", accept, compress_now=False)
        assert len(TEXT) > COMPRESS_INLINE
        assert plan.compress is not None and plan.path is not None
        assert "content-encoding" not in _h(plan) and _h(plan)["content-length"] == str(len(TEXT))
        path, _, coding = plan.compress
        body = compress_file(path, coding)
        done = files.with_compressed(plan, body)
        assert _h(done)["content-encoding"] == "gzip" and gzip.decompress(done.body) == TEXT
        assert _h(done)["etag"] == _h(files.plan("GET", "/text.txt", accept))["etag"]
        again = files.plan("GET", "/text.txt", accept, compress_now=False)
        if files.cache.enabled:
            assert again.compress is None and again.body == body  # cached now
        else:
            assert again.compress is not None  # nothing kept: the job again

    def test_a_small_file_is_compressed_at_once(self, files: FileServer) -> None:
        plan = files.plan("GET", "/style.css", [("accept-encoding", "gzip")], compress_now=False)
        assert plan.compress is None and _h(plan)["content-encoding"] == "gzip"

    def test_without_a_body_the_identity_answer_stands(self, files: FileServer) -> None:
        plan = files.plan("GET", "/text.txt", [("accept-encoding", "br")], compress_now=False)
        assert files.with_compressed(plan, None) is plan and plan.compress is None


class TestOpenErrors:
    @pytest.mark.parametrize(
        ("code", "status"),
        [(errno.EMFILE, 503), (errno.ENFILE, 503), (errno.ENOMEM, 503), (errno.ENOENT, 404),
         (errno.EACCES, 404), (errno.EISDIR, 404)],
    )  # fmt: skip
    def test_out_of_descriptors_is_503_and_the_rest_look_missing(
        self, code: int, status: int
    ) -> None:
        plan = plan_for_open_error(OSError(code, os.strerror(code)))
        assert plan.status == status
        assert ("retry-after", "1") in plan.headers if status == 503 else True


class TestLinks:
    def test_preload_links_are_found(self) -> None:
        html = (
            b"<link rel=preload href=/a.css as=style>"
            b"<LINK REL='preload' HREF='/b.js'><link rel=stylesheet href=/c.css>"
            b'<link href="/d.woff" rel="preload" as="font">'
        )
        assert preload_links(html) == [("/a.css", "style"), ("/b.js", ""), ("/d.woff", "font")]

    def test_link_headers_and_pushes_with_links_on(self, docs: Path) -> None:
        plan = FileServer(str(docs), links=True).plan("GET", "/", [])
        assert ("link", "</style.css>; rel=preload; as=style") in plan.headers
        assert plan.pushes == ["/style.css"]

    def test_no_link_headers_by_default(self, files: FileServer) -> None:
        plan = files.plan("GET", "/", [])
        assert "link" not in _h(plan) and plan.pushes == []

    def test_style_fixture_is_compressible(self) -> None:
        assert len(STYLE) > 256


class TestFileBody:
    def test_read_in_pieces_across_releases(self, files: FileServer) -> None:
        """A released body holds no descriptor and goes on where it left off."""
        plan = files.plan("GET", "/text.txt", [("range", "bytes=10-")])
        fds = len(os.listdir("/proc/self/fd"))
        body = FileBody.of(plan)
        assert body is not None
        assert len(os.listdir("/proc/self/fd")) == fds + 1
        pieces = [body.read(1000)]
        body.release()
        assert len(os.listdir("/proc/self/fd")) == fds
        while body.left:
            pieces.append(body.read(4096))
            body.release()
        assert b"".join(pieces) == TEXT[10:]

    def test_a_file_replaced_meanwhile_is_not_sent(self, tmp_path: Path) -> None:
        """(A streamed file: with no cache, every file is.)"""
        (tmp_path / "f.txt").write_bytes(b"first version\n" * 100)
        plan = FileServer(str(tmp_path), cache_bytes=0).plan("GET", "/f.txt", [])
        body = FileBody.of(plan)
        assert body is not None
        body.read(10)
        body.release()
        (tmp_path / "f.txt").write_bytes(b"second\n" * 300)
        with pytest.raises(FileChangedError):
            body.read(10)

    @pytest.fixture(params=["readv", "no readv"])
    def readv(self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
        """Both ways of reading into slots: os.readv, and the platforms
        without it (PyPy: one readinto per slot)."""
        if request.param == "no readv":
            monkeypatch.delattr(os, "readv", raising=False)

    def test_read_into_fills_the_slots_in_order(self, docs: Path, readv: None) -> None:
        """One readv for slots of any sizes, across releases; the body's end
        stops it short of the slots."""
        plan = FileServer(str(docs), cache_bytes=0).plan("GET", "/text.txt", [])
        body = FileBody.of(plan)
        assert body is not None
        out = bytearray(len(TEXT) + 100)
        view = memoryview(out)
        sizes = [1, 9, 4096, 16384, 3]
        offset = 0
        while body.left:
            slots = []
            for size in sizes:
                slots.append(view[offset : offset + size])
                offset += size
            got = body.read_into(slots)
            offset -= sum(sizes) - got
            body.release()
        assert bytes(out[:offset]) == TEXT

    def test_read_into_a_file_that_shrank_is_refused(self, tmp_path: Path, readv: None) -> None:
        (tmp_path / "f.bin").write_bytes(b"x" * 100_000)
        plan = FileServer(str(tmp_path), cache_bytes=0).plan("GET", "/f.bin", [])
        body = FileBody.of(plan)
        assert body is not None
        with open(tmp_path / "f.bin", "r+b") as f:
            f.truncate(50_000)
        buf = bytearray(100_000)
        with pytest.raises(FileChangedError):
            body.read_into([memoryview(buf)])

    def test_no_body_for_head_or_in_memory_answers(self, files: FileServer) -> None:
        assert FileBody.of(files.plan("HEAD", "/text.txt", [])) is None
        assert FileBody.of(files.plan("GET", "/nope", [])) is None


class _Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cached_server(root: Path, check: float = 1.0, **kwargs: Any) -> tuple[FileServer, _Clock]:
    files = FileServer(str(root), cache_check=check, **kwargs)
    clock = _Clock()
    files.cache.clock = clock
    return files, clock


def _body(plan: Plan) -> bytes:
    """What the plan sends: its body in memory, or its region of the file."""
    if plan.head_only:
        return b""
    body = FileBody.of(plan)
    if body is None:
        return plan.body
    data = body.read(plan.length) if plan.length else b""
    body.close()
    return data


class TestCache:
    """Small files answered from memory: the same answers, a bounded memory,
    and a changed file never served for longer than the check interval."""

    def test_a_small_file_is_answered_from_memory(self, docs: Path) -> None:
        files = FileServer(str(docs))
        first = files.plan("GET", "/style.css", [])
        again = files.plan("GET", "/style.css", [])
        assert again.body == STYLE and again.path == first.path
        assert FileBody.of(again) is None  # nothing to open: in memory
        assert again.headers is first.headers  # prepared once
        assert files.cache.size >= len(STYLE)

    def test_a_big_file_is_streamed_and_not_held(self, docs: Path) -> None:
        files = FileServer(str(docs))
        plan = files.plan("GET", "/big.bin", [])
        assert plan.body == b"" and plan.length == (docs / "big.bin").stat().st_size
        assert files.cache.size == 0

    @pytest.mark.parametrize("same_size", [True, False])
    def test_a_changed_file_is_served_once_the_check_interval_passed(
        self, tmp_path: Path, same_size: bool
    ) -> None:
        """Within the interval the remembered bytes; from its end, the new
        ones, even when size and modification time are those of before (the
        change time differs)."""
        path = tmp_path / "page.html"
        path.write_bytes(b"<p>first version</p>\n")
        hour_ago = time.time_ns() - 3600 * 10**9  # not "racy": trusted by its stat
        os.utime(path, ns=(hour_ago, hour_ago))
        before = path.stat()
        files, clock = _cached_server(tmp_path, check=1.0)
        assert files.plan("GET", "/page.html", []).body == b"<p>first version</p>\n"
        new = b"<p>other version</p>\n" if same_size else b"<p>second, longer version</p>\n"
        path.write_bytes(new)
        if same_size:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        clock.now += 0.999
        assert files.plan("GET", "/page.html", []).body == b"<p>first version</p>\n"
        clock.now += 0.001
        plan = files.plan("GET", "/page.html", [])
        assert plan.body == new
        assert dict(plan.headers)["content-length"] == str(len(new))

    def test_check_interval_zero_looks_on_every_request(self, tmp_path: Path) -> None:
        path = tmp_path / "a.txt"
        path.write_bytes(b"one\n")
        files, _ = _cached_server(tmp_path, check=0)
        assert files.plan("GET", "/a.txt", []).body == b"one\n"
        path.write_bytes(b"two, at once\n")
        assert files.plan("GET", "/a.txt", []).body == b"two, at once\n"
        path.unlink()
        assert files.plan("GET", "/a.txt", []).status == 404

    def test_a_deleted_file_is_404_once_the_check_interval_passed(self, tmp_path: Path) -> None:
        (tmp_path / "gone.txt").write_bytes(b"here\n")
        files, clock = _cached_server(tmp_path)
        assert files.plan("GET", "/gone.txt", []).status == 200
        (tmp_path / "gone.txt").unlink()
        clock.now += 1.0
        assert files.plan("GET", "/gone.txt", []).status == 404

    def test_a_symlink_turned_outward_is_refused_at_the_next_check(self, tmp_path: Path) -> None:
        """The traversal checks run again on every check, as strictly: a link
        that now leaves the directory is 404, never the file outside."""
        root = tmp_path / "root"
        root.mkdir()
        (root / "inside.txt").write_bytes(b"inside\n")
        (tmp_path / "secret.txt").write_bytes(b"outside the served directory\n")
        (root / "link.txt").symlink_to(root / "inside.txt")
        files, clock = _cached_server(root)
        assert files.plan("GET", "/link.txt", []).body == b"inside\n"
        (root / "link.txt").unlink()
        (root / "link.txt").symlink_to(tmp_path / "secret.txt")
        clock.now += 1.0
        for _ in range(3):
            plan = files.plan("GET", "/link.txt", [])
            assert plan.status == 404 and b"outside" not in plan.body and plan.path is None

    def test_a_directory_index_follows_its_file(self, tmp_path: Path) -> None:
        (tmp_path / "index.html").write_bytes(b"<p>one</p>\n")
        files, clock = _cached_server(tmp_path)
        assert files.plan("GET", "/", []).body == b"<p>one</p>\n"
        (tmp_path / "index.html").unlink()
        clock.now += 1.0
        listing = files.plan("GET", "/", [])
        assert listing.status == 200 and b"Index of /" in listing.body

    def test_memory_stays_within_the_budget(self, tmp_path: Path) -> None:
        """Bodies and compressed variants count; the least recently used go."""
        for i in range(40):
            (tmp_path / f"f{i}.txt").write_bytes(b"line %d of a text\n" % i * 200)
        budget = 32 * 1024
        files, _ = _cached_server(tmp_path, cache_bytes=budget)
        for _ in range(2):
            for i in range(40):
                for coding in ("", "gzip", "br"):
                    fields = [("accept-encoding", coding)] if coding else []
                    plan = files.plan("GET", f"/f{i}.txt", fields)
                    assert plan.status == 200
                    expected = (tmp_path / f"f{i}.txt").read_bytes()
                    body = plan.body
                    if coding == "gzip":
                        body = gzip.decompress(body)
                    elif coding == "br":
                        body = brotli.decompress(body)
                    assert body == expected
                    assert files.cache.size <= budget
        assert files.cache.size > budget // 2  # and it is used

    def test_routes_are_bounded(self, docs: Path) -> None:
        """Every spelling of a path is a route of its own; there are at most
        MAX_ROUTES of them, and each answers right."""
        files = FileServer(str(docs))
        for i in range(MAX_ROUTES + 100):
            plan = files.plan("GET", f"/style.css#{i}", [])
            assert plan.body == STYLE
        assert files.cache.route_count <= MAX_ROUTES

    def test_nothing_is_kept_without_a_budget(self, docs: Path) -> None:
        files = FileServer(str(docs), cache_bytes=0)
        plan = files.plan("GET", "/style.css", [("accept-encoding", "gzip")])
        assert gzip.decompress(plan.body) == STYLE
        assert FileBody.of(files.plan("GET", "/style.css", [])) is not None  # from disk
        assert files.cache.size == 0 and files.cache.route_count == 0

    def test_the_size_limit_is_the_cache_file_max(self, tmp_path: Path) -> None:
        (tmp_path / "edge.bin").write_bytes(b"x" * CACHE_FILE_MAX)
        (tmp_path / "over.bin").write_bytes(b"x" * (CACHE_FILE_MAX + 1))
        files = FileServer(str(tmp_path))
        assert files.plan("GET", "/edge.bin", []).body == b"x" * CACHE_FILE_MAX
        assert files.plan("GET", "/over.bin", []).body == b""  # streamed

    @pytest.mark.parametrize(
        "target",
        ["/style.css", "/", "/index.html", "/sub/a%20b.txt", "/text.txt", "/empty.bin",
         "/escape.txt", "/escape-dir/secret.txt", "/sub", "/sub/", "/nope", "/text.txt/",
         "/%2e%2e/secret.txt", "//style.css"],
    )  # fmt: skip
    def test_answers_from_memory_are_those_from_disk(self, docs: Path, target: str) -> None:
        """Status, headers and bytes, for every kind of request: cached (asked
        twice, so the second comes from memory) and uncached alike."""
        cached, uncached = FileServer(str(docs)), FileServer(str(docs), cache_bytes=0)
        etag = dict(uncached.plan("GET", target, []).headers).get("etag", '"x"')
        modified = dict(uncached.plan("GET", target, []).headers).get("last-modified", "")
        zipped = dict(uncached.plan("GET", target, [("accept-encoding", "gzip")]).headers)
        cases: list[list[tuple[str, str]]] = [
            [],
            [("range", "bytes=10-19")],
            [("range", "bytes=-5")],
            [("range", "bytes=100000-")],
            [("range", "bytes=0-1,5-6")],
            [("range", "bytes=3-4"), ("if-range", etag)],
            [("range", "bytes=3-4"), ("if-range", '"old"')],
            [("if-none-match", etag)],
            [("if-none-match", f"W/{etag}")],
            [("if-modified-since", modified)],
            [("accept-encoding", "gzip")],
            [("accept-encoding", "br, gzip")],
            [("accept-encoding", "gzip"), ("if-none-match", zipped.get("etag", '"x"'))],
            [("accept-encoding", "gzip"), ("range", "bytes=1-2")],
        ]
        for method in ("GET", "HEAD"):
            for fields in cases:
                for _ in range(2):
                    ours = cached.plan(method, target, fields)
                theirs = uncached.plan(method, target, fields)
                what = (method, target, fields)
                assert ours.status == theirs.status, what
                assert ours.headers == theirs.headers, what
                assert ours.head_only == theirs.head_only, what
                assert _body(ours) == _body(theirs), what
                assert ours.pushes == theirs.pushes, what


class TestOriginForm:
    @pytest.mark.parametrize(
        ("target", "path"),
        [
            ("/a?b", "/a?b"),
            ("http://host/x/y?z=1", "/x/y?z=1"),
            ("https://host:8443", "/"),
            ("HTTP://host/x", "/x"),
            ("ftp://host/x", "ftp://host/x"),  # not ours to serve: refused later
            ("*", "*"),
            ("host:443", "host:443"),
        ],
    )
    def test_absolute_form_becomes_its_path(self, target: str, path: str) -> None:
        """RFC 9112 3.2.2: a server MUST accept the absolute form."""
        assert origin_form(target) == path

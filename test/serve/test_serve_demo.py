"""``hyper demo`` runs every client front door against ``hyper serve`` in-process."""

from __future__ import annotations

import importlib.util
import io

from hyper.demo import run_demo


class TestDemo:
    def test_every_front_door_passes_against_hyper_serve(self) -> None:
        out = io.StringIO()
        assert run_demo(out, requests=50, threads=4) == 0, out.getvalue()
        text = out.getvalue()
        assert "hyper serve at http://127.0.0.1:" in text
        for label in (
            "GET / (push from Link)",
            "GET /text.txt (decoded)",
            "GET / (If-None-Match)",
            "GET /big.bin (Range)",
            "50 GETs from 4 threads",
            "HTTPConnection (h2c upgrade)",
            "50 async GETs",
        ):
            assert f"ok  {label}" in text, text
        adapter = importlib.util.find_spec("hyper.contrib") is not None
        assert ("ok  requests + HTTP2Adapter" in text) == adapter, text
        assert "BAD" not in text
        assert text.endswith("all good\n")

"""docs/contrib.rst lists every test of httpx's suite known to fail with hyper's
transports mounted, with its reason, exactly as test/external/httpx_plugin.py marks them."""

from __future__ import annotations

from pathlib import Path

from external import httpx_plugin as external_httpx

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contrib.rst"
MARKER = ".. httpx-known-failures:"


def documented() -> dict[str, str]:
    """Node id -> reason, read from the list that ends docs/contrib.rst."""
    text = DOCS.read_text("utf-8")
    section = text[text.index(MARKER) :].split("\n\n", 1)[1]
    found: dict[str, str] = {}
    reason = ""
    for line in section.splitlines():
        if line.startswith("- ``") and line.endswith("``"):
            found[line[4:-2]] = reason
        elif line.endswith(":") and line.strip():
            reason = line[:-1]
    return found


def test_the_docs_list_every_known_failure_with_its_reason() -> None:
    assert documented() == external_httpx.KNOWN_FAILURES


def test_the_selection_names_test_files_of_the_suite() -> None:
    assert all(path.startswith("tests/") for path in external_httpx.SELECTION)

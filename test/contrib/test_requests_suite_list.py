"""
The tests of requests' own suite that hyper's adapter still fails are
listed once (test/external/requests_expected_failures.txt, read by the CI
plugin that marks them strict xfails) and mirrored, with their reasons, in
docs/contrib.rst: the two must not drift apart.
"""

from __future__ import annotations

from pathlib import Path

from external.requests_plugin import expected_failures

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contrib.rst"


def test_every_expected_failure_has_a_reason() -> None:
    failures = expected_failures()
    assert failures
    assert all(reason for reason in failures.values())


def test_the_docs_list_every_expected_failure_with_its_reason() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    listed = {
        line[len("- ``") :].split("``: ", 1)[0]: line.split("``: ", 1)[1]
        for line in docs.splitlines()
        if line.startswith("- ``test_") and "``: " in line
    }
    assert listed == expected_failures()

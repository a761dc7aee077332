"""
A bounded run of ``python -m hyper.fuzz`` (hypothesis): every target, random
and mutated input, no exception but hyper's own. The longer CI run is
``python -m hyper.fuzz --seconds 60`` (docs/security.rst).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from hyper.common.exceptions import HyperError
from hyper.fuzz import TARGETS, FuzzFailure, checked, seeds
from hyper.fuzz.__main__ import main


class TestFuzz:
    @pytest.mark.parametrize("name", sorted(TARGETS))
    def test_seeds_run_clean(self, name: str) -> None:
        for seed in seeds(name):
            checked(name, TARGETS[name])(seed)

    def test_every_target_survives_a_bounded_run(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--runs", "150", "--engine", "hypothesis"]) == 0
        out = capsys.readouterr().out
        for name in TARGETS:
            assert f"{name}: 150 inputs, no failure" in out
        assert out.rstrip().endswith("no failure")

    def test_a_foreign_exception_is_a_failure_with_the_input(self) -> None:
        def broken(data: bytes) -> None:
            if data:
                raise KeyError("boom")
            raise HyperError("fine")

        check = checked("broken", broken)
        check(b"")  # a hyper exception is an allowed outcome
        with pytest.raises(FuzzFailure, match=r"KeyError.*on input 6869"):
            check(b"hi")

    def test_module_runs_with_a_time_budget(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "hyper.fuzz", "--seconds", "3", "--engine", "hypothesis",
             "--target", "body_decoder"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "inputs ran on 1 targets" in result.stdout

"""
``python -m hyper.fuzz [--target NAME] [--runs N | --seconds S] [--engine E]``

Feeds the targets of :mod:`hyper.fuzz` random and mutated input. With
atheris (``pip install atheris``; coverage-guided, one target per process)
it runs the one ``--target`` until ``--runs`` inputs or forever; otherwise
hypothesis generates ``--runs`` inputs per target (or as many as fit in
``--seconds`` seconds, shared by the targets), half of them mutations of
the target's seeds. Any exception that is not a hyper exception is a
failure: the input is printed (hex) and the exit status is 1. The last line
says how many inputs ran.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

from hyper.fuzz import TARGETS, FuzzFailure, checked, seeds


def _mutate(seed: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for kind, where, blob in edits:
        at = where % (len(data) + 1)
        if kind == 0:
            data[at:at] = blob  # insert
        elif kind == 1:
            del data[at : at + len(blob) + 1]  # delete
        elif kind == 2:
            data[at : at + len(blob)] = blob  # overwrite
        else:
            data[at:at] = data[at : at + 1 + len(blob) * 8]  # duplicate a run
    return bytes(data)


_BATCH = 200  # inputs per hypothesis run when running against a clock


def _run_one(name: str, runs: int) -> int:
    """Run one target on ``runs`` inputs; return the count."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    check = checked(name, TARGETS[name])
    edits = st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.binary(max_size=12)),
        max_size=6,
    )
    mutated = st.builds(_mutate, st.sampled_from(seeds(name)), edits)
    inputs = st.one_of(st.binary(max_size=4096), mutated)
    count = 0

    @settings(max_examples=runs, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(inputs)
    def fuzz(data: bytes) -> None:
        nonlocal count
        count += 1
        check(data)

    fuzz()
    return count


def run_hypothesis(names: Sequence[str], runs: int, seconds: float | None) -> int:
    """
    Run each target on ``runs`` inputs, or, with ``seconds``, in batches
    until its share of the time is spent; return how many inputs ran.
    """
    total = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    for index, name in enumerate(names):
        if deadline is None:
            count = _run_one(name, runs)
        else:
            until = time.monotonic() + (deadline - time.monotonic()) / (len(names) - index)
            count = 0
            while time.monotonic() < until:
                count += _run_one(name, _BATCH)
        total += count
        print(f"{name}: {count} inputs, no failure", flush=True)
    return total


def run_atheris(name: str, runs: int | None) -> None:  # pragma: no cover - replaces the process
    atheris: Any = importlib.import_module("atheris")
    check = checked(name, TARGETS[name])
    argv = [sys.argv[0]]
    if runs is not None:
        argv.append(f"-runs={runs}")
    atheris.instrument_all()  # coverage guidance for the modules already imported
    atheris.Setup(argv, check)
    atheris.Fuzz()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hyper.fuzz", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("--target", choices=sorted(TARGETS), action="append",
                        help="a target to run (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=1000, help="inputs per target (default 1000)")
    parser.add_argument("--seconds", type=float, help="stop after this long (all targets)")
    parser.add_argument("--engine", choices=("auto", "hypothesis", "atheris"), default="auto")
    args = parser.parse_args(argv)
    names = args.target or list(TARGETS)
    engine = args.engine
    if engine == "auto":
        engine = (
            "atheris" if len(names) == 1 and importlib.util.find_spec("atheris") else "hypothesis"
        )
    if engine == "atheris":
        if len(names) != 1:
            parser.error("atheris runs one --target per process")
        run_atheris(names[0], None if args.seconds else args.runs)
        return 0
    started = time.monotonic()
    try:
        total = run_hypothesis(names, args.runs, args.seconds)
    except FuzzFailure as exc:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"{total} inputs ran on {len(names)} targets in {time.monotonic() - started:.0f} s, "
          "no failure")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

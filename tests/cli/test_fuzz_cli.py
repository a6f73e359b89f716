"""Random layer texts, option values and bytes for the calculators, in-process.

The only acceptable outcomes are an answer (exit 0) or a refusal (exit 2 with exactly one
``error:`` line): never an internal error, a traceback or a hang. Each case runs under a
work budget, a count of Python function calls (a ``sys.settrace`` hook), so a case that
loops over a huge count fails as the same case on every machine, however busy.

To cover another command, add a :class:`Fuzzed` entry to ``COMMANDS``. ``summary`` gets the
real printed models of tests/golden/real_models, damaged as pastes go wrong.
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncli.cli import app
from cnncli.core.layers import REQUIRED, SIGNATURES

# Python function calls one case may make: a few hundred thousand answer any sane
# question (start-up included); a loop over a million windows would need millions.
WORK_BUDGET = 1_500_000
EXAMPLES = 120


class WorkBudgetExceeded(BaseException):
    """Not an Exception, so that the CLI's own handler cannot turn it into an answer."""


@contextmanager
def work_budget(calls: int) -> Iterator[None]:
    remaining = calls

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining < 0:
            sys.settrace(None)
            raise WorkBudgetExceeded(f"more than {calls:,} Python calls")

    previous = sys.gettrace()
    sys.settrace(count)
    try:
        yield
    finally:
        sys.settrace(previous)


T = TypeVar("T")
Case = tuple[list[str], bytes | None]  # argv after the command name, stdin


@dataclass(frozen=True)
class Fuzzed:
    """A command, a strategy for its arguments, and cases that once failed (always run)."""

    command: str
    cases: st.SearchStrategy[Case]
    known: tuple[Case, ...] = ()


# ------------------------------------------------------------------ values ---

WORDS = ("false", "true", "none", "same", "valid", "foo", "nan", "inf", "zeros", "max", "avg")
HUGE_INTS = (2**63 - 1, 2**63, 10**30, -(2**63), 10**4000)

ints = st.one_of(st.integers(-3, 12), st.sampled_from(HUGE_INTS), st.integers(-(10**20), 10**20))
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from((0.0, 2.5, 1e308, -1.0))
)
scalar_text = st.one_of(
    ints.map(str),
    floats.map(repr),
    st.sampled_from(("True", "False", "None")),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(repr),
)
value_text = st.recursive(
    scalar_text,
    lambda inner: st.lists(inner, max_size=4).map(lambda items: f"({', '.join(items)},)"),
    max_leaves=6,
)


def mostly(good: st.SearchStrategy[T], bad: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Most draws from ``good`` (random cases should reach the answers too), some from ``bad``.
    (``one_of(good, good, bad)`` would not do: one_of keeps each strategy once.)"""
    return st.integers(0, 9).flatmap(lambda roll: bad if roll == 9 else good)


small = st.integers(1, 12).map(str)


@st.composite
def layer_text(draw: st.DrawFn) -> str:
    """A known layer with its required arguments (mostly small integers, sometimes anything)
    and a few optional ones; now and then an unknown layer or an unknown argument."""
    kind = draw(mostly(st.sampled_from(sorted(SIGNATURES)), st.sampled_from(("Conv", "foo"))))
    signature = SIGNATURES.get(kind, ())
    required = [name for name, default in signature if default is REQUIRED]
    positional = [draw(mostly(small, value_text)) for _ in required]
    optional = [name for name, default in signature if default is not REQUIRED]
    keywords = draw(
        st.lists(
            st.tuples(mostly(st.sampled_from(optional or ["typo"]), st.just("typo")), value_text),
            max_size=3,
            unique_by=lambda pair: pair[0],
        )
    )
    args = positional + [f"{name}={value}" for name, value in keywords]
    prefix = draw(st.sampled_from(("", "nn.", "(0): ", "torch.nn.")))
    return f"{prefix}{kind}({', '.join(args)})"


any_text = st.text(max_size=60)
raw_bytes = st.binary(max_size=80)


# ---------------------------------------------------------------- commands ---


@st.composite
def params_cases(draw: st.DrawFn) -> Case:
    flags = draw(st.lists(st.sampled_from(("--json", "--total", "--explain")), unique=True))
    how = draw(st.sampled_from(("args", "stdin", "bytes", "text")))
    if how == "args":
        return [*draw(st.lists(layer_text(), min_size=1, max_size=3)), *flags], None
    if how == "stdin":
        lines = draw(st.lists(layer_text(), min_size=1, max_size=5))
        return ["-", *flags], "\n".join(lines).encode()
    if how == "bytes":
        return ["-", *flags], draw(raw_bytes)
    return [draw(any_text), *flags], None


option_value = st.one_of(
    ints.map(str),
    st.lists(ints, min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
    floats.map(repr),
    st.sampled_from(WORDS),
    any_text,
)
chain_token = st.one_of(
    st.sampled_from(("conv", "pool", "tconv", "adaptive", "ceil", "p", "same", "valid")),
    st.tuples(st.sampled_from(("k", "s", "p", "d", "op", "k=", "p=")), ints).map(
        lambda pair: f"{pair[0]}{pair[1]}"
    ),
    any_text,
)
chain_text = st.lists(
    st.lists(chain_token, min_size=1, max_size=5).map(" ".join), min_size=1, max_size=4
).map(", ".join)


good_chain = st.lists(
    st.tuples(
        st.sampled_from(("conv", "pool", "tconv")),
        st.lists(
            st.sampled_from(("k2", "k3", "s2", "p1", "p same", "d2", "op1", "ceil")), max_size=3
        ),
    ).map(lambda layer: " ".join((layer[0], "k3", *layer[1]))),
    min_size=1,
    max_size=4,
).map(", ".join)


@st.composite
def outsize_cases(draw: st.DrawFn) -> Case:
    args = ["--lin", draw(mostly(st.integers(1, 300).map(str), option_value))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--chain", draw(mostly(good_chain, chain_text))]
    elif draw(st.integers(0, 4)) == 0:
        args += ["--adaptive", draw(mostly(small, option_value))]
    else:
        args += ["--k", draw(mostly(small, option_value))]
        for option in ("--s", "--p", "--d"):
            if draw(st.integers(0, 2)) == 0:
                args += [option, draw(mostly(st.integers(0, 3).map(str), option_value))]
        kinds = st.sampled_from(((), ("--pool",), ("--pool", "--ceil"), ("--transposed",)))
        flags = st.lists(st.sampled_from(("--pool", "--ceil", "--transposed")))
        args += draw(mostly(kinds.map(list), flags))
    args += draw(st.lists(st.sampled_from(("--explain", "--json")), unique=True))
    return args, None


number_text = st.one_of(floats.map(repr), ints.map(str), st.sampled_from(WORDS))


@st.composite
def pool_cases(draw: st.DrawFn) -> Case:
    how = draw(mostly(st.sampled_from(("list", "matrix")), st.sampled_from(("text", "bytes"))))
    op = draw(mostly(st.sampled_from(("max", "avg")), st.just("min")))
    stdin = None
    if how == "list":
        items = draw(
            st.lists(mostly(st.integers(-9, 9).map(str), number_text), min_size=1, max_size=8)
        )
        args = ["--values", ",".join(items)]
    elif how == "matrix":
        width = draw(st.integers(1, 4))
        cell = mostly(st.integers(-9, 9).map(str), number_text)
        rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=4))
        args = ["--values", "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]"]
    elif how == "text":
        args = ["--values", draw(any_text)]
    else:
        args, stdin = ["--file", "-"], draw(raw_bytes)
    if draw(st.integers(0, 3)) == 0:
        args += ["--adaptive", draw(mostly(small, option_value))]
    else:
        args += ["--k", draw(mostly(st.integers(1, 3).map(str), option_value))]
        for option in ("--s", "--p", "--d") if op == "max" else ("--s", "--p"):
            if draw(st.integers(0, 2)) == 0:
                args += [option, draw(mostly(st.integers(0, 2).map(str), option_value))]
    args += ["--op", op]
    args += draw(
        st.lists(
            st.sampled_from(("--ceil", "--no-count-include-pad", "--explain", "--json")),
            unique=True,
        )
    )
    return args, stdin


REPRS = sorted((Path(__file__).parents[1] / "golden" / "real_models").glob("*.txt"))
MUTATED_NUMBERS = ("0", "-1", "1e308", "nan", "inf", "2.5", "True", "false", "9" * 30)


def mutate(text: str, rng: random.Random) -> str:
    """A real printed model, damaged the way pastes go wrong."""
    lines = text.splitlines()
    kind = rng.randrange(7)
    if kind == 0:  # cut off
        return "\n".join(lines[: rng.randrange(len(lines) + 1)])
    if kind == 1 and lines:  # a line dropped
        del lines[rng.randrange(len(lines))]
    elif kind == 2 and lines:  # a line duplicated
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif kind == 3:  # a number replaced by a strange one
        numbers = list(re.finditer(r"\b\d+\b", text))
        if numbers:
            m = rng.choice(numbers)
            return text[: m.start()] + rng.choice(MUTATED_NUMBERS) + text[m.end() :]
    elif kind == 4 and text:  # a byte flipped
        data = bytearray(text.encode())
        data[rng.randrange(len(data))] = rng.randrange(256)
        return data.decode("utf-8", errors="replace")
    elif kind == 5:  # Python's words lower-cased
        return text.replace("True", "true").replace("False", "false")
    else:  # an inner block pasted alone
        lines = lines[rng.randrange(len(lines) + 1) :]
    return "\n".join(lines)


shape_text = st.one_of(
    st.sampled_from(("3,224,224", "3,32,32", "1,28,28", "3x64x64", "(3, 96, 96)", "20")),
    st.lists(st.integers(-3, 10**6), min_size=1, max_size=4).map(lambda v: ",".join(map(str, v))),
    option_value,
)


@st.composite
def summary_cases(draw: st.DrawFn) -> Case:
    flags = draw(st.lists(st.sampled_from(("--json", "--csv", "--depth", "--batch")), unique=True))
    extra = []
    for flag in flags:
        extra += (
            [flag, draw(mostly(small, option_value))] if flag in ("--depth", "--batch") else [flag]
        )
    shape = ["--input", draw(shape_text)]
    if draw(st.integers(0, 5)) == 0:
        return ["-", *shape, *extra], draw(raw_bytes)
    text = draw(st.sampled_from(REPRS)).read_text()
    return ["-", *shape, *extra], mutate(text, draw(st.randoms(use_true_random=False))).encode()


COMMANDS = [
    Fuzzed(
        "params",
        params_cases(),
        known=(
            (["MultiheadAttention(8, 2, kdim=4.5)"], None),
            (["LSTM(10, 20, num_layers=1000000000000)"], None),
            (["-"], b"Conv2d(3, 5, 3)\n\xff\xfe\n"),
            ([f"Linear({'1' * 5000}, 2)"], None),
        ),
    ),
    Fuzzed(
        "outsize",
        outsize_cases(),
        known=(
            (["--lin", "1000000", "--k", "1", "--pool", "--json"], None),
            (["--lin", "3", "--adaptive", "1000000", "--json"], None),
            (["--lin", "9" * 5000, "--k", "1"], None),
        ),
    ),
    Fuzzed(
        "pool",
        pool_cases(),
        known=(
            (["--values", "1e308,1e308", "--k", "2", "--op", "avg"], None),
            (["--values", f"[1{'0' * 400}]", "--k", "1"], None),
            (["--values", "1,2,3", "--adaptive", "1000000000"], None),
        ),
    ),
    Fuzzed(
        "summary",
        summary_cases(),
        known=(
            (["alexnet", "--input", "3,100000000,100000000"], None),
            (["-", "--input", "3,8,8"], b"Conv2d(3, 16, 3)\nConv2d(16, 32, 3)\nLinear(100, 10)\n"),
            (["-", "--input", "3,8,8"], ("Sequential(\n" * 5000 + ")\n" * 5000).encode()),
        ),
    ),
]


def check_outcome(command: str, case: Case) -> None:
    args, stdin = case
    runner = CliRunner()
    with work_budget(WORK_BUDGET):
        result = runner.invoke(app, [command, *args], input=stdin)
    context = f"cnncli {command} {args!r} (stdin {stdin!r})"
    assert result.exit_code in (0, 2), f"{context}: exit {result.exit_code}\n{result.stderr}"
    lines = result.stderr.splitlines()
    if result.exit_code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{context}:\n{result.stderr}"
        assert "internal error" not in lines[0]
    else:
        assert not any(line.startswith("error") for line in lines), context


@pytest.mark.parametrize("fuzzed", COMMANDS, ids=[f.command for f in COMMANDS])
def test_only_answers_or_one_line_refusals(fuzzed: Fuzzed) -> None:
    check_outcome(fuzzed.command, (["--help"], None))  # imports done outside the budget

    @settings(
        derandomize=True,
        deadline=None,
        max_examples=EXAMPLES,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(fuzzed.cases)
    def run(case: Case) -> None:
        check_outcome(fuzzed.command, case)

    for case in fuzzed.known:
        run = example(case)(run)
    run()


def test_work_budget_stops_a_runaway_loop() -> None:
    def spin() -> None:
        for _ in range(10**9):
            abs(1)  # a builtin: not a Python call
            (lambda: None)()

    with pytest.raises(WorkBudgetExceeded), work_budget(1000):
        spin()

"""Generated garbage at ``cnncli summary``: a right answer (exit 0) or one error line (exit 2).

Inputs are real printed models (the golden reprs) mutated the way pastes go wrong: cut
off, lines dropped or duplicated, bytes flipped, numbers replaced by huge, negative,
float or NaN values, words lower-cased, plus random bytes and random ``--input`` texts.
Each case runs in-process under a generous alarm: a hang or a crash is a bug.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

REPRS = sorted((Path(__file__).parents[1] / "golden" / "real_models").glob("*.txt"))
CASE_SECONDS = 20  # far beyond any real case: only a hang trips it

NUMBERS = ["0", "-1", "-7", "1e308", "nan", "inf", "2.5", "True", "false", "10**9", "9" * 30]


@pytest.fixture(autouse=True)
def _alarm() -> Iterator[None]:
    def hung(signum: int, frame: object) -> None:
        raise TimeoutError(f"a summary case ran for more than {CASE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, hung)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    kind = rng.randrange(7)
    if kind == 0 and lines:  # cut off
        return "\n".join(lines[: rng.randrange(len(lines))])
    if kind == 1 and lines:  # a line dropped
        del lines[rng.randrange(len(lines))]
    elif kind == 2 and lines:  # a line duplicated
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif kind == 3:  # a number replaced
        import re

        numbers = list(re.finditer(r"\b\d+\b", text))
        if numbers:
            m = rng.choice(numbers)
            return text[: m.start()] + rng.choice(NUMBERS) + text[m.end() :]
    elif kind == 4:  # a byte flipped
        data = bytearray(text.encode())
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        return data.decode("utf-8", errors="replace")
    elif kind == 5:  # words lower-cased
        return text.replace("True", "true").replace("False", "false")
    else:  # an inner block pasted alone
        start = rng.randrange(len(lines)) if lines else 0
        return "\n".join(lines[start:])
    return "\n".join(lines)


INPUTS = st.one_of(
    st.sampled_from(["3,224,224", "3,32,32", "1,28,28", "3x64x64", "(3, 96, 96)", "20"]),
    st.lists(st.integers(-3, 10**6), min_size=1, max_size=4).map(lambda xs: ",".join(map(str, xs))),
    st.text(max_size=12),
)


def _check(result: object) -> None:
    exit_code = result.exit_code  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert exit_code in (0, 2), (exit_code, stderr, result.exception)  # type: ignore[attr-defined]
    if exit_code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr


@seed(20261130)
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(model=st.sampled_from(REPRS), mutation=st.randoms(use_true_random=False), shape=INPUTS)
def test_mutated_reprs_get_an_answer_or_one_error_line(
    run_cli, model: Path, mutation: random.Random, shape: str
) -> None:
    text = _mutate(model.read_text(), mutation)
    signal.alarm(CASE_SECONDS)
    result = run_cli("summary", "-", "--input", shape, input=text)
    signal.alarm(0)
    _check(result)


@seed(20261130)
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=300), shape=INPUTS)
def test_random_bytes_get_an_answer_or_one_error_line(run_cli, data: bytes, shape: str) -> None:
    signal.alarm(CASE_SECONDS)
    result = run_cli("summary", "-", "--input", shape, input=data)
    signal.alarm(0)
    _check(result)

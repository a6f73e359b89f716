"""The calculators' part of ``make bench`` (issues 14 and 15): whole-process time of ``params``
on 10,000 layer lines piped in, as a user pipes a model's lines, and of ``summary`` on a
10,000-layer model and on real printed models (ResNet-152, ViT-B/16) as a ratio to
``python -c "import typer"``, measured side by side in the same rounds.

Self-contained, so the image benchmark (``run_bench.py``) only calls :func:`run_calculators`;
also runnable alone: ``.venv/bin/python bench/calculators.py [--rounds N]``.
Each command runs as its own process (interpreter start, imports, parsing, the table on a
pipe), once to warm the caches, then ``rounds`` times; the median counts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LAYERS = 10_000
LIMIT_SECONDS = 2.0
STARTUP_RATIO = 3.0  # summary of a real model, at most this many times `import typer`
REPRS = Path(__file__).resolve().parents[1] / "tests" / "golden" / "real_models"
BASELINE = "python -c 'import typer'"


@dataclass(frozen=True)
class Case:
    label: str
    target: str  # the line in the targets table
    argv: tuple[str, ...]
    stdin: Path
    limit: float  # seconds, or a ratio to the baseline when ``ratio`` is set
    ratio: bool = False


def layer_lines(count: int, seed: int = 15) -> str:
    """``count`` layer lines as ``print(model)`` shows them, with varied sizes (not one line
    repeated: each is parsed, not looked up)."""
    rng = random.Random(seed)
    makers = (
        lambda: (
            f"Conv2d({rng.randint(1, 512)}, {rng.randint(1, 512)}, "
            f"kernel_size=({(k := rng.choice((1, 3, 5, 7)))}, {k}), stride=({rng.randint(1, 2)}, "
            f"{rng.randint(1, 2)}), padding=({rng.randint(0, 3)}, {rng.randint(0, 3)}))"
        ),
        lambda: (
            f"BatchNorm2d({rng.randint(1, 2048)}, eps=1e-05, momentum=0.1, affine=True, "
            "track_running_stats=True)"
        ),
        lambda: "ReLU(inplace=True)",
        lambda: (
            f"Linear(in_features={rng.randint(1, 9216)}, "
            f"out_features={rng.randint(1, 4096)}, bias={rng.choice(('True', 'False'))})"
        ),
        lambda: (
            f"MaxPool2d(kernel_size={(k := rng.randint(2, 4))}, stride=2, "
            f"padding={rng.randint(0, k // 2)}, dilation=1, ceil_mode=False)"
        ),
        lambda: (
            f"LSTM({rng.randint(1, 256)}, {rng.randint(1, 256)}, "
            f"num_layers={rng.randint(1, 4)}, bidirectional={rng.choice(('True', 'False'))})"
        ),
    )
    return "\n".join(f"  ({i}): {rng.choice(makers)()}" for i in range(count)) + "\n"


def deep_model(count: int) -> str:
    """A ``count``-layer Sequential whose shapes fit (conv, norm, activation, repeated)."""
    cycle = (
        "Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
        "BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
        "ReLU(inplace=True)",
    )
    body = "\n".join(f"  ({i}): {cycle[i % 3]}" for i in range(count))
    return f"Sequential(\n{body}\n)\n"


def time_once(case: Case) -> float:
    with case.stdin.open("rb") as stdin:
        start = time.perf_counter()
        done = subprocess.run(
            case.argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"exit {done.returncode}: {' '.join(last)}")
    return elapsed


def run_calculators(cnncli: str, work: Path, rounds: int) -> list[tuple[str, float | None, float]]:
    """Print the section's table; return (target name, median seconds, limit) per case."""
    stdin = work / "layers.txt"
    stdin.write_text(layer_lines(LAYERS))
    deep = work / "deep_model.txt"
    deep.write_text(deep_model(LAYERS))
    lines = f"{LAYERS:,} layer lines"
    python = str(Path(cnncli).parent / "python")
    cases = [
        Case(BASELINE, "", (python, "-c", "import typer"), stdin, 0.0),
        Case(
            f"cnncli params - < {lines}",
            f"params: {LAYERS:,} piped layers, seconds",
            (cnncli, "params", "-"),
            stdin,
            LIMIT_SECONDS,
        ),
        Case(
            f"cnncli params - --json < {lines}",
            f"params --json: {LAYERS:,} piped layers, seconds",
            (cnncli, "params", "-", "--json"),
            stdin,
            LIMIT_SECONDS,
        ),
        Case(
            f"cnncli summary - --input 8,16,16 < a {LAYERS:,}-layer model",
            f"summary: a {LAYERS:,}-layer model, seconds",
            (cnncli, "summary", "-", "--input", "8,16,16"),
            deep,
            LIMIT_SECONDS,
        ),
        *(
            Case(
                f"cnncli summary - --input 3,224,224 < {name}",
                f"summary {name} / {BASELINE}",
                (cnncli, "summary", "-", "--input", "3,224,224"),
                REPRS / f"{name}.txt",
                STARTUP_RATIO,
                ratio=True,
            )
            for name in ("resnet152", "vit_b_16")
        ),
    ]
    times: dict[str, list[float]] = {case.label: [] for case in cases}
    errors: dict[str, str] = {}
    for warm_up in (True, *([False] * rounds)):
        for case in cases:
            if case.label in errors:
                continue
            try:
                seconds = time_once(case)
            except (OSError, RuntimeError) as exc:
                errors[case.label] = str(exc)
                continue
            if not warm_up:
                times[case.label].append(seconds)
    width = max(len(case.label) for case in cases)
    print(f"\nCalculators: whole process, median of {rounds} runs after a warm-up")
    print(f"  {'command':<{width}}  {'median':>8}  {'min':>8}  {'max':>8}")
    print("  " + "-" * (width + 32))
    results = []
    medians: dict[str, float] = {}
    for case in cases:
        runs = times[case.label]
        if case.label in errors or not runs:
            print(f"  {case.label:<{width}}  FAILED {errors.get(case.label, 'no run')}")
            if case.target:
                results.append((case.target, None, case.limit))
            continue
        medians[case.label] = median = statistics.median(runs)
        print(f"  {case.label:<{width}}  {median:7.3f}s  {min(runs):7.3f}s  {max(runs):7.3f}s")
        if not case.target:
            continue
        if case.ratio:
            baseline = medians.get(BASELINE)
            results.append((case.target, None if not baseline else median / baseline, case.limit))
        else:
            results.append((case.target, median, case.limit))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per command (5)")
    parser.add_argument("--cnncli", help="cnncli executable (default: beside this Python)")
    args = parser.parse_args(argv)
    cnncli = args.cnncli or str(Path(sys.executable).parent / "cnncli")
    with tempfile.TemporaryDirectory(prefix="cnncli-bench-calc-") as tmp:
        results = run_calculators(cnncli, Path(tmp), args.rounds)
    failed = False
    for name, seconds, limit in results:
        verdict = "SKIP" if seconds is None else "PASS" if seconds <= limit else "MISS"
        failed |= verdict != "PASS"
        shown = "-" if seconds is None else f"{seconds:.3f}"
        print(f"  {name:<60} {shown:>9} <= {limit:g}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    sys.exit(main())

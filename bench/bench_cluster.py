"""Time batch mode on threads against ``--scheduler local``: the numbers in docs/cluster.md.

Not run by ``make docs`` (it takes minutes). Usage, from the repository with the dev
extras installed::

    .venv/bin/python bench/bench_cluster.py [--count 500] [--repeat 3] [--jobs 2]

Makes COUNT 512x512 grayscale PNGs (the bundled photo, resized, shifted and with a
little noise so that no two files are alike) in a temporary directory, then runs each
command REPEAT times into a fresh output directory and prints the median wall time of
the whole command, start-up included, as a user would measure it with ``time``, and
the batch's own time from its summary line (without start-up and cluster set-up).
The outputs of both ways are checked to be byte-identical.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "cnncli" / "data" / "chelsea.png"
CNNCLI = str(Path(sys.executable).parent / "cnncli")
FILTERS = (("sobel",), ("smooth", "--sigma", "8"))


def make_images(folder: Path, count: int) -> list[str]:
    import numpy as np
    from PIL import Image

    folder.mkdir()
    base = np.asarray(Image.open(SAMPLE).convert("L").resize((512, 512)), dtype=np.int16)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        shifted = np.roll(base, (i * 7 % 512, i * 13 % 512), axis=(0, 1))
        noisy = shifted + rng.integers(-4, 5, shifted.shape)
        path = folder / f"img{i:04d}.png"
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


def timed(args: list[str], out: Path) -> tuple[float, float]:
    """(wall time of the command, time of the batch itself from its summary line)."""
    started = time.perf_counter()
    done = subprocess.run(
        [CNNCLI, *args, "--out-dir", str(out)], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    match = re.search(r"files in ([0-9.]+) s", done.stderr)
    assert match, done.stderr
    return wall, float(match.group(1))


def same_outputs(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    options = parser.parse_args()
    import distributed

    print(f"date: {datetime.date.today()}")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}", end=", ")
    print(f"Python {platform.python_version()}, distributed {distributed.__version__}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{options.count} images 512x512 gray PNG, median of {options.repeat} runs\n")
    print("| command | threads `-j N` | `--scheduler local -j N` | dask / threads |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = make_images(work / "imgs", options.count)
        jobs = ["-j", str(options.jobs)]
        for command in FILTERS:
            ways = {"threads": [*jobs], "dask": [*jobs, "--scheduler", "local"]}
            times: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
            for run in range(options.repeat):
                for way, extra in ways.items():  # alternate, so drift hits both alike
                    out = work / f"{way}-{command[0]}-{run}"
                    times[way].append(timed([*command, *inputs, *extra], out))
            wall = {way: statistics.median(t[0] for t in times[way]) for way in ways}
            batch = {way: statistics.median(t[1] for t in times[way]) for way in ways}
            fastest = {way: min(t[0] for t in times[way]) for way in ways}
            name = " ".join(command)
            print(
                f"| `{name}` | {wall['threads']:.1f} s ({batch['threads']:.1f} s in the batch;"
                f" fastest {fastest['threads']:.1f} s) | {wall['dask']:.1f} s"
                f" ({batch['dask']:.1f} s in the batch; fastest {fastest['dask']:.1f} s)"
                f" | {wall['dask'] / wall['threads']:.2f}x |"
            )
            run0 = work / f"threads-{command[0]}-0", work / f"dask-{command[0]}-0"
            assert same_outputs(*run0), f"{name}: outputs differ"
            print(f"<!-- {name}: {times} -->")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""``make bench``: cnncli's filters against the tools people use instead, whole process.

Every command is timed as a separate process, from spawn to exit (interpreter start,
imports, decoding, filtering, encoding, writing), with its peak resident memory taken
from ``os.wait4``'s rusage. The commands of a section run interleaved, round after round,
so that whatever else the machine is doing slows all of them alike; the table shows the
median of the rounds (after one untimed warm-up run of each, for the page cache).

The inputs are the three of issue 8, made here in a temporary directory that is removed at
the end: a photograph-like 4096x4096 gray PNG (the bundled sample at twice its size,
mirror-tiled, with sensor-like noise so no two tiles are alike), the same at 4000x4000 in
RGB, and 500 small 256x256 crops of the gray one for the batch.

Tools that are not installed are skipped with a note: ``vips`` (Debian: libvips-tools),
ImageMagick (``magick`` or a ``convert`` that really is ImageMagick) and OpenCV (a Python
with ``cv2``, by default ``.venv-bench/bin/python``, which ``make bench`` creates).

Run with the project's virtualenv Python (it needs numpy and Pillow to make the inputs and
compare the outputs): ``.venv/bin/python bench/run_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "cnncli" / "data" / "chelsea.png"

# The reference scripts, as a user of scipy or OpenCV would write them (argv: IN OUT), kept
# as files under bench/contenders/ so that ruff checks them like the rest of the code.
CONTENDERS = REPO / "bench" / "contenders"
SEED_SOBEL = CONTENDERS / "seed_sobel.py"
SEED_SMOOTH_RGB = CONTENDERS / "seed_smooth_rgb.py"
SEED_GRADIENT = CONTENDERS / "seed_gradient.py"
SEED_SMOOTH = CONTENDERS / "seed_smooth.py"
CV_SOBEL = CONTENDERS / "cv_sobel.py"
CV_GRADIENT = CONTENDERS / "cv_gradient.py"
CV_SMOOTH = CONTENDERS / "cv_smooth.py"
CV_SMOOTH_RGB = CONTENDERS / "cv_smooth_rgb.py"
CV_SOBEL_RGB = CONTENDERS / "cv_sobel_rgb.py"


@dataclass(frozen=True)
class Command:
    """One contender: an argv, the file it writes (removed before each run), how often to run.

    ``images`` is how many images one run processes, for the batch's per-image rates.
    """

    label: str
    argv: tuple[str, ...]
    output: Path | None = None
    max_runs: int | None = None  # None: every round
    warm_up: bool = True
    images: int | None = None


@dataclass
class Measured:
    label: str
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    error: str | None = None
    out_bytes: int | None = None
    images: int | None = None

    @property
    def per_image(self) -> float:
        """Median seconds per image (the whole median for a single-image command)."""
        return self.median / (self.images or 1)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def rss_mib(self) -> float:
        return max(self.rss_kib) / 1024


@dataclass(frozen=True)
class Target:
    """``numerator / denominator`` (medians, or peak RSS) must be at most (or least) ``limit``."""

    name: str
    ratio: float | None
    limit: float
    at_least: bool = False
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.ratio is None:
            return None
        return self.ratio >= self.limit if self.at_least else self.ratio <= self.limit

    @property
    def verdict(self) -> str:
        return {None: "SKIP", True: "PASS", False: "MISS"}[self.met]


@dataclass(frozen=True)
class Tools:
    cnncli: str
    python: str
    vips: str | None
    magick: str | None
    cv_python: str | None
    notes: tuple[str, ...]


# ------------------------------------------------------------------- running ---


# A process's peak RSS as the kernel reports it (ru_maxrss) starts at the peak of the process
# it was forked from; forked from this script, with numpy and the images in memory, every
# command would show this script's size. So a small program forks each command and reports
# its rusage: GNU time if there is one, else this Python launcher (about 10 MB of its own).
LAUNCHER = REPO / "bench" / "rss_launcher.py"


def rss_wrapper(work: Path) -> tuple[list[str], str]:
    """argv prefix that runs a command and writes its peak RSS (KiB) to work/rss.txt."""
    rss = str(work / "rss.txt")
    gnu_time = Path("/usr/bin/time")
    if gnu_time.exists() and "GNU" in capture([str(gnu_time), "--version"]):
        return [str(gnu_time), "-f", "%M", "-o", rss], "GNU time (/usr/bin/time -f %M)"
    return [sys.executable, str(LAUNCHER), rss], "a Python fork/wait4 launcher (adds ~10 MB floor)"


def child_environment(work: Path) -> dict[str, str]:
    """This environment, with a bytecode cache for every Python that is measured.

    An installed package comes with compiled bytecode; in a checkout, and with
    PYTHONDONTWRITEBYTECODE set, every start would compile cnncli's modules again
    (~25 ms). A cache in the temporary directory, filled by the warm-up run, puts every
    Python contender on the footing of an installed package, and writes nothing elsewhere.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def run_once(
    argv: Sequence[str], cwd: Path, log: Path, wrapper: Sequence[str]
) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit status) of one command."""
    rss_file = Path(wrapper[-1])
    rss_file.unlink(missing_ok=True)
    with log.open("wb") as err:
        start = time.perf_counter()
        status = subprocess.call(
            [*wrapper, *argv],
            cwd=cwd,
            env=child_environment(cwd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        elapsed = time.perf_counter() - start
    try:
        rss = int(rss_file.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        rss = 0
    return elapsed, rss, status


def measure(
    commands: Sequence[Command], rounds: int, work: Path, wrapper: Sequence[str]
) -> dict[str, Measured]:
    """Warm up, then run the commands round-robin ``rounds`` times; failures are recorded."""
    results = {c.label: Measured(c.label, images=c.images) for c in commands}
    log = work / "stderr.log"

    def one(command: Command, keep: bool) -> None:
        result = results[command.label]
        if result.error:
            return
        if command.output is not None:
            command.output.unlink(missing_ok=True)
        seconds, rss, status = run_once(command.argv, work, log, wrapper)
        if status != 0:
            lines = log.read_text(errors="replace").strip().splitlines()
            result.error = f"exit {status}: {lines[-1] if lines else '(no message)'}"
            return
        if keep:
            result.times.append(seconds)
            result.rss_kib.append(rss)
        if command.output is not None and command.output.exists():
            result.out_bytes = command.output.stat().st_size

    for command in commands:
        if command.warm_up:
            one(command, keep=False)
    for _ in range(rounds):
        for command in commands:
            if command.max_runs is None or len(results[command.label].times) < command.max_runs:
                one(command, keep=True)
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return results


# ---------------------------------------------------------------- the inputs ---


def photo_like(size: int, mode: str = "L") -> np.ndarray:
    """A photograph's statistics at ``size`` x ``size``, gray (``"L"``) or ``"RGB"``.

    The bundled sample at twice its size (edges as a camera of that resolution sees them),
    mirror-tiled so there are no seams, plus Gaussian noise of sigma 2 levels in every
    channel, as a sensor adds: PNG encoders then see real photographic data, not repeated
    tiles. The same on every run.
    """
    from PIL import Image

    with Image.open(SAMPLE) as opened:
        picture = opened.convert(mode)
        picture = picture.resize((picture.width * 2, picture.height * 2), Image.Resampling.BICUBIC)
    base = np.asarray(picture)
    tile = np.concatenate(
        [
            np.concatenate([base, base[:, ::-1]], axis=1),
            np.concatenate([base[::-1], base[::-1, ::-1]], axis=1),
        ],
        axis=0,
    )
    reps = (-(-size // tile.shape[0]), -(-size // tile.shape[1])) + (1,) * (tile.ndim - 2)
    image = np.tile(tile, reps)[:size, :size].astype(np.float32)
    rng = np.random.default_rng(8 if mode == "L" else 4000)
    image += rng.normal(0.0, 2.0, image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def save_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array).save(path, compress_level=6)


def make_inputs(
    work: Path, size: int, rgb_size: int, count: int, small: int
) -> tuple[Path, Path, Path]:
    """The gray image, the RGB image and the folder of small gray crops for the batch."""
    big = photo_like(size)
    big_path = work / f"gray{size}.png"
    save_png(big, big_path)
    rgb_path = work / f"rgb{rgb_size}.png"
    save_png(photo_like(rgb_size, "RGB"), rgb_path)
    small_dir = work / "imgs"
    small_dir.mkdir()
    rng = np.random.default_rng(200)
    for i in range(count):
        y, x = rng.integers(0, size - small + 1, size=2)
        save_png(big[y : y + small, x : x + small], small_dir / f"img{i:04d}.png")
    return big_path, rgb_path, small_dir


# ----------------------------------------------------------------- the tools ---


def capture(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def find_on_path(name: str) -> list[str]:
    found = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(str(candidate))
    return found


def find_tools(cnncli: str | None, cv_python: str | None) -> Tools:
    notes: list[str] = []
    here = Path(sys.executable).parent
    cnncli = cnncli or (str(here / "cnncli") if (here / "cnncli").exists() else None)
    cnncli = cnncli or shutil.which("cnncli")
    if cnncli is None:
        sys.exit("run_bench: cnncli not found; run `make install` first")
    # Commands run in the temporary directory; abspath, not resolve: a venv's python is a link.
    cnncli = os.path.abspath(cnncli)

    vips = shutil.which("vips")
    if vips is None:
        notes.append(
            "vips: not installed, its rows are skipped (Debian: apt-get install libvips-tools)"
        )

    # A `convert` may be a stand-in or another program: only ImageMagick's says so.
    magick = None
    for candidate in [*find_on_path("magick"), *find_on_path("convert"), "/usr/bin/convert"]:
        if os.access(candidate, os.X_OK) and "Version: ImageMagick" in capture(
            [candidate, "-version"]
        ):
            magick = candidate
            break
    if magick is None:
        notes.append(
            "ImageMagick: not installed, its rows are skipped (Debian: apt-get install imagemagick)"
        )

    if cv_python is None:
        default = REPO / ".venv-bench" / "bin" / "python"
        cv_python = str(default) if default.exists() else None
    if cv_python is not None:
        cv_python = os.path.abspath(cv_python)
    if cv_python is not None and "ok" not in capture([cv_python, "-c", "import cv2; print('ok')"]):
        cv_python = None
    if cv_python is None:
        notes.append(
            "OpenCV: no Python with cv2 (make bench puts opencv-python-headless in .venv-bench/), "
            "its rows are skipped"
        )
    return Tools(cnncli, sys.executable, vips, magick, cv_python, tuple(notes))


def versions(tools: Tools) -> list[str]:
    import PIL
    import scipy

    def first_line(text: str) -> str:
        return text.strip().splitlines()[0] if text.strip() else "?"

    lines = [
        first_line(capture([tools.cnncli, "--version"])),
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"Pillow {PIL.__version__}",
        small_png_encoder(tools.cnncli),
    ]
    if tools.vips:
        lines.append(first_line(capture([tools.vips, "--version"])))
    if tools.magick:
        lines.append(first_line(capture([tools.magick, "-version"])).replace("Version: ", ""))
    if tools.cv_python:
        cv = capture([tools.cv_python, "-c", "import cv2; print(cv2.__version__)"])
        lines.append(f"OpenCV {first_line(cv)} (opencv-python-headless, bench venv)")
    return lines


def small_png_encoder(cnncli: str) -> str:
    """Which deflate writes the PNGs of small images for the cnncli under test (the Python
    beside its executable): libdeflate with the ``fast`` extra, else zlib."""
    python = Path(cnncli).parent / "python"
    if not python.exists():
        return "PNGs of small images: ? (no Python beside the cnncli executable)"
    found = capture(
        [
            str(python),
            "-c",
            "from cnncli.png import whole_deflater as w; import deflate as d;"
            "print(d.__version__ if w() else '')",
        ]
    ).strip()
    if not found:
        return "PNGs of small images: zlib (cnncli[fast] not installed)"
    return f"PNGs of small images: libdeflate (deflate {found}, cnncli[fast])"


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


# ------------------------------------------------------------------ sections ---


def script_command(label: str, python: str, script: Path, image: Path, target: Path) -> Command:
    """A contender script (argv: IN OUT) run by ``python`` on ``image``, writing ``target``."""
    return Command(label, (python, str(script), str(image), str(target)), target)


def filter_commands(
    kind: str, tools: Tools, work: Path, image: Path, slow_runs: int
) -> list[Command]:
    """The contenders for one filter on the big image: cnncli first, the seed script second."""
    out = work / "out"
    cnncli_args = {
        "sobel": ["sobel"],
        "gradient": ["gradient"],
        "smooth": ["smooth", "--sigma", "3"],
    }
    seed = {"sobel": SEED_SOBEL, "gradient": SEED_GRADIENT, "smooth": SEED_SMOOTH}[kind]
    cv = {"sobel": CV_SOBEL, "gradient": CV_GRADIENT, "smooth": CV_SMOOTH}[kind]
    commands = [
        Command(
            f"cnncli {' '.join(cnncli_args[kind])}",
            (tools.cnncli, *cnncli_args[kind], str(image), str(out / f"cnncli-{kind}.png")),
            out / f"cnncli-{kind}.png",
        ),
        script_command(
            "seed-style scipy script", tools.python, seed, image, out / f"seed-{kind}.png"
        ),
    ]
    if tools.vips:
        # vips has no central-difference gradient: its Sobel is the yardstick for both.
        vips_op = ["gaussblur"] if kind == "smooth" else ["sobel"]
        extra = ["3"] if kind == "smooth" else []
        target = out / f"vips-{kind}.png"
        commands.append(
            Command(
                f"vips {vips_op[0]}{' 3' if extra else ''}",
                (tools.vips, *vips_op, str(image), str(target), *extra),
                target,
            )
        )
    if tools.magick and kind in ("sobel", "smooth"):
        target = out / f"magick-{kind}.png"
        ops = (
            ["-define", "convolve:scale=!", "-morphology", "Convolve", "Sobel"]
            if kind == "sobel"
            else ["-gaussian-blur", "0x3"]
        )
        slow = kind == "smooth"
        commands.append(
            Command(
                "ImageMagick " + " ".join(ops).replace("scale=!", "scale='!'"),
                (tools.magick, str(image), *ops, str(target)),
                target,
                max_runs=slow_runs if slow else None,
                warm_up=not slow,
            )
        )
    if tools.cv_python:
        target = out / f"opencv-{kind}.png"
        label = {"sobel": "Sobel", "gradient": "filter2D", "smooth": "GaussianBlur"}[kind]
        commands.append(
            script_command(f"OpenCV script ({label})", tools.cv_python, cv, image, target)
        )
    return commands


def rgb_commands(kind: str, tools: Tools, work: Path, image: Path) -> list[Command]:
    """The contenders on the RGB image: smoothing keeps the colour, Sobel takes the luminance.

    ImageMagick is left out: its Gaussian blur takes about 15 s on the gray image alone, and
    its Sobel convolves each channel with one kernel, far from a luminance edge magnitude.
    """
    out = work / "out"
    ours = ["smooth", "--sigma", "3"] if kind == "smooth" else ["sobel"]
    seed = SEED_SMOOTH_RGB if kind == "smooth" else SEED_SOBEL
    commands = [
        Command(
            f"cnncli {' '.join(ours)}",
            (tools.cnncli, *ours, str(image), str(out / f"cnncli-rgb-{kind}.png")),
            out / f"cnncli-rgb-{kind}.png",
        ),
        script_command(
            "seed-style scipy script", tools.python, seed, image, out / f"seed-rgb-{kind}.png"
        ),
    ]
    if tools.vips and kind == "smooth":
        target = out / "vips-rgb-smooth.png"
        commands.append(
            Command(
                "vips gaussblur 3",
                (tools.vips, "gaussblur", str(image), str(target), "3"),
                target,
            )
        )
    elif tools.vips:
        # vips sobel on RGB filters each band; vips's own way to one gray band first is
        # colourspace b-w, through a .v file (vips's raw format: no encoding to speak of).
        target = out / "vips-rgb-sobel.png"
        commands.append(
            Command(
                "vips colourspace b-w, then vips sobel",
                (
                    "sh",
                    "-c",
                    '"$1" colourspace "$2" "$4" b-w && "$1" sobel "$4" "$3"',
                    "sh",
                    tools.vips,
                    str(image),
                    str(target),
                    str(work / "gray-from-rgb.v"),
                ),
                target,
            )
        )
    if tools.cv_python:
        target = out / f"opencv-rgb-{kind}.png"
        label = "GaussianBlur" if kind == "smooth" else "cvtColor gray, Sobel"
        cv = CV_SMOOTH_RGB if kind == "smooth" else CV_SOBEL_RGB
        commands.append(
            script_command(f"OpenCV script ({label})", tools.cv_python, cv, image, target)
        )
    return commands


def max_abs_diff(a: Path, b: Path) -> float:
    from PIL import Image

    with Image.open(a) as first, Image.open(b) as second:
        x = np.asarray(first).astype(np.int32)
        y = np.asarray(second).astype(np.int32)
    return float(np.max(np.abs(x - y)))


BATCH_LABEL = "cnncli sobel imgs/*.png --out-dir"


def batch_commands(
    tools: Tools, work: Path, small_dir: Path, loop_files: int, loop_runs: int
) -> list[Command]:
    """cnncli's batch mode, a shell loop of vips on every file, one of cnncli on the first few.

    A single ``cnncli sobel`` costs a Python start-up per file; over all 500 files that loop
    alone would take minutes, so it runs on the first ``loop_files`` of them.
    """
    files = sorted(str(p) for p in small_dir.glob("*.png"))
    commands = [
        Command(
            BATCH_LABEL,
            (tools.cnncli, "sobel", *files, "--out-dir", str(work / "batch-cnncli")),
            images=len(files),
        )
    ]
    loop = 'out=$1; tool=$2; shift 2; mkdir -p "$out"; for f; do {} || exit 1; done'
    if tools.vips:
        commands.append(
            Command(
                "shell loop: vips sobel per file",
                (
                    "sh",
                    "-c",
                    loop.format('"$tool" sobel "$f" "$out/${f##*/}"'),
                    "sh",
                    str(work / "batch-vips"),
                    tools.vips,
                    *files,
                ),
                max_runs=loop_runs,
                images=len(files),
            )
        )
    subset = files[:loop_files]
    commands.append(
        Command(
            "shell loop: cnncli sobel per file"
            + (f" (first {len(subset)})" if len(subset) < len(files) else ""),
            (
                "sh",
                "-c",
                loop.format('"$tool" sobel "$f" "$out/${f##*/}"'),
                "sh",
                str(work / "batch-loop"),
                tools.cnncli,
                *subset,
            ),
            max_runs=loop_runs,
            warm_up=False,
            images=len(subset),
        )
    )
    return commands


# The OpenCV batch as a user would write it: one process, two threads.
# argv: [--durable] KIND OUT_DIR FILE... (--durable: each output written as cnncli does)
CV_BATCH = CONTENDERS / "cv_batch.py"
DURABLE_CV_LABEL = "OpenCV script, 2 threads, durable writes"


SMOOTH_BATCH_LABEL = "cnncli smooth --sigma 3 imgs/*.png --out-dir"


def opencv_batch_commands(tools: Tools, work: Path, small_dir: Path) -> list[Command]:
    """cnncli's smoothing batch and the two-thread OpenCV script, for Sobel and smoothing:
    as a user would write it (``cv2.imwrite``, the file replaced in place) and, for a
    like-for-like comparison, writing each output as cnncli does (a temporary file,
    fsynced, renamed into place)."""
    files = sorted(str(p) for p in small_dir.glob("*.png"))
    commands = []
    for kind, args in (("sobel", ["sobel"]), ("smooth", ["smooth", "--sigma", "3"])):
        if kind == "smooth":  # cnncli's Sobel batch is batch_commands' first command
            commands.append(
                Command(
                    SMOOTH_BATCH_LABEL,
                    (tools.cnncli, *args, *files, "--out-dir", str(work / f"batch-{kind}")),
                    images=len(files),
                )
            )
        if tools.cv_python:
            commands.append(
                Command(
                    f"OpenCV script, 2 threads ({kind})",
                    (
                        tools.cv_python,
                        str(CV_BATCH),
                        kind,
                        str(work / f"batch-cv-{kind}"),
                        *files,
                    ),
                    images=len(files),
                )
            )
            commands.append(
                Command(
                    f"{DURABLE_CV_LABEL} ({kind})",
                    (
                        tools.cv_python,
                        str(CV_BATCH),
                        "--durable",
                        kind,
                        str(work / f"batch-cv-durable-{kind}"),
                        *files,
                    ),
                    images=len(files),
                )
            )
    return commands


# ---------------------------------------------------------- scaling and memory ---

# Enough for a 16384x16384 input: the default limit (Pillow's) stops at about 89.5 Mpx.
BIG_MAX_PIXELS = "300000000"
SCALING_KINDS = ("sobel", "smooth", "gradient")


def scaling_commands(tools: Tools, work: Path, image: Path, size: int) -> list[Command]:
    """cnncli, vips and the OpenCV script on one gray image: Sobel and sigma-3 smoothing,
    plus cnncli's gradient for its memory. From 8192x8192 up there is no warm-up run:
    the input was just written, so it is in the page cache, and each run takes seconds."""
    out = work / "out"
    commands: list[Command] = []
    for kind in SCALING_KINDS:
        ours = {"sobel": ["sobel"], "smooth": ["smooth", "--sigma", "3"], "gradient": ["gradient"]}
        target = out / f"scale-cnncli-{kind}.png"
        commands.append(
            Command(
                f"{size} cnncli {kind}",
                (
                    tools.cnncli,
                    *ours[kind],
                    "--max-pixels",
                    BIG_MAX_PIXELS,
                    str(image),
                    str(target),
                ),
                target,
            )
        )
        if kind == "gradient":
            continue
        if tools.vips:
            target = out / f"scale-vips-{kind}.png"
            op = (
                ["gaussblur", str(image), str(target), "3"]
                if kind == "smooth"
                else ["sobel", str(image), str(target)]
            )
            commands.append(Command(f"{size} vips {kind}", (tools.vips, *op), target))
        if tools.cv_python:
            target = out / f"scale-cv-{kind}.png"
            cv = CV_SMOOTH if kind == "smooth" else CV_SOBEL
            commands.append(
                script_command(f"{size} OpenCV {kind}", tools.cv_python, cv, image, target)
            )
    return [replace(c, warm_up=size < 8192) for c in commands]


def print_scaling(sizes: Sequence[int], results: dict[str, Measured]) -> list[Target]:
    """One row per size: time and peak RSS of each tool; the issue's targets from it."""
    tools = ("cnncli", "vips", "OpenCV")
    print("\nScaling: whole-process median seconds / peak RSS in MB, gray PNG input")
    for kind, title in (("sobel", "Sobel"), ("smooth", "smooth sigma 3")):
        head = f"  {title:<16}{'Mpx':>7}" + "".join(f"  {t:>18}" for t in tools)
        print(f"\n{head}\n  {'-' * (len(head) - 2)}")
        for size in sizes:
            cells = []
            for tool in tools:
                r = results.get(f"{size} {tool} {kind}")
                cells.append(f"{r.median:7.3f} s {r.rss_mib:6.0f} MB" if r and r.ok else "-")
            print(
                f"  {size}x{size:<{15 - len(str(size))}}{size * size / 1e6:7.1f}"
                + "".join(f"  {c:>18}" for c in cells)
            )
    print("\n  cnncli peak RSS in bytes per pixel (decoded gray input: 1 byte per pixel)")
    print(f"  {'size':<12}" + "".join(f"{k:>10}" for k in SCALING_KINDS))
    for size in sizes:
        row = []
        for kind in SCALING_KINDS:
            r = results.get(f"{size} cnncli {kind}")
            row.append(
                f"{max(r.rss_kib) * 1024 / size / size:10.2f}" if r and r.ok else f"{'-':>10}"
            )
        print(f"  {f'{size}x{size}':<12}" + "".join(row))
    targets = []
    for size in sizes:
        if size < 4096:
            continue
        ours = f"{size} cnncli smooth"
        targets += [
            Target(
                f"{size}: smooth time <= vips gaussblur",
                ratio(results, ours, f"{size} vips smooth"),
                1.0,
            ),
            Target(
                f"{size}: smooth time <= 1.3x OpenCV",
                ratio(results, ours, f"{size} OpenCV smooth"),
                1.3,
            ),
        ]
    largest = max(sizes)
    for kind in SCALING_KINDS:
        r = results.get(f"{largest} cnncli {kind}")
        per_pixel = max(r.rss_kib) * 1024 / largest / largest if r and r.ok else None
        targets.append(Target(f"{largest}: {kind} peak RSS bytes/pixel", per_pixel, 3.0))
    return targets


def rgba_commands(tools: Tools, work: Path, image: Path) -> list[Command]:
    """All four image commands on one RGBA image, for their peak memory."""
    out = work / "out"
    variants = (
        ["smooth", "--sigma", "3"],
        ["sobel"],
        ["sobel", "--per-channel"],
        ["gradient"],
        ["gradient", "--per-channel"],
        ["pool", "--k", "2"],
        ["pool", "--k", "2", "--op", "avg"],
    )
    commands = []
    for i, args in enumerate(variants):
        target = out / f"rgba-{i}.png"
        commands.append(
            Command(
                f"cnncli {' '.join(args)}",
                (tools.cnncli, *args, str(image), str(target)),
                target,
                warm_up=False,  # one run each: peak memory does not depend on the page cache
            )
        )
    return commands


def print_rgba(size: int, results: dict[str, Measured]) -> list[Target]:
    decoded = size * size * 4
    print(f"\nPeak memory on a {size}x{size} RGBA PNG (decoded: {decoded / 1e6:.0f} MB)")
    print(f"  {'command':<32}{'median s':>9}{'peak RSS':>10}{'x decoded':>11}")
    print("  " + "-" * 62)
    targets = []
    for r in results.values():
        if not r.ok:
            print(f"  {r.label:<32}FAILED {r.error}")
            continue
        multiple = max(r.rss_kib) * 1024 / decoded
        print(f"  {r.label:<32}{r.median:9.2f}{r.rss_mib:7.0f} MB{multiple:10.2f}x")
        targets.append(Target(f"RGBA {size}: {r.label} peak / decoded", multiple, 3.5))
    return targets


def save_scaling(path: Path, sizes: Sequence[int], results: dict[str, Measured]) -> None:
    """Medians and peak RSS per size and command, for docs/gen's plot."""
    import json

    rows = [
        {"size": n, "tool": tool, "kind": kind, "seconds": r.median, "rss_mb": r.rss_mib}
        for n in sizes
        for tool in ("cnncli", "vips", "OpenCV")
        for kind in SCALING_KINDS
        if (r := results.get(f"{n} {tool} {kind}")) is not None and r.ok
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "rows": rows}, indent=1
        )
        + "\n"
    )


def rgba_photo(size: int) -> np.ndarray:
    """The RGB photo-like image with an alpha plane of diagonal stripes."""
    rgb = photo_like(size, "RGB")
    rows = np.arange(size, dtype=np.uint32)[:, None]
    alpha = ((rows * 7 + np.arange(size, dtype=np.uint32)[None, :] * 3) % 256).astype(np.uint8)
    return np.dstack([rgb, alpha])


# ------------------------------------------------------------------- reports ---


# A table column: header, width, and the cell of one command's measurement.
Column = tuple[str, int, Callable[[Measured], str]]

TIME_COLUMNS: tuple[Column, ...] = (
    ("median s", 8, lambda r: f"{r.median:.3f}"),
    ("runs", 4, lambda r: str(len(r.times))),
    ("peak RSS", 8, lambda r: f"{r.rss_mib:5.0f} MB"),
)
FILTER_COLUMNS: tuple[Column, ...] = (
    *TIME_COLUMNS,
    ("output", 7, lambda r: f"{r.out_bytes / 1e6:.1f} MB" if r.out_bytes is not None else "-"),
)
# Per image: the commands of a batch need not process the same number of files.
BATCH_COLUMNS: tuple[Column, ...] = (
    ("files", 5, lambda r: str(r.images or 1)),
    *TIME_COLUMNS,
    ("ms/image", 8, lambda r: f"{1000 * r.per_image:.1f}"),
    ("images/s", 8, lambda r: f"{1 / r.per_image:.1f}"),
)


def print_table(
    title: str,
    results: dict[str, Measured],
    base: str,
    columns: Sequence[Column] = FILTER_COLUMNS,
) -> None:
    """One row per command, ending with its time per image relative to ``base``'s."""
    width = max(len(label) for label in results)
    head = f"  {'command':<{width}}"
    head += "".join(f"  {name:>{size}}" for name, size, _ in columns) + f"  {'vs cnncli':>9}"
    print(f"\n{title}\n{head}\n  {'-' * (len(head) - 2)}")
    reference = results.get(base)
    for r in results.values():
        if not r.ok:
            print(f"  {r.label:<{width}}  FAILED {r.error}")
            continue
        ratio = f"{r.per_image / reference.per_image:.2f}x" if reference and reference.ok else "-"
        cells = "".join(f"  {cell(r):>{size}}" for _, size, cell in columns)
        print(f"  {r.label:<{width}}{cells}  {ratio:>9}")


def ratio(results: dict[str, Measured], a: str, b: str | None, rss: bool = False) -> float | None:
    """a / b: peak RSS, or median seconds per image (per run, for one-image commands)."""
    if b is None or a not in results or b not in results:
        return None
    x, y = results[a], results[b]
    if not (x.ok and y.ok):
        return None
    return x.rss_mib / y.rss_mib if rss else x.per_image / y.per_image


def label_starting(results: dict[str, Measured], prefix: str) -> str | None:
    return next((k for k in results if k.startswith(prefix)), None)


def filter_targets(kind: str, results: dict[str, Measured]) -> list[Target]:
    ours = next(iter(results))
    seed = "seed-style scipy script"
    cv = label_starting(results, "OpenCV")
    targets = []
    if kind in ("sobel", "gradient"):
        vips = label_starting(results, "vips sobel")
        targets += [
            Target(f"{kind}: time <= vips sobel", ratio(results, ours, vips), 1.0),
            Target(f"{kind}: time <= 1.5x OpenCV script", ratio(results, ours, cv), 1.5),
        ]
    else:
        vips = label_starting(results, "vips gaussblur")
        targets.append(
            Target("smooth: time <= 1.3x vips gaussblur", ratio(results, ours, vips), 1.3)
        )
    speedup = ratio(results, seed, ours)
    targets.append(Target(f"{kind}: >= 2x faster than seed-style", speedup, 2.0, at_least=True))
    if kind == "sobel":
        targets.append(
            Target("sobel: peak RSS <= 0.5x seed-style", ratio(results, ours, seed, rss=True), 0.5)
        )
    return targets


def rgb_ratios(kind: str, results: dict[str, Measured]) -> list[Target]:
    """The gray image's targets, computed on the RGB image: for information only."""
    ours = next(iter(results))
    seed = "seed-style scipy script"
    cv = label_starting(results, "OpenCV")
    if kind == "smooth":
        vips = label_starting(results, "vips gaussblur")
        first = Target("RGB smooth: time / vips gaussblur", ratio(results, ours, vips), 1.3)
    else:
        vips = label_starting(results, "vips colourspace")
        first = Target("RGB sobel: time / vips b-w + sobel", ratio(results, ours, vips), 1.0)
    return [
        first,
        Target(f"RGB {kind}: time / OpenCV script", ratio(results, ours, cv), 1.5),
        Target(f"RGB {kind}: seed-style time / cnncli", ratio(results, seed, ours), 2.0, True),
        Target(f"RGB {kind}: peak RSS / seed-style", ratio(results, ours, seed, rss=True), 0.5),
    ]


def print_targets(targets: Sequence[Target], title: str = "Targets (issue 8)") -> None:
    print(f"\n{title}")
    print(f"  {'target':<58} {'measured':>9} {'limit':>7}  verdict")
    print("  " + "-" * 84)
    for t in targets:
        measured = f"{t.ratio:.3f}" if t.ratio is not None else "-"
        limit = (">= " if t.at_least else "<= ") + f"{t.limit:g}"
        note = f"  ({t.note})" if t.note else ""
        print(f"  {t.name:<58} {measured:>9} {limit:>7}  {t.verdict}{note}")


def print_informational(rows: Sequence[Target]) -> None:
    print("\nRatios on the RGB image (no target in the issue; the gray image's limit for scale)")
    print(f"  {'ratio':<46} {'measured':>9} {'gray limit':>10}  within it")
    print("  " + "-" * 78)
    for t in rows:
        measured = f"{t.ratio:.3f}" if t.ratio is not None else "-"
        limit = (">= " if t.at_least else "<= ") + f"{t.limit:g}"
        within = {None: "-", True: "yes", False: "no"}[t.met]
        print(f"  {t.name:<46} {measured:>9} {limit:>10}  {within}")


# --------------------------------------------------------------- model files ---


def model_file_targets(
    tools: Tools, work: Path, wrapper: Sequence[str], rounds: int, megabytes: int
) -> list[Target]:
    """``cnncli params`` on a torch.save checkpoint and a safetensors file of ``megabytes``
    (made by bench/model_files.py), next to its start-up on a layer text."""
    from model_files import make_safetensors, make_torch_checkpoint

    checkpoint, weights = work / "model.pt", work / "model.safetensors"
    count = make_torch_checkpoint(checkpoint, megabytes)
    make_safetensors(weights, megabytes)
    size = checkpoint.stat().st_size / 1e6
    commands = [
        Command(
            f"cnncli params model.pt ({size:.0f} MB)", (tools.cnncli, "params", str(checkpoint))
        ),
        Command(
            f"cnncli params model.safetensors ({weights.stat().st_size / 1e6:.0f} MB)",
            (tools.cnncli, "params", str(weights)),
        ),
        Command("cnncli params 'Conv2d(3, 64, 3)'", (tools.cnncli, "params", "Conv2d(3, 64, 3)")),
    ]
    results = measure(commands, rounds, work, wrapper)
    print_table(
        f"Model files: {count:,} float32 parameters, headers only", results, commands[0].label
    )
    targets = []
    for command in commands[:2]:
        result = results[command.label]
        name = command.label.split(" (")[0].removeprefix("cnncli ")
        targets += [
            Target(f"{name}: seconds", result.median if result.ok else None, 1.0),
            Target(f"{name}: peak RSS (MB)", result.rss_mib if result.ok else None, 100.0),
        ]
    checkpoint.unlink()
    weights.unlink()
    return targets


# ---------------------------------------------------------------------- main ---


SECTIONS = ("filters", "rgb", "startup", "calculators", "batch", "scaling", "rgba")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1024px gray, 1000px RGB, 2 rounds, 20 small images",
    )
    parser.add_argument("--rounds", type=int, help="timed runs per command (default 5; quick 2)")
    parser.add_argument(
        "--size", type=int, help="side of the gray image (default 4096; quick 1024)"
    )
    parser.add_argument(
        "--rgb-size", type=int, help="side of the RGB image (default 4000; quick 1000)"
    )
    parser.add_argument("--batch", type=int, help="number of small images (default 500; quick 20)")
    parser.add_argument("--small", type=int, default=256, help="side of the small images (256)")
    parser.add_argument(
        "--loop-files",
        type=int,
        default=100,
        help="files for the shell loop of single cnncli calls (default 100; 0: all)",
    )
    parser.add_argument(
        "--model-mb", type=int, help="size of the generated checkpoints (default 512; quick 64)"
    )
    parser.add_argument("--cnncli", help="cnncli executable (default: beside this Python)")
    parser.add_argument(
        "--opencv-python", help="a Python with cv2 (default .venv-bench/bin/python)"
    )
    parser.add_argument(
        "--scaling-sizes",
        help="sides of the gray images of the scaling table (default 1024,4096,8192,16384; "
        "quick 256,1024)",
    )
    parser.add_argument(
        "--scaling-rounds", type=int, help="timed runs per command and size (default 3; quick 1)"
    )
    parser.add_argument(
        "--rgba-size", type=int, help="side of the RGBA memory image (default 9400; quick 1000)"
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated sections to run (default all): {','.join(SECTIONS)}",
    )
    parser.add_argument("--save", help="write the scaling results as JSON here (for the plot)")
    args = parser.parse_args(argv)
    only = set(SECTIONS if args.only is None else args.only.split(","))
    if only - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(only - set(SECTIONS)))}")

    rounds = args.rounds or (2 if args.quick else 5)
    args.model_mb = args.model_mb or (64 if args.quick else 512)
    size = args.size or (1024 if args.quick else 4096)
    rgb_size = args.rgb_size or (1000 if args.quick else 4000)
    count = args.batch or (20 if args.quick else 500)
    small = min(args.small, size)
    loop_files = min(args.loop_files or count, count)
    scaling_sizes = [
        int(n)
        for n in (
            args.scaling_sizes or ("256,1024" if args.quick else "1024,4096,8192,16384")
        ).split(",")
    ]
    scaling_rounds = args.scaling_rounds or (1 if args.quick else 3)
    rgba_size = args.rgba_size or (1000 if args.quick else 9400)
    tools = find_tools(args.cnncli, args.opencv_python)

    print(f"cnncli benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    for line in versions(tools):
        print(f"  {line}")
    print(
        f"inputs (photo-like, see bench/run_bench.py): {size}x{size} 8-bit gray PNG; "
        f"{rgb_size}x{rgb_size} 8-bit RGB PNG; {count} gray PNGs of {small}x{small} for the batch"
    )
    print(f"whole-process wall time, median of {rounds} interleaved runs after a warm-up; peak RSS")
    for note in tools.notes:
        print(f"  skipped: {note}")

    targets: list[Target] = []
    issue17: list[Target] = []
    informational: list[Target] = []
    exactness: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cnncli-bench-") as tmp:
        work = Path(tmp)
        (work / "out").mkdir()
        wrapper, how = rss_wrapper(work)
        print(f"peak RSS measured with {how}")
        print("making inputs...", file=sys.stderr)
        if only & {"filters", "rgb", "batch"}:
            image, rgb_image, small_dir = make_inputs(work, size, rgb_size, count, small)

        def check(name: str, commands: Sequence[Command], results: dict[str, Measured]) -> None:
            """cnncli's output (the first command) against the seed-style script's (second)."""
            ours, seed = results[commands[0].label], results[commands[1].label]
            if ours.ok and seed.ok and commands[0].output and commands[1].output:
                diff = max_abs_diff(commands[0].output, commands[1].output)
                exactness.append(f"{name}: max |cnncli - seed-style| = {diff:g} grey levels")
                targets.append(Target(f"{name}: within 1 grey level of seed-style", diff, 1.0))

        if "filters" in only:
            for kind, title in (
                ("sobel", "Sobel magnitude"),
                ("gradient", "Gradient magnitude ([-1, 0, 1])"),
                ("smooth", "Gaussian smoothing, sigma 3"),
            ):
                print(f"{kind}", end=" ", file=sys.stderr, flush=True)
                commands = filter_commands(kind, tools, work, image, slow_runs=1)
                results = measure(commands, rounds, work, wrapper)
                print_table(f"{title}, {size}x{size} gray", results, commands[0].label)
                targets += filter_targets(kind, results)
                check(kind, commands, results)

        if "rgb" in only:
            for kind, title in (
                ("smooth", "Gaussian smoothing, sigma 3, of every channel"),
                ("sobel", "Sobel magnitude of the luminance"),
            ):
                print(f"RGB {kind}", end=" ", file=sys.stderr, flush=True)
                commands = rgb_commands(kind, tools, work, rgb_image)
                results = measure(commands, rounds, work, wrapper)
                print_table(f"{title}, {rgb_size}x{rgb_size} RGB", results, commands[0].label)
                informational += rgb_ratios(kind, results)
                check(f"RGB {kind}", commands, results)

        if "startup" in only:
            print("start-up", end=" ", file=sys.stderr, flush=True)
            startup = measure(
                [
                    Command(
                        "cnncli outsize --lin 224 --k 11 --s 4 --p 2",
                        (
                            tools.cnncli,
                            "outsize",
                            "--lin",
                            "224",
                            "--k",
                            "11",
                            "--s",
                            "4",
                            "--p",
                            "2",
                        ),
                    ),
                    Command('python -c "import typer"', (tools.python, "-c", "import typer")),
                ],
                rounds * 6,  # cheap, and close to its limit: more runs
                work,
                wrapper,
            )
            print_table("Start-up", startup, next(iter(startup)))
            cnncli_start, typer_start = list(startup)
            targets.append(
                Target(
                    "outsize: time <= 1.3x python -c 'import typer'",
                    ratio(startup, cnncli_start, typer_start),
                    1.3,
                )
            )

        if "calculators" in only:
            from calculators import run_calculators  # issue 15's section, bench/calculators.py

            targets += [Target(*result) for result in run_calculators(tools.cnncli, work, rounds)]

            print("model files", end=" ", file=sys.stderr, flush=True)
            targets += model_file_targets(tools, work, wrapper, rounds, args.model_mb)

        if "batch" in only:
            print("batch", end=" ", file=sys.stderr, flush=True)
            # The shell loops take a minute a run: they run fewer rounds than the batches,
            # whose ratio against the OpenCV script moved by ±15% over two runs.
            loop_runs = max(1, rounds // 2)
            commands = batch_commands(tools, work, small_dir, loop_files, loop_runs=loop_runs)
            commands += opencv_batch_commands(tools, work, small_dir)
            batch = measure(commands, rounds, work, wrapper)
            title = f"Batch: {count} gray PNGs of {small}x{small}, Sobel and smoothing"
            print_table(title, batch, BATCH_LABEL, BATCH_COLUMNS)
            if loop_files < count:
                print(
                    f"  the loop of single cnncli calls runs on the first {loop_files} files only "
                    "(a Python start-up per file); compare it per image"
                )
            vips_loop = label_starting(batch, "shell loop: vips")
            targets.append(
                Target(
                    "batch: time <= shell loop of vips sobel",
                    ratio(batch, BATCH_LABEL, vips_loop),
                    1.0,
                )
            )
            like_for_like = []
            for label, kind in ((BATCH_LABEL, "sobel"), (SMOOTH_BATCH_LABEL, "smooth")):
                cv_label = label_starting(batch, f"OpenCV script, 2 threads ({kind})")
                targets.append(
                    Target(
                        f"batch {kind}: time <= OpenCV script, 2 threads",
                        ratio(batch, label, cv_label),
                        1.0,
                    )
                )
                durable = ratio(batch, label, label_starting(batch, f"{DURABLE_CV_LABEL} ({kind})"))
                if durable is not None:
                    like_for_like.append(f"{kind} {durable:.2f}x")
            if like_for_like:
                print(
                    "  cnncli against the OpenCV script writing as cnncli does (temporary file, "
                    f"fsync, rename; no target): {', '.join(like_for_like)}"
                )

        if "scaling" in only:
            scaling: dict[str, Measured] = {}
            for side in scaling_sizes:
                print(f"scaling {side}", end=" ", file=sys.stderr, flush=True)
                path = work / f"scale{side}.png"
                save_png(photo_like(side), path)
                commands = scaling_commands(tools, work, path, side)
                scaling.update(measure(commands, scaling_rounds, work, wrapper))
                path.unlink()
                for command in commands:
                    if command.output is not None:
                        command.output.unlink(missing_ok=True)
            issue17 += print_scaling(scaling_sizes, scaling)
            if args.save:
                save_scaling(Path(args.save), scaling_sizes, scaling)

        if "rgba" in only:
            print("RGBA", end=" ", file=sys.stderr, flush=True)
            path = work / f"rgba{rgba_size}.png"
            save_png(rgba_photo(rgba_size), path)
            rgba = measure(rgba_commands(tools, work, path), 1, work, wrapper)
            issue17 += print_rgba(rgba_size, rgba)

    print("\nExactness (8-bit outputs, cnncli vs the seed-style float64 script)")
    for line in exactness:
        print(f"  {line}")
    if informational:
        print_informational(informational)
    if targets:
        print_targets(targets)
    if issue17:
        print_targets(issue17, "Targets (issues 16 and 17)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A seeded mutation test: a few hundred damaged files through every image command.

Valid images in odd modes and formats (1-bit, palette with transparency, 16-bit and float
gray, CMYK, gray+alpha, RGBA; PNG, TIFF, JPEG, GIF, BMP, WebP) are truncated, have bytes
flipped, PNG chunk lengths and CRCs tampered with and headers made to lie, by a random
generator with a fixed seed. Each file goes through smooth, gradient, sobel and pool in
this process. The only outcomes allowed: exit 0 with a readable image (and at most one
``warning:`` line), or exit 2 with exactly one ``error:`` line and no output file left;
nothing written to file descriptor 2 past them (libtiff prints there on its own).
"""

from __future__ import annotations

import io
import random
import signal
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SEED = 20261130
FILES = 240
CASE_SECONDS = 20  # a bound against a hang on a loaded machine, not a speed target
MAX_PIXELS = "4096"  # lying headers are refused by the limits, not by running out of memory

COMMANDS = {
    "smooth": ["smooth", "--sigma", "1.5"],
    "gradient": ["gradient"],
    "sobel": ["sobel", "--per-channel"],
    "pool": ["pool", "--k", "2", "--op", "avg"],
}


@dataclass(frozen=True)
class Case:
    name: str  # seed image and mutation, to reproduce a failure
    ext: str
    data: bytes


def _seeds() -> list[tuple[str, str, bytes]]:
    """(name, extension, bytes) of small valid images in the modes and formats to damage."""
    rng = np.random.default_rng(SEED)
    rgb = rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)
    gray = rgb[:, :, 0]
    images: list[tuple[str, str, Image.Image, dict[str, object]]] = [
        ("1-bit", "png", Image.fromarray(gray > 127), {}),
        ("L", "png", Image.fromarray(gray), {}),
        ("LA", "png", Image.fromarray(rgb[:, :, :2].copy(), "LA"), {}),
        ("RGB", "png", Image.fromarray(rgb), {}),
        ("RGBA", "png", Image.fromarray(np.dstack([rgb, gray]), "RGBA"), {}),
        ("I;16", "png", Image.fromarray(gray.astype(np.uint16) * 257), {}),
        ("P+transparency", "png", Image.fromarray(rgb).quantize(8), {"transparency": 2}),
        ("F", "tif", Image.fromarray(gray.astype(np.float32) / 3), {}),
        ("CMYK", "tif", Image.fromarray(rgb).convert("CMYK"), {}),
        ("I;16 tiff", "tif", Image.fromarray(gray.astype(np.uint16) * 200), {}),
        ("1-bit tiff", "tif", Image.fromarray(gray > 127), {"compression": "tiff_deflate"}),
        ("CMYK jpeg", "jpg", Image.fromarray(rgb).convert("CMYK"), {}),
        ("RGB jpeg", "jpg", Image.fromarray(rgb), {"exif": _exif()}),
        ("P gif", "gif", Image.fromarray(rgb).quantize(16), {}),
        ("RGB bmp", "bmp", Image.fromarray(rgb), {}),
        ("RGBA webp", "webp", Image.fromarray(np.dstack([rgb, gray]), "RGBA"), {}),
    ]
    seeds = []
    for name, ext, image, options in images:
        buffer = io.BytesIO()
        image.save(buffer, format={"jpg": "JPEG", "tif": "TIFF"}.get(ext, ext.upper()), **options)
        seeds.append((name, ext, buffer.getvalue()))
    return seeds


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotated, so exif_transpose has work to do
    exif[0x010E] = "a description long enough to live outside the entry"
    return exif.tobytes()


def _png_chunks(data: bytes) -> Iterator[tuple[int, int]]:
    """(offset, length) of each chunk of a PNG, as far as its structure holds."""
    at = 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        yield at, length
        at += 12 + length


def _truncate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    cut = rng.randrange(len(data))
    return f"truncated at {cut}", data[:cut]


def _flip(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    mutated = bytearray(data)
    spots = [rng.randrange(len(data)) for _ in range(rng.randint(1, 6))]
    for spot in spots:
        mutated[spot] ^= 1 << rng.randrange(8)
    return f"bits flipped at {spots}", bytes(mutated)


def _header_noise(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    mutated = bytearray(data)
    spot = rng.randrange(min(len(data), 64))
    mutated[spot] = rng.randrange(256)
    return f"header byte {spot} replaced", bytes(mutated)


def _chunk_length(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    chunks = list(_png_chunks(data))
    if not chunks:
        return _flip(data, rng)
    at, length = rng.choice(chunks)
    new = rng.choice([0, 1, length - 1, length + 1, 2**31 - 1, 2**32 - 1, rng.randrange(2**32)])
    new = max(0, min(new, 2**32 - 1))
    mutated = data[:at] + struct.pack(">I", new) + data[at + 4 :]
    return f"chunk at {at}: length {length} -> {new}", mutated


def _crc(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    chunks = list(_png_chunks(data))
    if not chunks:
        return _flip(data, rng)
    at, length = rng.choice(chunks)
    crc_at = at + 8 + length
    mutated = bytearray(data)
    if crc_at + 4 <= len(data):
        mutated[crc_at : crc_at + 4] = struct.pack(">I", rng.randrange(2**32))
    return f"chunk at {at}: CRC replaced", bytes(mutated)


def _lying_size(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """A PNG whose IHDR claims another size (with a correct CRC, so only the size lies)."""
    if not data.startswith(b"\x89PNG"):
        return _header_noise(data, rng)
    width = rng.choice([0, 1, 3, 65535, 89_478_485, 2**31 - 1, rng.randrange(1, 100_000)])
    height = rng.choice([0, 1, 2, 9, 100_000, rng.randrange(1, 100_000)])
    ihdr = struct.pack(">II", width, height) + data[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return f"IHDR claims {width}x{height}", data[:16] + ihdr + crc + data[33:]


def _lying_depth(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """A PNG whose IHDR claims another bit depth / colour type (CRC fixed)."""
    if not data.startswith(b"\x89PNG"):
        return _truncate(data, rng)
    depth, colour = rng.choice([1, 2, 4, 8, 16, 3, 0]), rng.choice([0, 2, 3, 4, 6, 1, 7])
    ihdr = data[16:24] + bytes([depth, colour]) + data[26:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return f"IHDR claims depth {depth}, colour type {colour}", data[:16] + ihdr + crc + data[33:]


MUTATIONS: list[Callable[[bytes, random.Random], tuple[str, bytes]]] = [
    _truncate,
    _flip,
    _header_noise,
    _chunk_length,
    _crc,
    _lying_size,
    _lying_depth,
]


def mutated_files() -> list[Case]:
    rng = random.Random(SEED)
    seeds = _seeds()
    cases = [Case(f"{name} (intact)", ext, data) for name, ext, data in seeds]
    while len(cases) < FILES:
        name, ext, data = rng.choice(seeds)
        mutate = rng.choice(MUTATIONS)
        what, mutated = mutate(data, rng)
        cases.append(Case(f"{name}: {what}", ext, mutated))
    return cases


CASES = mutated_files()


class CaseTimeout(BaseException):
    """Raised in the main thread when one case runs past CASE_SECONDS (not an Exception,
    so that nothing in cnncli can take it for a failure of its own)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise CaseTimeout(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_outcome(result, out: Path) -> str | None:
    """What is wrong with one run's outcome, or None."""
    lines = result.stderr.splitlines()
    if result.exit_code == 0:
        if len(lines) > 1 or (lines and not lines[0].startswith("warning: ")):
            return f"exit 0 with stderr {lines!r}"
        try:
            with Image.open(out) as image:
                image.load()
        except Exception as exc:
            return f"exit 0 but the output does not load: {exc!r}"
        return None
    if result.exit_code != 2:
        return f"exit {result.exit_code}: {result.stderr!r} {result.exception!r}"
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return f"exit 2 with stderr {lines!r}"
    left = sorted(p.name for p in out.parent.iterdir())
    if left:
        return f"exit 2 but files were left: {left}"
    return None


@pytest.mark.parametrize("command", COMMANDS)
def test_damaged_files_give_an_image_or_one_error_line(run_cli, capfd, tmp_path, command) -> None:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    problems = []
    outcomes = {0: 0, 2: 0}
    for index, case in enumerate(CASES):
        source = inputs / f"in.{case.ext}"
        source.write_bytes(case.data)
        out = outputs / "out.png"
        args = [*COMMANDS[command], str(source), str(out), "--max-pixels", MAX_PIXELS, "-j", "1"]
        with time_limit(CASE_SECONDS):
            result = run_cli(*args)
        problem = check_outcome(result, out)
        # What C code (libtiff) wrote to file descriptor 2 itself, past sys.stderr.
        stray = capfd.readouterr().err
        if stray:
            problem = f"{problem or ''} and raw stderr {stray!r}"
        if problem:
            problems.append(f"#{index} {case.name}: {problem}")
        outcomes[result.exit_code] = outcomes.get(result.exit_code, 0) + 1
        for path in [*inputs.iterdir(), *outputs.iterdir()]:
            path.unlink()
    assert not problems, "\n".join(problems[:20])
    # The mutations reach both outcomes: a test that only ever saw one would check little.
    assert outcomes[0] > 20 and outcomes[2] > 100, outcomes

"""File in, filter, file out: the steps every image command shares.

The CLI builds an :class:`IOOptions` and a filter function (a core call); this module
reads, filters, converts the bit depth and writes atomically, and is what batch mode
runs once per file. Light to import: numpy and Pillow load only when a file is processed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cnncli.core.errors import UserError
from cnncli.imageio import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS, sample_path

if TYPE_CHECKING:
    import numpy as np

    from cnncli.core.edges import EdgeResult
    from cnncli.core.pool import PoolSpec

# (image array, output bit depth, threads or None for all cores)
#   -> (uint8 or uint16 image of that depth, a warning or None)
ImageFilter = Callable[["np.ndarray", int, "int | None"], "tuple[np.ndarray, str | None]"]


@dataclass(frozen=True)
class IOOptions:
    """How to read and write, independent of which filter runs."""

    depth: int | None = None
    format: str | None = None
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    no_clobber: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.depth not in (None, 8, 16):
            raise UserError(f"--depth must be 8 or 16, got {self.depth}")
        if not 0 <= self.compress_level <= 9:
            raise UserError(f"--compress-level must be 0..9, got {self.compress_level}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise UserError(f"--max-pixels must be positive, got {self.max_pixels}")


def single_job(paths: list[str], sample: bool) -> tuple[str, str]:
    """``IN OUT``, or ``--sample OUT``: which file to read and which to write."""
    if sample:
        if len(paths) != 1:
            raise UserError(
                "with --sample give only the output file", hint="cnncli sobel --sample out.png"
            )
        return str(sample_path()), paths[0]
    if len(paths) != 2:
        raise UserError(
            f"expected INPUT and OUTPUT, got {len(paths)} path(s)",
            hint="use - for stdin/stdout, or --sample for the bundled photo",
        )
    return paths[0], paths[1]


def batch_inputs(paths: list[str], sample: bool) -> list[str]:
    """The inputs of a batch (``--out-dir``): the paths, or the bundled photo with --sample."""
    if sample:
        if paths:
            raise UserError("with --sample and --out-dir give no other paths")
        return [str(sample_path())]
    return paths


def out_max(bits: int) -> float:
    return float((1 << bits) - 1)


def bits_of(image: np.ndarray) -> int:
    import numpy as np

    return 16 if image.dtype == np.uint16 else 8


def run_filter(
    source: str | Path,
    dest: str | Path,
    apply: ImageFilter,
    options: IOOptions,
    *,
    luminance: bool = False,
    threads: int | None = None,
) -> str | None:
    """Read ``source``, filter, write ``dest``; returns the filter's warning, if any."""
    from cnncli.imageio import check_output, read_image, write_image

    check_output(dest, no_clobber=options.no_clobber)
    image, meta = read_image(source, luminance=luminance, max_pixels=options.max_pixels)
    bits = options.depth or meta.bits
    result, warning = apply(image, bits, threads)
    del image  # the output is all that is needed from here: its memory can go
    write_image(
        result,
        dest,
        meta,
        format=options.format,
        compress_level=options.compress_level,
        no_clobber=options.no_clobber,
        threads=threads,
    )
    return warning


def smoothing_filter(sigma: Sequence[float], *, mode: str, truncate: float) -> ImageFilter:
    """Gaussian smoothing of every channel (alpha too), rescaled if the depth changes."""
    from cnncli.core.smoothing import check_smoothing, gaussian_smooth

    check_smoothing(sigma, mode, truncate)  # refuse bad options before reading anything

    def apply(image: np.ndarray, bits: int, threads: int | None) -> tuple[np.ndarray, str | None]:
        out = output_array(image.shape, bits)
        scale = depth_scale(bits_of(image), bits)
        gaussian_smooth(
            image, sigma, mode=mode, truncate=truncate, jobs=threads, out=out, scale=scale
        )
        return out, None

    return apply


def edge_filter_for(
    kernel: Callable[..., EdgeResult],
    *,
    output: str,
    normalize: bool,
    per_channel: bool,
) -> ImageFilter:
    """An edge filter (gradient or Sobel core function) on the luminance or on each channel.

    With ``per_channel`` an alpha channel is carried over unchanged rather than filtered.
    """
    from cnncli.core.edges import EDGE_OUTPUTS

    if output not in EDGE_OUTPUTS:
        raise UserError(f"unknown --output {output!r}; choose one of {', '.join(EDGE_OUTPUTS)}")

    def apply(image: np.ndarray, bits: int, threads: int | None) -> tuple[np.ndarray, str | None]:
        colour, alpha = split_alpha(image) if per_channel else (image, None)
        if not per_channel and colour.ndim == 3:
            colour = colour[:, :, 0]  # luminance was taken on read; LA keeps only L
        if colour.ndim == 3 and colour.shape[2] == 1:
            colour = colour[:, :, 0]
        if alpha is None:
            out = target = output_array(colour.shape, bits)
        else:  # the colour planes, then alpha: one array, written in place
            planes = colour.shape[2] if colour.ndim == 3 else 1
            out = output_array((*colour.shape[:2], planes + 1), bits)
            target = out[:, :, :-1] if colour.ndim == 3 else out[:, :, 0]
        result = kernel(colour, output=output, normalize=normalize, jobs=threads, out=target)
        warning = None
        if result.clipped:
            top = int(out_max(bits))
            warning = f"raw {output} values exceeded the output range 0..{top} and were clipped"
        if alpha is not None:
            copy_scaled(alpha, out[:, :, -1], depth_scale(bits_of(image), bits))
        return out, warning

    return apply


def split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour planes, alpha plane or None) of an L/LA/RGB/RGBA array."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        return image[:, :, :-1], image[:, :, -1]
    return image, None


def output_array(shape: tuple[int, ...], bits: int) -> np.ndarray:
    """The preallocated output every filter writes into, strip by strip."""
    import numpy as np

    return np.empty(shape, dtype=np.uint16 if bits == 16 else np.uint8)


def depth_scale(bits_in: int, bits_out: int) -> float:
    """What brings values on the ``bits_in`` scale to the ``bits_out`` scale."""
    return 1.0 if bits_in == bits_out else out_max(bits_out) / out_max(bits_in)


def copy_scaled(plane: np.ndarray, target: np.ndarray, scale: float) -> None:
    """``plane * scale`` rounded into ``target``, in row blocks (no image-sized temporary)."""
    import numpy as np

    from cnncli.core.strips import store

    if scale == 1.0 and plane.dtype == target.dtype:
        target[...] = plane
        return
    step = max(1, (1 << 18) // max(1, plane.shape[1]))
    for start in range(0, plane.shape[0], step):
        block = plane[start : start + step].astype(np.float32)
        block *= np.float32(scale)
        store(block, target[start : start + step])


def pooling_filter(spec: PoolSpec, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageFilter:
    """Max / average / adaptive pooling of every channel (downsampling, as a network sees it).

    An output of more than ``max_pixels`` (adaptive pooling asked to grow an image) is
    refused before anything is allocated.
    """

    def apply(image: np.ndarray, bits: int, threads: int | None) -> tuple[np.ndarray, str | None]:
        from cnncli.core.pool import pool_image, pool_output_shape

        rows, cols = pool_output_shape(spec, image.shape[0], image.shape[1])
        if max_pixels is not None and rows * cols > max_pixels:
            raise UserError(
                f"the pooled image would be {cols}x{rows} = {rows * cols:,} pixels, over the "
                f"limit of {max_pixels:,}",
                hint="raise it with --max-pixels if you mean it",
            )
        out = output_array((rows, cols, *image.shape[2:]), bits)
        scale = depth_scale(bits_of(image), bits)
        pool_image(image, spec, out=out, scale=scale, jobs=threads)
        return out, None

    return apply

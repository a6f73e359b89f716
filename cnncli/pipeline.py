"""File in, filter, file out: the steps every image command shares.

The CLI builds an :class:`IOOptions` and a filter function (a core call); this module
reads, filters, converts the bit depth and writes atomically, and is what batch mode
runs once per file. Light to import: numpy and Pillow load only when a file is processed.
"""

from __future__ import annotations

import math
import os
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cnncli.core.enums import EdgeOutput
from cnncli.core.errors import UserError
from cnncli.core.suggest import glob_for, nearest
from cnncli.defaults import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS, DEFAULT_NAME
from cnncli.files import STDIO

if TYPE_CHECKING:
    import numpy as np

    from cnncli.core.edges import EdgeKernel
    from cnncli.core.pool import PoolSpec
    from cnncli.core.tone import Tone

# (image array, output bit depth, threads or None for all cores)
#   -> (uint8 or uint16 image of that depth, a warning or None)
ImageFilter = Callable[["np.ndarray", int, "int | None"], "tuple[np.ndarray, str | None]"]


def _sample_path() -> Path:
    from cnncli.imageio import sample_path

    return sample_path()


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
            raise UserError(f"--bits must be 8 or 16, got {self.depth}")
        if not 0 <= self.compress_level <= 9:
            raise UserError(f"--compress-level must be 0..9, got {self.compress_level}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise UserError(f"--max-pixels must be positive, got {self.max_pixels}")


def single_job(paths: list[str], sample: bool, command: str = "sobel") -> tuple[str, str]:
    """``IN OUT``, or ``--sample OUT``: which file to read and which to write.

    ``command`` (the subcommand run) makes the hints ones the user can type as they are.
    """
    run = f"cnncli {command}"
    if sample:
        if len(paths) != 1:
            out = paths[0] if paths else "out.png"
            raise UserError("with --sample give only the output file", hint=f"{run} --sample {out}")
        return str(_sample_path()), paths[0]
    for path in paths[:1]:
        check_not_directory(path, command, "DIR")
    if len(paths) != 2:
        raise UserError(
            f"expected INPUT and OUTPUT, got {len(paths)} path(s)", hint=_paths_hint(paths, run)
        )
    check_not_the_input(paths[0], paths[1])
    return paths[0], paths[1]


def check_not_the_input(source: str, dest: str) -> None:
    """Refuse an output that would replace the input file itself: the same name or a
    symlink to it (as a batch refuses), or stdout opened on it (``1<>photo.png``, as ``cat``
    refuses), or the same file by another path. A hard link is a name of its own: the
    atomic rename replaces only that name. A device or a FIFO is not a picture on disk."""
    if source == STDIO:
        return
    try:
        read = os.stat(source)
    except OSError:  # a missing input is reported when it is read
        return
    if not stat.S_ISREG(read.st_mode):
        return
    if dest == STDIO:
        try:
            written = os.fstat(sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):  # no descriptor: not the file
            return
        if (read.st_dev, read.st_ino) == (written.st_dev, written.st_ino):
            raise UserError(
                f"stdout is the input file {source}: writing it would replace the picture",
                hint="redirect stdout to another file",
            )
        return
    try:
        written = os.stat(dest)
    except OSError:  # no such output yet
        return
    same_file = (read.st_dev, read.st_ino) == (written.st_dev, written.st_ino)
    # The same file under another name of its own (a hard link) gets a new file by the
    # rename; its own name by another path (a bind mount, a case-insensitive disk) does not.
    if same_file and _same_entry(source, dest):
        raise UserError(
            f"{dest} would overwrite the input file {source}",
            hint="write the output to another file",
        )


def _same_entry(first: str, second: str) -> bool:
    """Whether two paths name one directory entry: the same folder (by inode) and the same
    name (compared case-folded, as a case-insensitive disk does; two hard links whose names
    differ only by case in one folder are taken as one, the safe side)."""
    one, other = os.path.realpath(first), os.path.realpath(second)
    try:
        folders = os.stat(os.path.dirname(one)), os.stat(os.path.dirname(other))
    except OSError:
        return True
    same_folder = (folders[0].st_dev, folders[0].st_ino) == (folders[1].st_dev, folders[1].st_ino)
    return same_folder and os.path.basename(one).casefold() == os.path.basename(other).casefold()


def _paths_hint(paths: list[str], run: str) -> str:
    """What to type instead of ``run PATHS`` when PATHS are not exactly INPUT OUTPUT."""
    if not paths:
        return f"{run} photo.png out.png, or {run} --sample out.png for the bundled photo"
    if len(paths) == 1:
        if Path(paths[0]).exists():
            return f"{run} {paths[0]} OUTPUT (- for stdout)"
        return f"{run} INPUT {paths[0]}, or {run} --sample {paths[0]} for the bundled photo"
    shown = " ".join(paths if len(paths) <= 3 else [*paths[:2], "..."])
    return f"several inputs need an output folder: {run} {shown} --out-dir DIR"


def check_not_directory(path: str, command: str, out_dir: str) -> None:
    """Refuse a folder given as an input file, suggesting a glob of its files."""
    folder = Path(path)
    if path == STDIO or not folder.is_dir():
        return
    try:
        names = [entry.name for entry in folder.iterdir() if entry.is_file()]
    except OSError:
        names = []
    pattern = str(folder / glob_for(names))
    raise UserError(
        f"{path}: is a directory, not an image file",
        hint=f"cnncli {command} {pattern} --out-dir {out_dir}",
    )


def batch_inputs(
    paths: list[str], sample: bool, command: str = "sobel", out_dir: str = "DIR"
) -> list[str]:
    """The inputs of a batch (``--out-dir``): the paths, or the bundled photo with --sample."""
    if sample:
        if paths:
            raise UserError("with --sample and --out-dir give no other paths")
        return [str(_sample_path())]
    if not paths:
        raise UserError(
            "no input files given", hint=f"cnncli {command} photos/*.png --out-dir {out_dir}"
        )
    for path in paths:
        check_not_directory(path, command, out_dir)
    return paths


def check_input_exists(source: str | Path) -> None:
    """Refuse a missing input file, with the nearest name in its folder if one is close."""
    if str(source) == STDIO or os.path.exists(source):
        return
    path = Path(source)
    try:
        names = [entry.name for entry in path.parent.iterdir()] if path.parent.is_dir() else []
    except OSError:
        names = []
    near = nearest(path.name, names)
    hint = f"did you mean {path.with_name(near)}?" if near else None
    raise UserError(f"{source}: no such file", hint=hint)


def run_filter(
    source: str | Path,
    dest: str | Path,
    apply: ImageFilter,
    options: IOOptions,
    *,
    luminance: bool = False,
    threads: int | None = None,
) -> str | None:
    """Read ``source``, filter, write ``dest``; returns the warning to show, if any.

    Warnings that Pillow or numpy raise meanwhile (a corrupt EXIF block, NaN samples)
    become part of that one warning, prefixed with the input's name, never raw lines.
    """
    from cnncli.files import display_name
    from cnncli.imageio import check_output, read_image, write_image
    from cnncli.library_warnings import MAX_SHOWN, library_warnings

    check_format_extension(dest, options.format)
    with library_warnings() as caught:
        check_output(dest, no_clobber=options.no_clobber)
        check_input_exists(source)
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
    if not caught:
        return warning
    shown = "; ".join(caught[:MAX_SHOWN])
    if len(caught) > MAX_SHOWN:
        shown += f" (and {len(caught) - MAX_SHOWN} more)"
    return f"{display_name(source)}: {shown}" + (f"; {warning}" if warning else "")


def check_format_extension(dest: str | Path, fmt: str | None) -> None:
    """Refuse ``--format`` that contradicts the output's extension (JPEG bytes in a .png).

    An extension Pillow does not know (or none) leaves the choice to ``--format``.
    """
    from cnncli.imageio import output_format

    if fmt is None or str(dest) == STDIO:
        return
    wanted = output_format(dest, fmt)
    try:
        implied = output_format(dest, None)
    except UserError:
        return
    if implied != wanted:
        raise UserError(
            f"{dest}: --format {fmt} does not match the extension {Path(dest).suffix} ({implied})",
            hint=f"name it {Path(dest).with_suffix('.' + fmt.lower())}, or drop --format",
        )


def format_name_template(template: str, fmt: str | None) -> str:
    """Batch: the default output name takes the extension of ``--format`` (a.png -> a.jpeg)."""
    if fmt is None or template != DEFAULT_NAME:
        return template
    return DEFAULT_NAME.replace("{ext}", fmt.lower())


# A Gaussian kernel may reach (truncate x sigma) this many times the image's extent along
# its axis, or SMALL_KERNEL_RADIUS pixels on any image. Wider, it only flattens the image
# towards an average, at a cost that grows with the kernel (--sigma 100000 ran for minutes).
KERNEL_REACH = 2
SMALL_KERNEL_RADIUS = 50


def smoothing_filter(sigma: Sequence[float], *, mode: str, truncate: float) -> ImageFilter:
    """Gaussian smoothing of every channel (alpha too), rescaled if the depth changes."""
    from cnncli.core.depth import bits_of, depth_scale, output_array
    from cnncli.core.smoothing import check_smoothing, gaussian_smooth

    _check_finite("--sigma", sigma)
    _check_finite("--truncate", (truncate,))
    check_smoothing(sigma, mode, truncate)  # refuse bad options before reading anything

    def apply(image: np.ndarray, bits: int, threads: int | None) -> tuple[np.ndarray, str | None]:
        check_kernel_fits(sigma, truncate, image.shape[:2])
        out = output_array(image.shape, bits)
        scale = depth_scale(bits_of(image), bits)
        gaussian_smooth(
            image, sigma, mode=mode, truncate=truncate, jobs=threads, out=out, scale=scale
        )
        return out, None

    return apply


def _check_finite(flag: str, values: Sequence[float]) -> None:
    for value in values:
        if not math.isfinite(value):
            raise UserError(f"{flag} must be a finite number, got {value}")


def check_kernel_fits(sigma: Sequence[float], truncate: float, shape: Sequence[int]) -> None:
    """Refuse a Gaussian kernel far wider than the image (see ``KERNEL_REACH``)."""
    from cnncli.core.smoothing import kernel_radius

    for axis, (value, extent) in enumerate(zip((sigma[0], sigma[-1]), shape, strict=True)):
        radius = kernel_radius(value, truncate)  # 0 for an axis scipy leaves alone
        limit = max(KERNEL_REACH * extent, SMALL_KERNEL_RADIUS)
        if radius > limit:
            what = ("rows", "columns")[axis]
            largest = (limit + 0.5) / truncate
            reach = f"{radius:,}" if radius < 10**12 else f"{float(radius):.3g}"
            raise UserError(
                f"--sigma {value:g} reaches {reach} pixels (truncate x sigma) across an "
                f"image of {extent:,} {what}; at most {limit:,} (twice the image, or "
                f"{SMALL_KERNEL_RADIUS}) make sense",
                hint=f"use a --sigma below {largest:.4g} with --truncate {truncate:g}",
            )


def edge_filter_for(
    kernel: EdgeKernel,
    *,
    output: EdgeOutput,
    tone: Tone,
    per_channel: bool,
) -> ImageFilter:
    """An edge filter (``kernel``: gradient or Sobel) on the luminance or on each channel.

    With ``per_channel`` an alpha channel is carried over unchanged rather than filtered.
    ``tone`` (``--normalize``, ``--gamma``) is applied to the magnitude the kernel gives.
    """
    from cnncli.core.depth import (
        bits_of,
        copy_scaled,
        depth_scale,
        max_value,
        output_array,
        quantize,
    )
    from cnncli.core.edges import edge_filter
    from cnncli.core.tone import apply_tone

    if not tone.is_reference and output != EdgeOutput.MAGNITUDE:
        raise UserError(
            "--normalize pNN and --gamma apply to --output magnitude",
            hint="use --normalize max or none with --output x, y or angle",
        )
    normalize = tone.normalize

    def apply(image: np.ndarray, bits: int, threads: int | None) -> tuple[np.ndarray, str | None]:
        colour, alpha = split_alpha(image) if per_channel else (image, None)
        if not per_channel and colour.ndim == 3:
            colour = colour[:, :, 0]  # luminance was taken on read; LA keeps only L
        if colour.ndim == 3 and colour.shape[2] == 1:
            colour = colour[:, :, 0]
        top = max_value(bits)
        if alpha is None:
            out = target = output_array(colour.shape, bits)
        else:  # the colour planes, then alpha: one array, written in place
            planes = colour.shape[2] if colour.ndim == 3 else 1
            out = output_array((*colour.shape[:2], planes + 1), bits)
            target = out[:, :, :-1] if colour.ndim == 3 else out[:, :, 0]
        if tone.is_reference:
            result = edge_filter(
                colour, kernel, output=output, normalize=normalize, jobs=threads, out=target
            )
        else:
            # A percentile or a gamma needs every magnitude at once: a float image, as before.
            result = edge_filter(
                colour, kernel, output=output, normalize=normalize, out_max=top, jobs=threads
            )
            target[...] = quantize(apply_tone(result.image, tone, top), bits)
        warning = None
        if result.clipped:
            warning = (
                f"raw {output} values exceeded the output range 0..{int(top)} and were clipped"
            )
        if alpha is not None:
            copy_scaled(alpha, out[:, :, -1], depth_scale(bits_of(image), bits))
        return out, warning

    return apply


def split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour planes, alpha plane or None) of an L/LA/RGB/RGBA array."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        return image[:, :, :-1], image[:, :, -1]
    return image, None


def pooling_filter(spec: PoolSpec, *, max_pixels: int | None = None) -> ImageFilter:
    """Max / average / adaptive pooling of every channel (downsampling, as a network sees it).

    An adaptive output size is refused before any file is read if it has no pixels or
    more than ``max_pixels`` (``--adaptive`` can ask for far more pixels than the input).
    """
    if spec.adaptive is not None:
        sizes = (spec.adaptive[0], spec.adaptive[-1])
        if min(sizes) < 1:
            raise UserError(
                f"--adaptive {','.join(map(str, spec.adaptive))}: an image needs at least "
                "one pixel each way"
            )
        pixels = sizes[0] * sizes[1]
        if max_pixels is not None and pixels > max_pixels:
            raise UserError(
                f"--adaptive {sizes[0]}x{sizes[1]} = {pixels:,} output pixels is over the "
                f"limit of {max_pixels:,}",
                hint="raise it with --max-pixels if you have the memory",
            )

    def apply(image: np.ndarray, bits: int, threads: int | None) -> tuple[np.ndarray, str | None]:
        from cnncli.core.depth import bits_of, depth_scale, output_array
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

"""Max, average and adaptive pooling with PyTorch's exact semantics, on numbers and on images.

The windows come from :mod:`cnncli.core.outsize` (one source of truth for the window
arithmetic). Average pooling divides as ATen's ``avg_pool`` kernels do: by the window
clipped to the padded input (``count_include_pad=True``, PyTorch's default) or by the
number of real elements under it (``False``); a ceil-mode window hanging past the padded
input is shortened either way. Max pooling pads with -inf, so padding never wins.

The numeric form works on plain nested lists (no numpy: the calculators start fast);
the image form is vectorised with numpy and imports it only when called.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cnncli.core.enums import PoolOp
from cnncli.core.errors import Names, UserError
from cnncli.core.outsize import (
    Window,
    adaptive_windows,
    explain_adaptive,
    explain_pool,
    pool_windows,
)

if TYPE_CHECKING:
    import numpy as np

Matrix = list[list[float]]


# The quantities of a pooling layer, as messages name them (the CLI passes its flags).
KERNEL = "kernel size"
STRIDE = "stride"
PADDING = "padding"
DILATION = "dilation"
CEIL_MODE = "ceil_mode"
EXCLUDE_PAD = "count_include_pad=False"
ADAPTIVE = "adaptive output size"


@dataclass(frozen=True)
class PoolSpec:
    """A pooling layer, per dimension (1 or 2 entries each).

    ``names`` is what the caller calls the quantities in messages (see :class:`Names`).
    """

    op: PoolOp
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] | None = None
    padding: tuple[int, ...] = (0,)
    dilation: tuple[int, ...] = (1,)
    ceil_mode: bool = False
    count_include_pad: bool = True
    adaptive: tuple[int, ...] | None = None
    names: Names = field(default_factory=Names, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in tuple(PoolOp):
            raise UserError(f"unknown pooling op {self.op!r}; choose max or avg")
        if self.adaptive is None and not self.kernel:
            raise UserError(
                f"give a {self.names.described(KERNEL)} or an {self.names.described(ADAPTIVE)}"
            )
        conflicting = self._fixed_window_options() if self.adaptive is not None else []
        if conflicting:
            raise UserError(
                f"{self.names(ADAPTIVE)} chooses its own windows; drop {', '.join(conflicting)}"
            )
        if self.op == PoolOp.AVG and any(d != 1 for d in self.dilation):
            raise UserError("average pooling has no dilation in PyTorch (avg_pool takes none)")

    def _fixed_window_options(self) -> list[str]:
        given = {
            KERNEL: bool(self.kernel),
            STRIDE: self.stride is not None,
            PADDING: any(self.padding),
            DILATION: any(d != 1 for d in self.dilation),
            CEIL_MODE: self.ceil_mode,
            EXCLUDE_PAD: not self.count_include_pad,
        }
        return [self.names(quantity) for quantity, used in given.items() if used]

    def at(self, values: tuple[int, ...], dim: int) -> int:
        return values[0] if len(values) == 1 else values[dim]


@dataclass(frozen=True)
class PooledWindow:
    """One output: its window per dimension and its value, for ``--explain``."""

    windows: tuple[Window, ...]
    divisor: int | None
    value: float


def _output_count(spec: PoolSpec, length: int, dim: int) -> int:
    """The output length along ``dim``, computed without listing any window."""
    if spec.adaptive is not None:
        return explain_adaptive(length, spec.at(spec.adaptive, dim)).out
    return explain_pool(length, *_fixed_window(spec, dim)).out


def _fixed_window(spec: PoolSpec, dim: int) -> tuple[int, int | None, int, int, bool]:
    """(kernel, stride, padding, dilation, ceil_mode) along ``dim``, as ``explain_pool``
    and ``pool_windows`` take them."""
    stride = None if spec.stride is None else spec.at(spec.stride, dim)
    return (
        spec.at(spec.kernel, dim),
        stride,
        spec.at(spec.padding, dim),
        spec.at(spec.dilation, dim),
        spec.ceil_mode,
    )


# No image or list has a side this long; an adaptive size past it is a typo, not a request.
MAX_SIDE = 1 << 24


def dimension_windows(spec: PoolSpec, length: int, dim: int) -> list[Window]:
    """Every output window along ``dim`` (refused past ``MAX_SIDE`` before any is listed)."""
    if spec.adaptive is not None and spec.at(spec.adaptive, dim) > MAX_SIDE:
        raise UserError(
            f"{spec.names(ADAPTIVE)} {spec.at(spec.adaptive, dim)} is longer than any image "
            f"or list (at most {MAX_SIDE:,} per side)"
        )
    if spec.adaptive is not None:
        return adaptive_windows(length, spec.at(spec.adaptive, dim))
    return pool_windows(length, *_fixed_window(spec, dim))


def _taps(window: Window, length: int, step: int) -> range:
    """The real (unpadded) input indices a window reads."""
    first = window.start
    if first < 0:
        first += (-first + step - 1) // step * step
    return range(first, min(window.end, length), step)


def _divisor(window: Window, length: int, padding: int, include_pad: bool) -> int:
    """ATen's avg_pool divisor along one dimension (dilation is always 1 here)."""
    end = min(window.end, length + padding)
    if include_pad:
        return end - window.start
    return min(end, length) - max(window.start, 0)


# Numbers printed by ``pool --values`` (a teaching tool; images have no such bound): more
# would be no answer anyone reads, and the fuzz test's work budget assumes it.
MAX_OUTPUTS = 100_000


def pool_matrix(data: Matrix, spec: PoolSpec) -> list[list[PooledWindow]]:
    """Pool a 2-D matrix, one :class:`PooledWindow` per output."""
    height, width = len(data), len(data[0])
    outputs = [_output_count(spec, n, d) for d, n in enumerate((height, width))]
    if outputs[0] * outputs[1] > MAX_OUTPUTS:
        raise UserError(
            f"the output would hold {outputs[0]} x {outputs[1]} numbers, more than the "
            f"{MAX_OUTPUTS:,} that --values / --file print"
        )
    rows = dimension_windows(spec, height, 0)
    cols = dimension_windows(spec, width, 1)
    return [[_pool_one(data, spec, (r, c), (height, width)) for c in cols] for r in rows]


def _pool_one(
    data: Matrix, spec: PoolSpec, windows: tuple[Window, Window], sizes: tuple[int, int]
) -> PooledWindow:
    adaptive = spec.adaptive is not None
    steps = (1, 1) if adaptive else (spec.at(spec.dilation, 0), spec.at(spec.dilation, 1))
    rows = _taps(windows[0], sizes[0], steps[0])
    cols = _taps(windows[1], sizes[1], steps[1])
    values = [data[i][j] for i in rows for j in cols]
    if spec.op == "max":
        # max_pool pads with -inf; a window entirely in the padding is impossible in PyTorch.
        # A NaN wins, as in ATen's max (Python's max() would depend on where the NaN sits).
        if any(math.isnan(v) for v in values):
            return PooledWindow(windows, None, math.nan)
        return PooledWindow(windows, None, max(values) if values else -math.inf)
    if adaptive:
        divisor = len(values)
    else:
        divisor = math.prod(
            _divisor(w, n, spec.at(spec.padding, d), spec.count_include_pad)
            for d, (w, n) in enumerate(zip(windows, sizes, strict=True))
        )
    if divisor == 0:
        raise UserError("an average-pooling window covers no input element")
    return PooledWindow(windows, divisor, mean(values, divisor))


def mean(values: list[float], divisor: int) -> float:
    """``sum(values) / divisor`` with one rounding (fsum), even where the plain sum of finite
    values overflows (``1e308 + 1e308``). Infinities and NaN follow IEEE sums, as ATen's do."""
    if not all(math.isfinite(v) for v in values):
        return sum(values) / divisor
    try:
        return math.fsum(values) / divisor
    except OverflowError:
        # Dividing by a power of two is exact here: scale down, sum, divide, scale back up.
        # The mean of finite numbers is at most the largest of them, so it is finite.
        scale = 2.0 ** (len(values).bit_length() + 1)
        return math.fsum(v / scale for v in values) / divisor * scale


def pool_values(data: list[float] | Matrix, spec: PoolSpec) -> list[list[PooledWindow]]:
    """Pool a 1-D list (as one row, pooling only along it) or a 2-D matrix."""
    if data and isinstance(data[0], list):
        return pool_matrix(data, spec)
    row: Matrix = [list(data)]  # type: ignore[arg-type]
    flat = PoolSpec(
        spec.op,
        (1, *spec.kernel[:1]) if spec.kernel else (),
        None if spec.stride is None else (1, spec.stride[0]),
        (0, spec.padding[0]),
        (1, spec.dilation[0]),
        spec.ceil_mode,
        spec.count_include_pad,
        None if spec.adaptive is None else (1, spec.adaptive[0]),
        spec.names,
    )
    return pool_matrix(row, flat)


# ----------------------------------------------------------- reading numbers ---

# One comma or semicolon (spaces around it allowed), or a run of spaces: two commas in a
# row leave an empty cell, refused (a dropped number would shift every window after it).
_SEPARATORS = re.compile(r"\s*[,;]\s*|\s+")


def parse_values(text: str, source: str = "--values") -> list[float] | Matrix:
    """``"1,2,3"``, ``"[[1,2],[3,4]]"``, or CSV / whitespace rows (one row = 1-D)."""
    stripped = text.strip()
    if not stripped:
        raise UserError(f"{source}: no numbers given")
    if stripped.startswith("["):
        try:
            literal = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            raise UserError(
                f"{source}: cannot read {stripped[:40]!r} as a list of numbers"
            ) from None
        return _check_nested(literal, source)
    rows = [
        line for line in stripped.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    matrix: Matrix = []
    for r, line in enumerate(rows):
        cells = _SEPARATORS.split(line.strip())
        if len(cells) > 1 and cells[-1] == "":
            cells.pop()  # one separator at the end of a row, as in "1, 2, 3,"
        matrix.append([_number(cell, source, r, c) for c, cell in enumerate(cells)])
    _check_rectangular(matrix, source)
    return matrix[0] if len(matrix) == 1 else matrix


def _number(cell: object, source: str, row: int, col: int) -> float:
    if cell == "":
        raise UserError(
            f"{source}: row {row + 1}, column {col + 1}: an empty value (no number between "
            "two separators, or before the first)"
        )
    if isinstance(cell, bool):
        raise UserError(f"{source}: row {row + 1}, column {col + 1}: {cell!r} is not a number")
    try:
        value = float(cell)  # type: ignore[arg-type]
    except OverflowError:
        raise UserError(
            f"{source}: row {row + 1}, column {col + 1}: the integer is too large for a float"
        ) from None
    except (TypeError, ValueError):
        raise UserError(
            f"{source}: row {row + 1}, column {col + 1}: {cell!r} is not a number"
        ) from None
    return value


def _check_nested(literal: object, source: str) -> list[float] | Matrix:
    if not isinstance(literal, (list, tuple)) or not literal:
        raise UserError(f"{source}: expected a non-empty list of numbers")
    if all(not isinstance(v, (list, tuple)) for v in literal):
        return [_number(v, source, 0, c) for c, v in enumerate(literal)]
    matrix: Matrix = []
    for r, row in enumerate(literal):
        if not isinstance(row, (list, tuple)):
            raise UserError(f"{source}: row {r + 1} is not a list; mix of numbers and rows")
        if any(isinstance(v, (list, tuple)) for v in row):
            raise UserError(f"{source}: only 1-D lists and 2-D matrices can be pooled")
        matrix.append([_number(v, source, r, c) for c, v in enumerate(row)])
    _check_rectangular(matrix, source)
    return matrix


def _check_rectangular(matrix: Matrix, source: str) -> None:
    width = len(matrix[0])
    if width == 0:
        raise UserError(f"{source}: row 1 is empty")
    for r, row in enumerate(matrix):
        if len(row) != width:
            raise UserError(
                f"{source}: ragged matrix: row {r + 1} has {len(row)} values, row 1 has {width}"
            )


def ndim_of(data: list[float] | Matrix) -> int:
    return 2 if data and isinstance(data[0], list) else 1


def check_dims(spec: PoolSpec, ndim: int) -> None:
    """Each option has one value, or one per dimension of the data."""
    fields = {
        KERNEL: spec.kernel,
        STRIDE: spec.stride or (),
        PADDING: spec.padding,
        DILATION: spec.dilation,
        ADAPTIVE: spec.adaptive or (),
    }
    for quantity, values in fields.items():
        if len(values) not in (0, 1, ndim):
            raise UserError(
                f"{spec.names(quantity)} has {len(values)} values but the data is {ndim}-D"
            )


# -------------------------------------------------------------------- images ---


def pool_output_shape(spec: PoolSpec, height: int, width: int) -> tuple[int, int]:
    """(rows, columns) of the pooled image, from the windows alone (nothing is allocated)."""
    check_dims(spec, 2)
    return (
        len(dimension_windows(spec, height, 0)),
        len(dimension_windows(spec, width, 1)),
    )


def pool_image(
    image: np.ndarray,
    spec: PoolSpec,
    *,
    out: np.ndarray | None = None,
    scale: float = 1.0,
    jobs: int | None = None,
) -> np.ndarray:
    """Pool every channel of an (H, W) or (H, W, C) image.

    The result is float64 by default; an integer ``out`` (of the pooled shape) gets each
    strip of output rows rounded to nearest and clipped as soon as it is done, after
    multiplying by ``scale`` (a change of bit depth). The arithmetic is float64 on strips of
    one channel at a time, so memory stays at the input, the output and a few strips.
    """
    import numpy as np

    from cnncli.core.cpus import cpu_count
    from cnncli.core.strips import iter_channels, map_strips, plane_views

    check_dims(spec, 2)
    height, width = image.shape[:2]
    windows = [dimension_windows(spec, n, d) for d, n in enumerate((height, width))]
    shape = (len(windows[0]), len(windows[1]), *image.shape[2:])
    if out is None:
        out = np.empty(shape, dtype=np.float64)
    elif out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, the pooled image {shape}")
    # Input rows one output row reads, so a strip of output rows covers about 2**20 inputs.
    span = max(1, max(w.end - w.start for w in windows[0]))
    strip_pixels = max(1, (1 << 20) * len(windows[0]) // max(1, span * height))
    for plane, target in zip(iter_channels(image), plane_views(out), strict=True):
        if spec.adaptive is not None:
            work = _adaptive_strips(plane, target, windows, spec.op, scale)
        else:
            work = _windowed_strips(plane, target, windows, spec, scale)
        map_strips(work, shape[0], shape[1], jobs or cpu_count(), strip_pixels=strip_pixels)
    return out


def _adaptive_strips(
    plane: np.ndarray, target: np.ndarray, windows: list[list[Window]], op: str, scale: float
) -> Callable[[int, int], None]:
    import numpy as np

    from cnncli.core.depth import store

    reduce = np.max if op == "max" else np.mean

    def compute(start: int, stop: int) -> None:
        rows = np.stack(
            [
                reduce(plane[w.start : w.end].astype(np.float64), axis=0)
                for w in windows[0][start:stop]
            ]
        )
        result = np.stack([reduce(rows[:, w.start : w.end], axis=1) for w in windows[1]], axis=1)
        _store_scaled(result, target[start:stop], scale, store)

    return compute


def _store_scaled(
    result: np.ndarray, target: np.ndarray, scale: float, store: Callable[..., None]
) -> None:
    if scale != 1.0:
        result *= scale
    store(result, target)


def _windowed_strips(
    plane: np.ndarray, target: np.ndarray, windows: list[list[Window]], spec: PoolSpec, scale: float
) -> Callable[[int, int], None]:
    """One strided slice per kernel tap over a padded strip: k*k vectorised operations."""
    import numpy as np

    from cnncli.core.depth import store

    height, width = plane.shape
    kernel = (spec.at(spec.kernel, 0), spec.at(spec.kernel, 1))
    dilation = (spec.at(spec.dilation, 0), spec.at(spec.dilation, 1))
    padding = (spec.at(spec.padding, 0), spec.at(spec.padding, 1))
    steps = (
        windows[0][1].start - windows[0][0].start if len(windows[0]) > 1 else 1,
        windows[1][1].start - windows[1][0].start if len(windows[1]) > 1 else 1,
    )
    outs = (len(windows[0]), len(windows[1]))
    # Pad the columns so every tap of every window (ceil-mode overhangs included) is addressable.
    left = max(0, -windows[1][0].start)
    right = max(0, windows[1][-1].end - width)
    fill = -np.inf if spec.op == "max" else 0.0
    divisors = None
    if spec.op == "avg":
        divisors = np.outer(
            [_divisor(w, height, padding[0], spec.count_include_pad) for w in windows[0]],
            [_divisor(w, width, padding[1], spec.count_include_pad) for w in windows[1]],
        )

    def compute(start: int, stop: int) -> None:
        first = windows[0][start].start  # input row of the strip's first tap (may be < 0)
        last = windows[0][stop - 1].start + (kernel[0] - 1) * dilation[0] + 1
        padded = np.full((last - first, left + width + right), fill)
        lo, hi = max(first, 0), min(last, height)
        if lo < hi:
            padded[lo - first : hi - first, left : left + width] = plane[lo:hi]
        x_first = windows[1][0].start + left
        n = stop - start
        result = np.full((n, outs[1]), fill)
        for ky in range(kernel[0]):
            for kx in range(kernel[1]):
                y0 = ky * dilation[0]
                x0 = x_first + kx * dilation[1]
                tap = padded[
                    y0 : y0 + steps[0] * (n - 1) + 1 : steps[0],
                    x0 : x0 + steps[1] * (outs[1] - 1) + 1 : steps[1],
                ]
                if spec.op == "max":
                    np.maximum(result, tap, out=result)
                else:
                    result += tap
        if divisors is not None:
            result /= divisors[start:stop]
        _store_scaled(result, target[start:stop], scale, store)

    return compute

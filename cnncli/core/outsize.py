"""Output sizes and windows of convolution and pooling layers, exactly as PyTorch computes them.

One dimension at a time (every dimension of a Conv2d/3d or pool is independent).
The formulas are those of the PyTorch documentation of ``Conv1d``, ``MaxPool1d``,
``ConvTranspose1d`` and ``AdaptiveAvgPool1d``; the refusals mirror the checks in
ATen (``aten/src/ATen/native/Pool.h``, ``Convolution.cpp``, ``AdaptivePooling.h``)
and are pinned by golden files generated from torch itself (``tests/golden/make_shapes.py``).
Standard library only: the calculators must start fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cnncli.core.errors import UserError

PADDING_STRINGS = ("same", "valid")


@dataclass(frozen=True)
class Window:
    """The input taps of one output: ``start, start + dilation, ...`` up to ``end`` (exclusive).

    Coordinates are in the unpadded input: a negative ``start`` lies in the left
    padding, an ``end`` beyond the input length in the right padding.
    """

    start: int
    end: int


@dataclass(frozen=True)
class SizeResult:
    """One dimension's answer with what ``--explain`` shows."""

    out: int
    formula: str
    substituted: str
    notes: tuple[str, ...] = ()
    windows: tuple[Window, ...] | None = None
    padding: tuple[int, int] | None = field(default=None)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(message)


def _check_common(lin: int, kernel: int, stride: int, dilation: int) -> None:
    _require(lin >= 1, f"input length must be at least 1, got lin={lin}")
    _require(kernel >= 1, f"kernel size must be at least 1, got k={kernel}")
    _require(stride >= 1, f"stride must be at least 1, got s={stride}")
    _require(dilation >= 1, f"dilation must be at least 1, got d={dilation}")


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``dilation * (kernel - 1) + 1``."""
    return dilation * (kernel - 1) + 1


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """(left, right) zero padding PyTorch adds for ``padding='same'``; the extra one goes right."""
    total = dilation * (kernel - 1)
    left = total // 2
    return left, total - left


def _resolve_conv_padding(
    padding: int | str, kernel: int, stride: int, dilation: int
) -> tuple[int, int]:
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return 0, 0
        if mode == "same":
            _require(
                stride == 1,
                f"padding='same' is not supported for strided convolutions (s={stride}); "
                "PyTorch allows it only with stride 1",
            )
            return same_padding(kernel, dilation)
        raise UserError(f"padding must be an integer, 'same' or 'valid', got {padding!r}")
    _require(padding >= 0, f"padding must be non-negative, got p={padding}")
    return padding, padding


def conv_output_size(
    lin: int, kernel: int, stride: int = 1, padding: int | str = 0, dilation: int = 1
) -> int:
    """``floor((lin + 2p - d(k-1) - 1) / s) + 1``, PyTorch's Conv1d/2d/3d output length."""
    return explain_conv(lin, kernel, stride, padding, dilation).out


def explain_conv(
    lin: int, kernel: int, stride: int = 1, padding: int | str = 0, dilation: int = 1
) -> SizeResult:
    _check_common(lin, kernel, stride, dilation)
    left, right = _resolve_conv_padding(padding, kernel, stride, dilation)
    span = effective_kernel(kernel, dilation)
    padded = lin + left + right
    _require(
        padded >= span,
        f"kernel span d*(k-1)+1 = {span} is larger than the padded input "
        f"lin+pad = {padded} (lin={lin}, k={kernel}, d={dilation}, padding {left}+{right})",
    )
    out = (padded - span) // stride + 1
    notes: list[str] = []
    if isinstance(padding, str) and padding.lower() == "same":
        notes.append(f"padding='same' pads {left} left and {right} right")
        if left != right:
            notes.append("uneven split: PyTorch puts the extra zero on the right")
    pad_text = f"{left} + {right}" if left != right else f"2*{left}"
    return SizeResult(
        out=out,
        formula="out = floor((lin + 2*p - d*(k - 1) - 1) / s) + 1",
        substituted=(
            f"out = floor(({lin} + {pad_text} - {dilation}*({kernel} - 1) - 1) / {stride}) + 1"
            f" = floor({padded - span} / {stride}) + 1 = {out}"
        ),
        notes=tuple(notes),
        padding=(left, right),
    )


def pool_output_size(
    lin: int,
    kernel: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """PyTorch's MaxPool/AvgPool output length; ``stride=None`` means ``stride = kernel``."""
    return explain_pool(lin, kernel, stride, padding, dilation, ceil_mode).out


def explain_pool(
    lin: int,
    kernel: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> SizeResult:
    """Pooling with ATen's rules (``pooling_output_shape`` in ``Pool.h``).

    PyTorch pools only with ``padding <= kernel // 2`` and, in ceil mode, drops a
    last window that would start inside the right padding.
    """
    step = kernel if stride is None else stride
    _check_common(lin, kernel, step, dilation)
    _require(padding >= 0, f"padding must be non-negative, got p={padding}")
    _require(
        padding <= kernel // 2,
        f"pooling padding must be at most half the kernel size: p={padding} > k//2 = {kernel // 2}",
    )
    span = effective_kernel(kernel, dilation)
    numerator = lin + 2 * padding - span + (step - 1 if ceil_mode else 0)
    out = numerator // step + 1
    notes: list[str] = []
    rounding = "ceil" if ceil_mode else "floor"
    if ceil_mode and (out - 1) * step >= lin + padding:
        out -= 1
        notes.append(
            f"ceil_mode: the last window would start at {out * step - padding}, inside the "
            "right padding, so PyTorch drops it"
        )
    _require(
        out >= 1,
        f"pooling output size would be {out} (< 1): kernel span {span} does not fit in "
        f"lin+2p = {lin + 2 * padding}",
    )
    if stride is None:
        notes.append(f"stride defaults to the kernel size for pooling: s={step}")
    windows = tuple(Window(i * step - padding, i * step - padding + span) for i in range(out))
    return SizeResult(
        out=out,
        formula=f"out = {rounding}((lin + 2*p - d*(k - 1) - 1) / s) + 1",
        substituted=(
            f"out = {rounding}(({lin} + 2*{padding} - {dilation}*({kernel} - 1) - 1) / {step}) + 1"
            f" = {out}"
        ),
        notes=tuple(notes),
        windows=windows,
        padding=(padding, padding),
    )


def pool_windows(
    lin: int,
    kernel: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> list[Window]:
    """Each pooled output's taps: ``start = i*s - p``, ``end = start + d*(k-1) + 1``."""
    result = explain_pool(lin, kernel, stride, padding, dilation, ceil_mode)
    assert result.windows is not None
    return list(result.windows)


def transposed_output_size(
    lin: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    output_padding: int = 0,
) -> int:
    """``(lin - 1)*s - 2p + d(k-1) + output_padding + 1``, PyTorch's ConvTranspose length."""
    return explain_transposed(lin, kernel, stride, padding, dilation, output_padding).out


def explain_transposed(
    lin: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    output_padding: int = 0,
) -> SizeResult:
    _check_common(lin, kernel, stride, dilation)
    _require(padding >= 0, f"padding must be non-negative, got p={padding}")
    _require(output_padding >= 0, f"output_padding must be non-negative, got {output_padding}")
    _require(
        output_padding < stride or output_padding < dilation,
        f"output_padding must be smaller than either stride or dilation: "
        f"output_padding={output_padding}, s={stride}, d={dilation}",
    )
    out = (lin - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    _require(
        out >= 1,
        f"transposed convolution output size would be {out} (< 1): padding p={padding} "
        "removes more than the layer produces",
    )
    return SizeResult(
        out=out,
        formula="out = (lin - 1)*s - 2*p + d*(k - 1) + output_padding + 1",
        substituted=(
            f"out = ({lin} - 1)*{stride} - 2*{padding} + {dilation}*({kernel} - 1)"
            f" + {output_padding} + 1 = {out}"
        ),
        padding=(padding, padding),
    )


def adaptive_windows(lin: int, out: int) -> list[Window]:
    """PyTorch's adaptive pooling windows: ``[floor(i*L/N), ceil((i+1)*L/N))``.

    This is what ``AdaptiveAvgPool``/``AdaptiveMaxPool`` compute (``start_index`` and
    ``end_index`` in ATen's ``AdaptivePooling.h``); the "upsample then pool" picture
    is only an approximation of it.
    """
    return list(explain_adaptive(lin, out).windows or ())


def explain_adaptive(lin: int, out: int) -> SizeResult:
    _require(lin >= 1, f"input length must be at least 1, got lin={lin}")
    # PyTorch accepts an output size of 0 (an empty tensor), so we do too.
    _require(out >= 0, f"adaptive output size must be non-negative, got {out}")
    windows = tuple(Window((i * lin) // out, -((-(i + 1) * lin) // out)) for i in range(out))
    return SizeResult(
        out=out,
        formula="window i = [floor(i*lin/out), ceil((i+1)*lin/out))",
        substituted=f"lin = {lin}, out = {out}",
        windows=windows,
    )


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    """``"224,160"`` -> ``(224, 160)``; the error names the option."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        raise UserError(f"{name} expects integers separated by commas, got {text!r}") from None
    return values


def broadcast(values: dict[str, Sequence[object]]) -> int:
    """The common number of dimensions; a single value stands for every dimension."""
    lengths = {len(v) for v in values.values() if len(v) != 1}
    if len(lengths) > 1:
        detail = ", ".join(f"{k} has {len(v)}" for k, v in values.items() if len(v) != 1)
        raise UserError(f"options give different numbers of dimensions: {detail}")
    return lengths.pop() if lengths else 1

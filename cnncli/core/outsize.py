"""Output sizes and windows of convolution and pooling layers, exactly as PyTorch computes them.

One dimension at a time (every dimension of a Conv2d/3d or pool is independent).
The formulas are those of the PyTorch documentation of ``Conv1d``, ``MaxPool1d``,
``ConvTranspose1d`` and ``AdaptiveAvgPool1d``; the refusals mirror the checks in
ATen (``aten/src/ATen/native/Pool.h``, ``Convolution.cpp``, ``AdaptivePooling.h``)
and are pinned by golden files generated from torch itself (``tests/golden/make_shapes.py``).
Standard library only: the calculators must start fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import overload

from cnncli.core.errors import Names, UserError
from cnncli.core.parsing import INT64_MAX, parse_int, parse_ints

PADDING_STRINGS = ("same", "valid")


@dataclass(frozen=True)
class Window:
    """The input taps of one output: ``start, start + dilation, ...`` up to ``end`` (exclusive).

    Coordinates are in the unpadded input: a negative ``start`` lies in the left
    padding, an ``end`` beyond the input length in the right padding.
    """

    start: int
    end: int


class Windows(Sequence[Window]):
    """Every output's window, computed when asked for: a million outputs (or 10**18) cost
    nothing until listed, and callers list only as many as they show.

    Fixed windows (pooling) start at ``i*step - offset`` and span ``span``; adaptive ones
    (``adaptive=True``) are ``[floor(i*lin/count), ceil((i+1)*lin/count))``.
    """

    __slots__ = ("_adaptive", "_count", "_lin", "_offset", "_span", "_step")

    def __init__(
        self,
        count: int,
        *,
        step: int = 1,
        offset: int = 0,
        span: int = 1,
        lin: int = 0,
        adaptive: bool = False,
    ) -> None:
        self._count, self._step, self._offset, self._span = count, step, offset, span
        self._lin, self._adaptive = lin, adaptive

    def __len__(self) -> int:
        return self._count

    def _at(self, i: int) -> Window:
        if self._adaptive:
            return Window((i * self._lin) // self._count, -((-(i + 1) * self._lin) // self._count))
        start = i * self._step - self._offset
        return Window(start, start + self._span)

    @overload
    def __getitem__(self, index: int) -> Window: ...
    @overload
    def __getitem__(self, index: slice) -> list[Window]: ...
    def __getitem__(self, index: int | slice) -> Window | list[Window]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        return self._at(index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Windows({self._count} windows: {self[:3]}...)"


@dataclass(frozen=True)
class SizeResult:
    """One dimension's answer with what ``--explain`` shows.

    ``substituted`` is the formula with the numbers in and its own value; ``steps`` are
    what PyTorch does after it (ceil mode's dropped last window), each with the result.
    """

    out: int
    formula: str
    substituted: str
    notes: tuple[str, ...] = ()
    windows: Windows | None = None
    padding: tuple[int, int] | None = field(default=None)
    steps: tuple[str, ...] = ()


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
    numerator = lin + 2 * padding - span
    rounding = "ceil" if ceil_mode else "floor"
    # ATen: div_rtn(numerator + (s - 1 if ceil_mode else 0), s) + 1, rounding toward -inf.
    formula_out = (numerator + (step - 1 if ceil_mode else 0)) // step + 1
    out = formula_out
    notes: list[str] = []
    steps: list[str] = []
    if ceil_mode and out >= 1 and (out - 1) * step >= lin + padding:
        out -= 1
        start = out * step - padding
        steps.append(
            f"out = {formula_out} - 1 = {out}: PyTorch drops the last window "
            f"(it would start at {start} >= lin = {lin}, in the padding)"
        )
    _require(
        out >= 1,
        f"pooling output size would be {out} (< 1): kernel span {span} does not fit in "
        f"lin+2p = {lin + 2 * padding}",
    )
    if stride is None:
        notes.append(f"stride defaults to the kernel size for pooling: s={step}")
    return SizeResult(
        out=out,
        formula=f"out = {rounding}((lin + 2*p - d*(k - 1) - 1) / s) + 1",
        substituted=(
            f"out = {rounding}(({lin} + 2*{padding} - {dilation}*({kernel} - 1) - 1) / {step}) + 1"
            f" = {rounding}({numerator} / {step}) + 1 = {formula_out}"
        ),
        notes=tuple(notes),
        windows=Windows(out, step=step, offset=padding, span=span),
        padding=(padding, padding),
        steps=tuple(steps),
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
    return SizeResult(
        out=out,
        formula="window i = [floor(i*lin/out), ceil((i+1)*lin/out))",
        substituted=f"lin = {lin}, out = {out}",
        windows=Windows(out, lin=lin, adaptive=True),
    )


def broadcast(values: Mapping[str, Sequence[object]]) -> int:
    """The common number of dimensions; a single value stands for every dimension."""
    lengths = {len(v) for v in values.values() if len(v) != 1}
    if len(lengths) > 1:
        detail = ", ".join(f"{k} has {len(v)}" for k, v in values.items() if len(v) != 1)
        raise UserError(f"options give different numbers of dimensions: {detail}")
    return lengths.pop() if lengths else 1


LAYER_KINDS = ("conv", "pool", "transposed", "adaptive")


@dataclass(frozen=True)
class LayerSpec:
    """One layer of an ``outsize`` question, per dimension values already broadcast."""

    kind: str
    kernel: int = 1
    stride: int | None = None
    padding: int | str = 0
    dilation: int = 1
    output_padding: int = 0
    ceil_mode: bool = False
    out: int = 1

    def describe(self) -> str:
        if self.kind == "adaptive":
            return f"adaptive {self.out}"
        parts = [self.kind, f"k{self.kernel}"]
        if self.stride is not None:
            parts.append(f"s{self.stride}")
        if isinstance(self.padding, str):
            parts.append(f"p={self.padding}")
        elif self.padding != 0:
            parts.append(f"p{self.padding}")
        if self.dilation != 1:
            parts.append(f"d{self.dilation}")
        if self.output_padding:
            parts.append(f"op{self.output_padding}")
        if self.ceil_mode:
            parts.append("ceil")
        return " ".join(parts)


def solve(spec: LayerSpec, lin: int) -> SizeResult:
    """One dimension of one layer by its PyTorch rule; an output no 64-bit size can hold
    (PyTorch's sizes are int64, as the inputs are) is refused, not printed."""
    result = _solve(spec, lin)
    if result.out > INT64_MAX:
        raise UserError(
            f"the output length {result.out:,} is beyond 2**63 - 1 (PyTorch sizes are 64-bit)"
        )
    return result


def _solve(spec: LayerSpec, lin: int) -> SizeResult:
    if spec.kind == "conv":
        return explain_conv(
            lin, spec.kernel, 1 if spec.stride is None else spec.stride, spec.padding, spec.dilation
        )
    if spec.kind == "transposed":
        return explain_transposed(
            lin,
            spec.kernel,
            1 if spec.stride is None else spec.stride,
            _int_padding(spec),
            spec.dilation,
            spec.output_padding,
        )
    if spec.kind == "pool":
        return explain_pool(
            lin, spec.kernel, spec.stride, _int_padding(spec), spec.dilation, spec.ceil_mode
        )
    if spec.kind == "adaptive":
        return explain_adaptive(lin, spec.out)
    raise UserError(f"unknown layer kind {spec.kind!r}; expected one of {', '.join(LAYER_KINDS)}")


def _int_padding(spec: LayerSpec) -> int:
    if isinstance(spec.padding, str):
        raise UserError(
            f"padding={spec.padding!r} exists only for convolutions, not for {spec.kind} layers"
        )
    return spec.padding


@dataclass(frozen=True)
class Question:
    """A whole ``outsize`` question: per-dimension input lengths and one spec per dimension."""

    lin: tuple[int, ...]
    specs: tuple[LayerSpec, ...]


# The quantities of a question, as messages name them. A caller with other names for
# them (the CLI's flags: ``{"kernel size": "--k"}``) passes those as ``names``.
INPUT = "input size"
KERNEL = "kernel size"
STRIDE = "stride"
PADDING = "padding"
DILATION = "dilation"
OUTPUT_PADDING = "output padding"
ADAPTIVE = "adaptive output size"
POOLING = "pooling"
CEIL_MODE = "ceil_mode"
TRANSPOSED = "transposed"


def build_question(
    lin: str,
    kernel: str | None = None,
    stride: str | None = None,
    padding: str = "0",
    dilation: str = "1",
    *,
    pool: bool = False,
    ceil_mode: bool = False,
    transposed: bool = False,
    output_padding: str = "0",
    adaptive: str | None = None,
    names: Names | None = None,
) -> Question:
    """Turn the option strings into per-dimension layer specs, refusing contradictions.

    Messages call each quantity what ``names`` calls it (the CLI: its flags), else by
    its own name (``kernel size``, ``adaptive output size``).
    """
    called = names or Names()
    if pool and transposed:
        raise UserError(f"{called(POOLING)} and {called(TRANSPOSED)} cannot be combined")
    if ceil_mode and not pool:
        raise UserError(
            f"{called(CEIL_MODE)} applies only to pooling", hint=f"add {called(POOLING)}"
        )
    if output_padding != "0" and not transposed:
        raise UserError(
            f"{called(OUTPUT_PADDING)} applies only to {called(TRANSPOSED)} convolutions"
        )
    if adaptive is not None:
        if kernel is not None or stride is not None or pool or transposed:
            raise UserError(
                f"{called(ADAPTIVE)} takes only {called(INPUT)}: the windows follow from the sizes"
            )
        fields: dict[str, tuple[object, ...]] = {
            called(INPUT): parse_ints(lin, called(INPUT)),
            called(ADAPTIVE): parse_ints(adaptive, called(ADAPTIVE)),
        }
    else:
        if kernel is None:
            raise UserError(
                f"{called(KERNEL)} ({KERNEL}) is required"
                if called(KERNEL) != KERNEL
                else f"{KERNEL} is required",
                hint=f"e.g. {called(KERNEL)} 3" if called(KERNEL) != KERNEL else None,
            )
        fields = {
            called(INPUT): parse_ints(lin, called(INPUT)),
            called(KERNEL): parse_ints(kernel, called(KERNEL)),
            called(PADDING): _parse_paddings(padding, called(PADDING)),
            called(DILATION): parse_ints(dilation, called(DILATION)),
            called(OUTPUT_PADDING): parse_ints(output_padding, called(OUTPUT_PADDING)),
        }
        if stride is not None:
            fields[called(STRIDE)] = parse_ints(stride, called(STRIDE))
    ndim = broadcast(fields)

    def at(quantity: str, i: int) -> int:
        values = fields[called(quantity)]
        value = values[0] if len(values) == 1 else values[i]
        assert isinstance(value, int)
        return value

    def padding_at(i: int) -> int | str:
        values = fields[called(PADDING)]
        value = values[0] if len(values) == 1 else values[i]
        assert isinstance(value, (int, str))
        return value

    specs = []
    for i in range(ndim):
        if adaptive is not None:
            specs.append(LayerSpec("adaptive", out=at(ADAPTIVE, i)))
            continue
        kind = "pool" if pool else "transposed" if transposed else "conv"
        specs.append(
            LayerSpec(
                kind,
                kernel=at(KERNEL, i),
                stride=at(STRIDE, i) if called(STRIDE) in fields else None,
                padding=padding_at(i),
                dilation=at(DILATION, i),
                output_padding=at(OUTPUT_PADDING, i),
                ceil_mode=ceil_mode,
            )
        )
    lins = tuple(at(INPUT, i) for i in range(ndim))
    return Question(lins, tuple(specs))


def _parse_paddings(text: str, name: str = PADDING) -> tuple[int | str, ...]:
    values: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if part.lower() in PADDING_STRINGS:
            values.append(part.lower())
        else:
            try:
                values.append(parse_int(part, name, text))
            except UserError:
                raise UserError(
                    f"{name} expects integers, 'same' or 'valid', got {text[:40]!r}"
                ) from None
    return tuple(values)


def answer(question: Question) -> list[SizeResult]:
    """Each dimension's result, in order."""
    return [solve(spec, lin) for spec, lin in zip(question.specs, question.lin, strict=True)]


_CHAIN_TOKEN_KEYS: Mapping[str, str] = {
    "k": "kernel",
    "s": "stride",
    "p": "padding",
    "d": "dilation",
    "op": "output_padding",
}
_CHAIN_ALIASES = {
    "conv": "conv",
    "pool": "pool",
    "maxpool": "pool",
    "avgpool": "pool",
    "tconv": "transposed",
    "deconv": "transposed",
    "transposed": "transposed",
    "adaptive": "adaptive",
}


_CHAIN_HINT = "tokens are kN sN pN (or p same / p valid) dN opN ceil, e.g. 'conv k3 s2 p1'"


def parse_chain(text: str) -> list[LayerSpec]:
    """``"conv k11 s4 p2, pool k3 s2, adaptive 6"`` -> layer specs (same for every dimension).

    Strict: every token is read once; an unknown, repeated or inapplicable one (``op1`` on a
    convolution, ``ceil`` on a transposed one, ``k3 k5``) is refused, naming it. A value may
    follow its key directly (``k3``, ``p=same``) or as the next token (``p same``, ``k 3``).
    """
    specs = []
    for index, item in enumerate(part.strip() for part in text.split(",")):
        where = f"--chain layer {index + 1} ({item[:60]!r})"
        tokens = item.split()
        if not tokens:
            raise UserError(f"{where} is empty")
        kind = _CHAIN_ALIASES.get(tokens[0].lower())
        if kind is None:
            raise UserError(
                f"{where}: unknown layer {tokens[0][:40]!r}",
                hint="use conv, pool, tconv or adaptive N",
            )
        if kind == "adaptive":
            if len(tokens) != 2:
                raise UserError(f"{where}: write 'adaptive N'")
            specs.append(LayerSpec("adaptive", out=parse_int(tokens[1], f"{where}: adaptive")))
            continue
        specs.append(LayerSpec(kind, **_chain_values(kind, tokens[1:], where)))  # type: ignore[arg-type]
    return specs


def _chain_values(kind: str, tokens: list[str], where: str) -> dict[str, object]:
    values: dict[str, object] = {}
    position = 0
    while position < len(tokens):
        token = tokens[position]
        lowered = token.lower()
        position += 1
        if lowered == "ceil":
            key, name, raw = "ceil", "ceil_mode", ""
        else:
            key = "op" if lowered.startswith("op") else lowered[:1]
            if key not in _CHAIN_TOKEN_KEYS:
                raise UserError(f"{where}: cannot read {token[:40]!r}", hint=_CHAIN_HINT)
            name = _CHAIN_TOKEN_KEYS[key]
            raw = lowered[len(key) :].removeprefix("=")
            if not raw and position < len(tokens):  # "p same", "k 3"
                raw = tokens[position].lower()
                token = f"{token} {tokens[position]}"
                position += 1
        if name in values:
            raise UserError(f"{where}: {token[:40]!r} repeats {key!r}; give each setting once")
        if key == "ceil" and kind != "pool":
            raise UserError(f"{where}: {token!r} applies only to pooling")
        if key == "op" and kind != "transposed":
            raise UserError(
                f"{where}: {token[:40]!r}: output padding applies only to transposed "
                "convolutions (tconv)"
            )
        if key == "ceil":
            values[name] = True
        elif key == "p" and raw in PADDING_STRINGS:
            if kind != "conv":
                raise UserError(f"{where}: {token!r}: padding={raw!r} exists only for conv layers")
            values[name] = raw
        else:
            if not raw.lstrip("+-").isdigit():
                raise UserError(
                    f"{where}: {token[:40]!r} needs an integer after {key!r}", hint=_CHAIN_HINT
                )
            values[name] = parse_int(raw, f"{where}: {token[:40]!r}")
    if "kernel" not in values:
        raise UserError(f"{where}: missing the kernel size kN")
    return values


def run_chain(lin: tuple[int, ...], specs: list[LayerSpec]) -> list[list[SizeResult]]:
    """Sizes after each layer, feeding each layer's output to the next."""
    rows: list[list[SizeResult]] = []
    current = lin
    for index, spec in enumerate(specs):
        try:
            results = [solve(spec, n) for n in current]
        except UserError as exc:
            raise UserError(
                f"--chain layer {index + 1} ({spec.describe()}): {exc.message}"
            ) from None
        rows.append(results)
        current = tuple(r.out for r in results)
    return rows

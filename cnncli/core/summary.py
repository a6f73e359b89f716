"""A model summary from ``print(model)`` text: shapes, parameters, MACs, receptive fields.

The printed tree (:mod:`cnncli.core.model_text`) never shows ``forward``. Blocks whose
class is known (torchvision's and timm's, and sequence layers) run by a forward rule
from :mod:`cnncli.core.forward` that mirrors the upstream ``forward``; a Sequential runs
its children in order; any other module with children runs them in the printed order,
with a warning, since its forward may differ. When a shape cannot be followed (an
unknown leaf, or a mismatch inside a block whose forward is unknown), every later shape
is unknown (``None``), but parameters are still counted: they never depend on forward.
A flatten hidden in a forward that is not known (``torch.flatten(x, 1)`` before a Linear)
is inserted where the flattened size is exactly the Linear's ``in_features``, with a note;
a Sequential or a known block never gets one.

MACs convention: see :mod:`cnncli.core.forward.leaves`. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from cnncli.core.errors import UserError
from cnncli.core.forward import PARAMETERLESS, RULES, SEQUENTIAL
from cnncli.core.forward.base import Flow, Rule
from cnncli.core.forward.leaves import MAX_ELEMENTS, SAME_SHAPE, leaf_rule, unprinted_ceil_mode
from cnncli.core.model_text import CONTAINERS, Module, parse_model
from cnncli.core.params import LayerParams, layer_params
from cnncli.core.parsing import shape_text

__all__ = ["DTYPE_BYTES", "OWN_PARAMETERS", "Row", "Summary", "parse_model", "summarize"]

DTYPE_BYTES: Mapping[str, int] = {
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float64": 8,
    "int8": 1,
}


@dataclass(frozen=True)
class Row:
    """One module call, in execution order; ``output_shape`` is None where unknown."""

    path: str
    kind: str
    output_shape: tuple[int, ...] | None  # with the batch dimension
    params: int
    macs: int
    receptive_field: tuple[float, ...] | None = None
    jump: tuple[float, ...] | None = None
    # The shape follows a guess: a block whose forward is not known ran its children in
    # the printed order (its forward may reuse one, or take another order).
    guessed: bool = False


@dataclass(frozen=True)
class Hidden:
    """A parameter or buffer a rule knows the block owns although the repr never prints it."""

    name: str
    shape: tuple[int, ...]
    buffer: bool = False


@dataclass(frozen=True)
class Summary:
    name: str
    input_shape: tuple[int, ...]
    rows: tuple[Row, ...]
    output_shape: tuple[int, ...] | None
    calls: tuple[tuple[str, tuple[int, ...] | None], ...]  # every module call's output
    containers: Mapping[str, str]
    total_params: int
    buffers: int
    macs: int
    dtype: str
    hidden: tuple[Hidden, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    shapes_known: bool = True
    params_exact: bool = True
    # Some shape or count rests on a constructor argument the repr does not print and no
    # rule knows (AvgPool's ceil_mode where it matters): the note says what was assumed.
    assumed: bool = False

    @property
    def state_bytes(self) -> int:
        """Parameters and buffers (what ``state_dict()`` holds), in bytes of ``dtype``."""
        return (self.total_params + self.buffers) * DTYPE_BYTES[self.dtype]

    @property
    def activation_bytes(self) -> int | None:
        """Every call's output of one forward pass (what backward keeps), plus the input."""
        if not self.shapes_known:
            return None
        elements = math.prod(self.input_shape) + sum(
            math.prod(r.output_shape) for r in self.rows if r.output_shape is not None
        )
        return elements * DTYPE_BYTES[self.dtype]

    def hidden_params(self, path: str) -> int:
        """Hidden parameters a block at ``path`` owns itself (shown on its own row)."""
        prefix = f"{path}." if path else ""
        return sum(
            math.prod(h.shape)
            for h in self.hidden
            if not h.buffer and h.name.startswith(prefix) and "." not in h.name[len(prefix) :]
        )


def summarize(
    model: Module, input_shape: tuple[int, ...], *, batch: int = 1, dtype: str = "float32"
) -> Summary:
    """Push ``(batch, *input_shape)`` through ``model`` and total it up."""
    if batch < 1:
        raise UserError(f"batch size must be at least 1, got {batch}")
    if not input_shape or any(n < 1 for n in input_shape):
        raise UserError(f"input sizes must be positive, got {list(input_shape)}")
    if dtype not in DTYPE_BYTES:
        raise UserError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_BYTES)}")
    if math.prod(input_shape) * batch > MAX_ELEMENTS:
        raise UserError(f"an input of {batch} x {list(input_shape)} is beyond any machine")
    spatial = len(input_shape) - 1
    ones = (1.0,) * spatial if spatial else None
    engine = _Engine()
    output = engine.module(model, Flow((batch, *input_shape), ones, ones))
    counted = [engine.layer_params(m) for m in model.walk() if m.layer is not None]
    hidden = tuple(engine.hidden.values())
    for module in model.walk():
        if (
            module.layer is None
            and not module.children
            and module.kind not in RULES
            and module.kind not in PARAMETERLESS
            and module.kind not in CONTAINERS
        ):
            engine.params_exact = False  # a custom layer: its own parameters are not printed
            engine.warn(f"{module.label}: unknown module without children, counted as 0 parameters")
        elif module.children and _may_own_parameters(module):
            engine.params_exact = False
            engine.warn(f"{module.label}: {OWN_PARAMETERS}")
    return Summary(
        name=model.kind,
        input_shape=(batch, *input_shape),
        rows=tuple(engine.rows),
        output_shape=None if output is None else output.shape,
        calls=tuple(engine.calls),
        containers={m.path: m.kind for m in model.walk() if m.children},
        total_params=sum(p.total for p in counted) + _numel(h for h in hidden if not h.buffer),
        buffers=sum(p.buffers for p in counted) + _numel(h for h in hidden if h.buffer),
        macs=sum(r.macs for r in engine.rows),
        dtype=dtype,
        hidden=hidden,
        notes=tuple(dict.fromkeys(engine.notes)),
        warnings=tuple(dict.fromkeys(engine.warnings)),
        shapes_known=all(r.output_shape is not None for r in engine.rows),
        params_exact=engine.params_exact,
        assumed=engine.assumed,
    )


# A class whose forward is not known may hold an nn.Parameter of its own, which
# print(model) never shows (a learned scale, a position embedding).
OWN_PARAMETERS = (
    "its class is not known, and an nn.Parameter it holds itself would not be in the repr: "
    "the parameter totals are a lower bound"
)


def _may_own_parameters(module: Module) -> bool:
    """A module with children whose class no rule knows (a Sequential owns no parameters)."""
    if module.kind in SEQUENTIAL or module.kind in CONTAINERS:
        return False
    return not any(r.matches(module) for r in RULES.get(module.kind, ()))


def _numel(tensors: Iterable[Hidden]) -> int:
    return sum(math.prod(t.shape) for t in tensors)


@dataclass
class _Engine:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hidden: dict[str, Hidden] = field(default_factory=dict)
    calls: list[tuple[str, tuple[int, ...] | None]] = field(default_factory=list)
    called: set[str] = field(default_factory=set)
    # Row indices where a forward that is not known hands its tensor to a child: the only
    # places a torch.flatten the repr does not show can be.
    loose: set[int] = field(default_factory=set)
    params_exact: bool = True
    assumed: bool = False
    # Set once a block whose forward is not known runs its second child in printed order:
    # every shape recorded from then on rests on that guess.
    guessing: bool = False
    # Constructor arguments a rule knows although the repr does not print them, by path.
    built: dict[str, dict[str, object]] = field(default_factory=dict)
    _params: dict[str, LayerParams] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def assume(self, message: str) -> None:
        """A note on an argument the repr hides that changes the result: not exact."""
        self.notes.append(message)
        self.assumed = True

    def layer_params(self, module: Module) -> LayerParams:
        """The printed layer's tensors, worked out once per module (rows and totals)."""
        assert module.layer is not None
        if module.path not in self._params:
            self._params[module.path] = layer_params(module.layer)
        return self._params[module.path]

    # ------------------------------------------------------------ dispatch ---

    def module(self, module: Module, x: Flow | None) -> Flow | None:
        y = self._dispatch(module, x)
        self.calls.append((module.path, None if y is None else y.shape))
        return y

    def _dispatch(self, module: Module, x: Flow | None) -> Flow | None:
        if x is None:
            self.unknown(module)
            return None
        if module.kind in CONTAINERS and not module.children and module.layer is None:
            return x  # an empty Sequential: the identity
        rule = self._rule_for(module)
        if rule is not None:
            return self._run_rule(module, rule, x)
        if module.children:
            return self._sequence(module, x, warned=module.kind in RULES)
        return self.leaf(module, x)

    def _rule_for(self, module: Module) -> Rule | None:
        candidates = RULES.get(module.kind, ())
        for candidate in candidates:
            if candidate.matches(module):
                return candidate
        if candidates:
            self.warn(
                f"{module.label}: its children ({', '.join(module.child_names) or 'none'}) "
                f"differ from {candidates[0].source.split('.')[0]}'s; ran them in the printed order"
            )
        return None

    def _run_rule(self, module: Module, rule: Rule, x: Flow) -> Flow | None:
        before = len(self.rows)
        try:
            y = rule.forward(module, x, _Bound(self, module))
        except _ShapesLost:
            self.unknown(module)
            return None
        if not module.children and len(self.rows) == before:
            self.record(module, y, 0)
        return y

    def _sequence(self, module: Module, x: Flow, *, warned: bool) -> Flow | None:
        """Children in printed order; sure for a Sequential, a guess for anything else."""
        uncertain = module.kind not in SEQUENTIAL and len(module.children) > 1
        if uncertain and not warned:
            self.warn(
                f"{module.label}: forward not known; its children ran in the printed order "
                "(shapes after its first child are guesses, marked ~)"
            )
        y = self.leaf(module, x) if module.layer is not None else x
        for position, child in enumerate(module.children):
            if y is None:
                self.unknown(child)
                continue
            if module.kind in SEQUENTIAL:
                y = self.module(child, y)
                continue
            self.loose.add(len(self.rows))
            if not uncertain:
                y = self.module(child, y)
                continue
            self.guessing = self.guessing or position > 0
            try:
                y = self.module(child, y)
            except UserError as exc:
                self.warn(
                    f"{exc.message}; shapes from there on are unknown (forward may apply a "
                    f"module more than once, e.g. one pool after each conv, or in another "
                    f"order than {module.label} prints)"
                )
                self.unknown(child)
                y = None
        return y

    def leaf(self, module: Module, x: Flow) -> Flow | None:
        layer = module.layer
        function = None if layer is None else leaf_rule(module.kind, layer)
        if layer is None or function is None:
            why = "its dims are not printed" if module.kind in PARAMETERLESS else "unknown module"
            self.warn(f"{module.label}: {why}; shapes after it are unknown")
            self.record(module, None, 0)
            return None
        settings = self.built.get(module.path)
        if settings:
            args = MappingProxyType({**layer.args, **settings})
            layer = replace(layer, args=args, given=layer.given | frozenset(settings))
        try:
            x = self._hidden_flatten(module, x)
            y, macs = function(layer, x)
            ceil = unprinted_ceil_mode(layer, x)
        except UserError as exc:
            raise UserError(f"{module.label}: {exc.message}", exc.hint) from None
        if ceil is not None:
            self.assume(
                f"{module.label}: AvgPool's repr does not print ceil_mode; assumed False "
                f"(PyTorch's default), which gives {shape_text(y.shape)}; with ceil_mode=True "
                f"it gives {shape_text(ceil)} (write ceil_mode=True into the text if so)"
            )
        if any(n < 1 for n in y.shape[1:]):
            raise UserError(f"{module.label}: gives an empty output {shape_text(y.shape)}")
        self.record(module, y, macs)
        return y

    def _hidden_flatten(self, module: Module, x: Flow) -> Flow:
        """``torch.flatten(x, 1)`` hidden in forward before a Linear: where the sizes say so.

        Only a forward that is not known can hide one, and only where it hands a tensor to a
        child (:attr:`_Engine.loose`): a Sequential, a known block and ``Linear`` itself apply
        no flatten (PyTorch's Linear maps the last dimension and keeps the others, so
        ``[N, 1, F]`` stays 3-d there). Inside one Sequential nothing
        can flatten unseen, so shape-preserving layers that precede the Linear in its own
        container (AlexNet's Dropout) saw the flat tensor if they follow such a place.
        """
        layer = module.layer
        if layer is None or layer.kind != "Linear" or x.rank < 3:
            return x
        in_features = layer.integer("in_features", 0)
        if math.prod(x.shape[1:]) != in_features:
            return x
        parent = module.path.rsplit(".", 1)[0] + "." if "." in module.path else ""
        index = len(self.rows)
        places = [index] if index in self.loose else []
        while (
            index > 0
            and self.rows[index - 1].path.startswith(parent)
            and self.rows[index - 1].kind in SAME_SHAPE
        ):
            index -= 1
            if index in self.loose:
                places.append(index)
        if not places:
            return x
        index = places[-1]
        flat = (x.shape[0], in_features)
        for before in range(index, len(self.rows)):
            self.rows[before] = replace(
                self.rows[before], output_shape=flat, receptive_field=None, jump=None
            )
        where = self.rows[index].path if index < len(self.rows) else module.path
        self.notes.append(
            f"inserted a flatten before {where}: {shape_text(x.shape)} -> {shape_text(flat)} "
            "(the torch.flatten in forward, which a repr does not show)"
            + (
                f"; without it, {module.label} would take {shape_text(x.shape)} as it is"
                if x.shape[-1] == in_features
                else ""
            )
        )
        return Flow(flat)

    # ------------------------------------------------------------ recording ---

    def record(self, module: Module, y: Flow | None, macs: int) -> None:
        first = module.path not in self.called
        self.called.add(module.path)
        params = self.layer_params(module).total if first and module.layer is not None else 0
        self.rows.append(
            Row(
                path=module.path or module.kind,
                kind=module.kind,
                output_shape=None if y is None else y.shape,
                params=params,
                macs=macs,
                receptive_field=None if y is None else y.rf,
                jump=None if y is None else y.jump,
                guessed=self.guessing and y is not None,
            )
        )

    def unknown(self, module: Module) -> None:
        """Rows with unknown shapes for every leaf of ``module`` not yet called."""
        for inner in module.walk():
            if inner.path in self.called:
                continue
            if inner.layer is not None or not inner.children:
                self.record(inner, None, 0)
            rules = RULES.get(inner.kind, ())
            if any(r.hidden for r in rules):
                self.params_exact = False
                self.warn(
                    f"{inner.kind}: owns parameters the repr does not print, whose sizes "
                    "depend on shapes that are unknown here; the total leaves them out"
                )


@dataclass
class _Bound:
    """The :class:`~cnncli.core.forward.base.Run` a rule gets for one block."""

    engine: _Engine
    block: Module

    def child(self, name: str) -> Module:
        child = self.block.child(name)
        if child is None:
            raise UserError(f"{self.block.label}: has no child {name!r}")
        return child

    def __call__(self, name: str, x: Flow) -> Flow:
        return self.module(self.child(name), x)

    def has(self, name: str) -> bool:
        return self.block.child(name) is not None

    def module(self, child: Module, x: Flow) -> Flow:
        y = self.engine.module(child, x)
        if y is None:
            raise _ShapesLost(child)
        return y

    def each(
        self, name: str, x: Flow, step: Callable[[Module, Flow], Flow | None] | None = None
    ) -> list[Flow]:
        outputs = []
        for grandchild in self.child(name).children:
            y = None if step is None else step(grandchild, x)
            x = self.module(grandchild, x) if y is None else y
            outputs.append(x)
        self.called(name, x)
        return outputs

    def called(self, name: str, y: Flow) -> Flow:
        self.engine.calls.append((self.child(name).path, y.shape))
        return y

    def itself(self, x: Flow) -> Flow:
        y = self.engine.leaf(self.block, x)
        if y is None:
            raise _ShapesLost(self.block)
        return y

    def known(self, child: str | Module, y: Flow, macs: int = 0) -> Flow:
        module = self.child(child) if isinstance(child, str) else child
        self.engine.record(module, y, macs)
        self.engine.calls.append((module.path, y.shape))
        return y

    def row(self, y: Flow, macs: int = 0) -> Flow:
        self.engine.record(self.block, y, macs)
        for inner in self.block.walk():
            self.engine.called.add(inner.path)
        return y

    def param(self, name: str, shape: Sequence[int]) -> None:
        self._declare(name, shape, buffer=False)

    def buffer(self, name: str, shape: Sequence[int]) -> None:
        self._declare(name, shape, buffer=True)

    def _declare(self, name: str, shape: Sequence[int], *, buffer: bool) -> None:
        full = f"{self.block.path}.{name}" if self.block.path else name
        self.engine.hidden[full] = Hidden(full, tuple(shape), buffer)

    def note(self, message: str) -> None:
        self.engine.notes.append(f"{self.block.kind}: {message}")

    def assume(self, message: str) -> None:
        self.engine.assume(f"{self.block.kind}: {message}")

    def built(self, child: str | Module, **args: object) -> None:
        module = self.child(child) if isinstance(child, str) else child
        self.engine.built.setdefault(module.path, {}).update(args)


class _ShapesLost(Exception):
    """A child's shape became unknown inside a rule: the rest of the block is unknown too."""

    def __init__(self, module: Module) -> None:
        super().__init__(module.label)
        self.module = module

"""``print(model)`` text -> a tree of :class:`Module`: the repr parser, and nothing else.

PyTorch prints a module as ``Kind(`` + one ``(name): child`` line per child + ``)``,
a leaf on one line as ``Kind(extra_repr)``, and repeats in a ModuleList as
``(0-2): 3 x Kind(...)``. Modules that have both arguments and children (timm's
``BatchNormAct2d``) print their ``extra_repr`` on a line of its own inside the
parentheses. The text is taken as people paste it: CRLF, tabs, any indentation, a
``>>> print(model)`` or ``In [3]:`` line before it and an ``Out[3]:`` prefix.
Plain layer lines with no container around them form one sequence.

Leaves whose class is a ``torch.nn`` layer, or a subclass that prints like one
(:data:`LAYER_ALIASES`), are parsed into :class:`~cnncli.core.layers.Layer`; any
other class keeps its raw text for the forward rules. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from cnncli.core.errors import UserError
from cnncli.core.layers import SIGNATURES, Layer, parse_layer

# Printed class names that subclass a torch.nn layer and print its extra_repr: the
# arguments bind by that layer's signature (the shape rule may still differ, e.g. the
# dynamic "same" padding of timm's Conv2dSame).
LAYER_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "NonDynamicallyQuantizableLinear": "Linear",
        "LayerNorm2d": "LayerNorm",  # torchvision.models.convnext / timm.layers.norm
        "GroupNorm1": "GroupNorm",  # timm.layers.norm
        "Conv2dSame": "Conv2d",  # timm.layers.conv2d_same
        "ScaledStdConv2d": "Conv2d",
        "ScaledStdConv2dSame": "Conv2d",
        "StdConv2d": "Conv2d",
        "StdConv2dSame": "Conv2d",
        "BatchNormAct2d": "BatchNorm2d",  # timm.layers.norm_act: BatchNorm2d + drop + act
        "GroupNormAct": "GroupNorm",
        "GroupNorm1Act": "GroupNorm",
        "LayerNormAct2d": "LayerNorm",
        "LayerNormAct": "LayerNorm",
        "FrozenBatchNorm2d": "BatchNorm2d",
    }
)
CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
MAX_DEPTH = 200  # deeper nesting than any real model; refused, not a RecursionError

_LINE = re.compile(r"^\((?P<name>[^)]*)\):\s*(?:(?P<count>\d+) x )?(?P<body>.*)$")
_OPEN = re.compile(r"^(?P<kind>[A-Za-z_][\w.]*)\($")
_PROMPT = re.compile(r"^(>>>|\.\.\.|In \[\d+\]:)(\s|$)")
_OUT_PREFIX = re.compile(r"^Out\[\d+\]:\s*")
_CALL = re.compile(r"^(?P<kind>[A-Za-z_][\w.]*)\((?P<inside>.*)\)$")


@dataclass(frozen=True)
class Module:
    """A node of the printed tree: its class, its parsed layer (if any), its children."""

    name: str
    path: str
    kind: str
    layer: Layer | None = None
    children: tuple[Module, ...] = ()
    line: int = 0
    text: str = ""  # the printed arguments, e.g. "p=0.1, mode=row" or a bare argument line

    @property
    def label(self) -> str:
        """How messages name a module: its path and class, or its class at the top."""
        return f"{self.path} ({self.kind})" if self.path else self.kind

    def child(self, name: str) -> Module | None:
        for child in self.children:
            if child.name == name:
                return child
        return None

    @property
    def child_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.children)

    def walk(self) -> Iterator[Module]:
        """Every module, parents before children, without recursion (deep trees are fine)."""
        stack = [self]
        while stack:
            module = stack.pop()
            yield module
            stack.extend(reversed(module.children))


def clean_lines(text: str) -> list[tuple[int, str]]:
    """Numbered, stripped, non-empty lines with REPL prompts and ``Out[n]:`` removed."""
    lines = [(n + 1, raw.strip()) for n, raw in enumerate(text.splitlines())]
    lines = [(n, line) for n, line in lines if line]
    while lines and _PROMPT.match(lines[0][1]):
        lines.pop(0)
    if lines:
        number, first = lines[0]
        lines[0] = (number, _OUT_PREFIX.sub("", first))
    return lines


def parse_model(text: str) -> Module:
    """Parse a ``print(model)`` repr (any nesting), a single layer, or plain layer lines."""
    lines = clean_lines(text)
    if not lines:
        raise UserError("the model text is empty", hint="paste the output of print(model)")
    number, first = lines[0]
    opened = _OPEN.match(first)
    if opened is None:
        if len(lines) == 1:
            return _leaf("", "", first, number)
        # Layer lines without a container: one sequence, as nn.Sequential(*layers) runs them.
        children = tuple(
            _leaf(str(i), str(i), body, n) for i, (n, body) in enumerate(lines) if body != ")"
        )
        return Module("", "", "Sequential", None, children, number)
    root, end = _parse_block(lines, 0, "", "", _short(opened["kind"]))
    if end != len(lines):
        raise UserError(
            f"line {lines[end][0]}: text after the model's closing ')': {lines[end][1]!r}",
            hint="paste one model at a time",
        )
    return root


def _short(kind: str) -> str:
    return kind.rsplit(".", 1)[-1]


def _parse_block(
    lines: list[tuple[int, str]], start: int, name: str, path: str, kind: str
) -> tuple[Module, int]:
    """The module opened on ``lines[start]``; returns it and the index after its ')'.

    An explicit stack instead of recursion: a 5,000-deep paste must not hit Python's limit.
    """
    frames: list[_Frame] = [_Frame(name, path, kind, lines[start][0], names=[name])]
    index = start + 1
    while index < len(lines):
        number, text = lines[index]
        frame = frames[-1]
        index += 1
        if text == ")":
            frames.pop()
            built = frame.build()
            if not frames:
                return built[0], index
            frames[-1].children.extend(built)
            continue
        match = _LINE.match(text)
        if match is None:
            frame.arguments.append(text)  # an extra_repr line (norm-act layers) or a bare line
            continue
        names = _expand_names(match["name"], match["count"], number)
        body = match["body"]
        opened = _OPEN.match(body)
        child_prefix = frame.path_of(names[0])
        if opened is not None:
            if len(frames) >= MAX_DEPTH:
                raise UserError(f"line {number}: modules nested deeper than {MAX_DEPTH} levels")
            frames.append(_Frame(names[0], child_prefix, _short(opened["kind"]), number, names))
            frames[-1].siblings_prefix = frame.path
            continue
        for child_name in names:
            frame.children.append(_leaf(child_name, frame.path_of(child_name), body, number))
    opened_at = frames[-1].line
    raise UserError(
        f"the model text ends at line {lines[-1][0]} before the ')' that closes "
        f"{frames[-1].kind} (opened at line {opened_at})",
        hint="the paste looks cut off: copy the whole output of print(model)",
    )


@dataclass
class _Frame:
    name: str
    path: str
    kind: str
    line: int
    names: list[str]
    siblings_prefix: str = ""
    children: list[Module] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)

    def path_of(self, child: str) -> str:
        return f"{self.path}.{child}" if self.path else child

    def build(self) -> list[Module]:
        """This module, once per name of a ``(0-2): 3 x`` repeat, each with its own paths."""
        seen: dict[str, int] = {}
        for child in self.children:  # PyTorch names each child once: the text was edited
            if child.name in seen:
                raise UserError(
                    f"line {child.line}: {self.kind} has two children named ({child.name}) "
                    f"(lines {seen[child.name]} and {child.line})",
                    hint="print(model) names each child once: paste it as printed",
                )
            seen[child.name] = child.line
        text = ", ".join(self.arguments)
        layer = _layer_of(self.kind, text, self.line, self.path) if text else None
        first = Module(
            self.name, self.path, self.kind, layer, tuple(self.children), self.line, text
        )
        built = [first]
        for other in self.names[1:]:
            path = f"{self.siblings_prefix}.{other}" if self.siblings_prefix else other
            built.append(
                replace(first, name=other, path=path, children=_reprefix(first.children, path))
            )
        return built


def _reprefix(children: tuple[Module, ...], prefix: str) -> tuple[Module, ...]:
    return tuple(
        replace(c, path=f"{prefix}.{c.name}", children=_reprefix(c.children, f"{prefix}.{c.name}"))
        for c in children
    )


def _layer_of(kind: str, inside: str, number: int, path: str) -> Layer | None:
    """A layer for a printed class torch.nn knows (directly or by :data:`LAYER_ALIASES`)."""
    signature_name = LAYER_ALIASES.get(kind, kind)
    if signature_name not in SIGNATURES:
        return None
    try:
        return parse_layer(f"{signature_name}({inside})")
    except UserError as exc:
        where = f"line {number}" + (f" ({path})" if path else "")
        raise UserError(f"{where}: {kind}: {exc.message}", exc.hint) from None


def _leaf(name: str, path: str, body: str, number: int) -> Module:
    call = _CALL.match(body)
    if call is None:
        where = f"line {number}" + (f" ({path})" if path else "")
        raise UserError(
            f"{where}: expected a module like 'Conv2d(3, 64, kernel_size=(3, 3))', got {body!r}"
        )
    kind = _short(call["kind"])
    if kind in CONTAINERS and call["inside"] == "":
        return Module(name, path, kind, None, (), number)  # an empty container: the identity
    layer = _layer_of(kind, call["inside"], number, path)
    return Module(name, path, kind, layer, (), number, call["inside"])


def _expand_names(name: str, count: str | None, number: int) -> list[str]:
    """``(0-2): 3 x Block(...)`` is how ModuleList prints repeats."""
    if count is None:
        return [name]
    bounds = re.fullmatch(r"(\d+)-(\d+)", name)
    if bounds is None:
        raise UserError(f"line {number}: cannot read the repeated module range {name!r}")
    first, last = int(bounds[1]), int(bounds[2])
    if last - first + 1 != int(count) or int(count) > 100_000:
        raise UserError(f"line {number}: range {name} does not hold {count} modules")
    return [str(i) for i in range(first, last + 1)]

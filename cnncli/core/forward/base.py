"""What forward rules are made of: a shape in flight, the runner a rule calls, tensor ops.

A rule mirrors one block class's ``forward`` with shapes only:
``rule(block, x, run) -> y``. ``run(name, x)`` pushes ``x`` through the named child
(recording a table row per leaf call); the functions below (:func:`add`, :func:`concat`,
:func:`flatten`, ...) do what ``forward`` does between child calls, with PyTorch's
checks. Shapes include the batch dimension, as in the upstream code. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cnncli.core.errors import UserError
from cnncli.core.model_text import Module
from cnncli.core.parsing import shape_text

Dims = tuple[float, ...]


@dataclass(frozen=True)
class Flow:
    """A tensor in flight: its shape (batch first) and, while known, its receptive field."""

    shape: tuple[int, ...]
    rf: Dims | None = None
    jump: Dims | None = None
    integer: bool = False  # token ids, as an Embedding wants

    @property
    def rank(self) -> int:
        return len(self.shape)

    def dim(self, index: int) -> int:
        return self.shape[normalize_dim(index, self.rank)]

    def reshaped(self, shape: Sequence[int]) -> Flow:
        """A new shape with no receptive field (spatial positions were rearranged)."""
        return Flow(tuple(shape))


def normalize_dim(dim: int, rank: int) -> int:
    index = dim + rank if dim < 0 else dim
    if not 0 <= index < rank:
        raise UserError(f"dimension {dim} is out of range for a {rank}-d tensor")
    return index


class Run(Protocol):
    """What a rule may do besides tensor ops: run children, declare hidden tensors."""

    def __call__(self, name: str, x: Flow) -> Flow:
        """Push ``x`` through the child ``name`` (a leaf, a container or another block)."""
        ...

    def has(self, name: str) -> bool: ...

    def child(self, name: str) -> Module:
        """The child ``name`` itself (the user error if the block has none)."""
        ...

    def module(self, child: Module, x: Flow) -> Flow:
        """Push ``x`` through ``child`` (for iterating a ModuleList or Sequential)."""
        ...

    def each(
        self, name: str, x: Flow, step: Callable[[Module, Flow], Flow | None] | None = None
    ) -> list[Flow]:
        """Run the children of child ``name`` in order and return every output (a feature
        pyramid); ``step`` may take over a grandchild by returning its output."""
        ...

    def called(self, name: str, y: Flow) -> Flow:
        """Note that child ``name`` produced ``y`` (its insides were run by the rule)."""
        ...

    def itself(self, x: Flow) -> Flow:
        """The block's own layer (timm's BatchNormAct2d is a BatchNorm2d with children)."""
        ...

    def known(self, child: str | Module, y: Flow, macs: int = 0) -> Flow:
        """Record a call of ``child`` whose output the rule knows (``Permute()``)."""
        ...

    def row(self, y: Flow, macs: int = 0) -> Flow:
        """Record the block itself as one call (MultiheadAttention, counted whole)."""
        ...

    def param(self, name: str, shape: Sequence[int]) -> None:
        """A parameter the repr never prints (a class token, a layer scale)."""
        ...

    def buffer(self, name: str, shape: Sequence[int]) -> None: ...

    def note(self, message: str) -> None:
        """Something the user should know about an assumption the rule made."""
        ...

    def assume(self, message: str) -> None:
        """A note on an assumption that may make a shape or count wrong (``--strict`` fails)."""
        ...

    def built(self, child: str | Module, **args: object) -> None:
        """Constructor arguments of the leaf ``child`` the repr does not print but the
        upstream code fixes (timm's ``downsample_avg``: ``ceil_mode=True``)."""
        ...


Forward = Callable[[Module, Flow, Run], Flow]


@dataclass(frozen=True)
class Rule:
    """A block's forward, the children it expects, and the upstream code it mirrors.

    ``children`` must all be present and every child must be in ``children`` or
    ``optional``; otherwise the printed class is someone else's block of the same name.
    ``None`` accepts any children (for families that vary them).
    """

    forward: Forward
    source: str
    children: frozenset[str] | None = None
    optional: frozenset[str] = frozenset()
    hidden: bool = False  # declares parameters or buffers the repr does not print

    def matches(self, block: Module) -> bool:
        if self.children is None:
            return True
        names = set(block.child_names)
        return self.children <= names and names <= self.children | self.optional


class Registry(dict[str, list[Rule]]):
    """Rules by printed class name; ``@RULES.add("BasicBlock")`` registers one."""

    def add(self, *names: str) -> Callable[[Rule], Rule]:
        def register(item: Rule) -> Rule:
            for name in names:
                self.setdefault(name, []).append(item)
            return item

        return register


def rule(
    source: str, children: str | None = None, optional: str = "", hidden: bool = False
) -> Callable[[Forward], Rule]:
    """Decorator: ``@rule("torchvision BasicBlock.forward", "conv1 bn1 relu conv2 bn2", ...)``."""

    def wrap(forward: Forward) -> Rule:
        return Rule(
            forward,
            source,
            None if children is None else frozenset(children.split()),
            frozenset(optional.split()),
            hidden,
        )

    return wrap


# ------------------------------------------------------- shared forward shapes ---


def avg_pool_built(run: Run, module: Module | None, name: str = "0", **args: object) -> None:
    """The child ``name`` of ``module``, if it is an AvgPool2d, was built with ``args``
    (its ``ceil_mode``, which the repr does not print, known from the upstream constructor)."""
    pool = None if module is None else module.child(name)
    if pool is not None and pool.kind == "AvgPool2d":
        run.built(pool, **args)


def chain(run: Run, names: str, x: Flow) -> Flow:
    """The named children that the block has, one after another (a name may repeat)."""
    for name in names.split():
        if run.has(name):
            x = run(name, x)
    return x


def residual(run: Run, x: Flow, main: str, after: str) -> Flow:
    """``after(main(x) + downsample(x))``, the downsample only where the block has one:
    torchvision's and timm's ResNet blocks."""
    y = chain(run, main, x)
    shortcut = run("downsample", x) if run.has("downsample") else x
    return run(after, add(y, shortcut))


def dense_concat(b: Module, x: Flow, run: Run) -> Flow:
    """DenseNet's block: each layer sees every earlier output concatenated, and the block
    returns them all concatenated."""
    features = [x]
    for layer in b.children:
        features.append(run.module(layer, concat(features, 1)))
    return concat(features, 1)


def dense_transition(order: str) -> Callable[[Module, Flow, Run], Flow]:
    """DenseNet's transition, a Sequential ending in ``AvgPool2d(2, 2)``, which both
    torchvision and timm build with ``ceil_mode=False``: its children in ``order``."""

    def transition(b: Module, x: Flow, run: Run) -> Flow:
        avg_pool_built(run, b, "pool", ceil_mode=False)
        return chain(run, order, x)

    return transition


# ---------------------------------------------------------------- tensor ops ---


def broadcast(a: Sequence[int], b: Sequence[int], what: str = "add") -> tuple[int, ...]:
    """NumPy/PyTorch broadcasting of two shapes, or the user error naming both."""
    result: list[int] = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise UserError(
                f"cannot {what} shapes {shape_text(a)} and {shape_text(b)}",
                hint="a shortcut/downsample branch is missing or has the wrong size",
            )
        result.append(max(x, y) if 1 in (x, y) else x)
    return tuple(reversed(result))


def _widest(a: Dims | None, b: Dims | None) -> Dims | None:
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


def add(a: Flow, b: Flow) -> Flow:
    """``a + b`` (a residual): the broadcast shape; the receptive field of the wider branch."""
    shape = broadcast(a.shape, b.shape)
    if shape != a.shape and shape != b.shape:
        return Flow(shape)
    jump = a.jump if a.jump == b.jump else None
    return Flow(shape, _widest(a.rf, b.rf) if jump else None, jump)


def gate(x: Flow, g: Flow) -> Flow:
    """``x * g`` for a gate (squeeze-excitation): the gate broadcasts onto ``x``."""
    shape = broadcast(x.shape, g.shape, "multiply")
    if shape != x.shape:
        raise UserError(f"a gate of {shape_text(g.shape)} does not fit {shape_text(x.shape)}")
    return x


def concat(flows: Sequence[Flow], dim: int = 1) -> Flow:
    """``torch.cat(flows, dim)``: every other dimension must agree."""
    first = flows[0]
    index = normalize_dim(dim, first.rank)
    for other in flows[1:]:
        if other.rank != first.rank or any(
            x != y
            for i, (x, y) in enumerate(zip(first.shape, other.shape, strict=True))
            if i != index
        ):
            raise UserError(
                f"cannot concatenate {shape_text(first.shape)} and {shape_text(other.shape)} "
                f"along dimension {dim}"
            )
    shape = list(first.shape)
    shape[index] = sum(f.shape[index] for f in flows)
    jumps = {f.jump for f in flows}
    rf: Dims | None = first.rf
    for other in flows[1:]:
        rf = _widest(rf, other.rf)
    jump = first.jump if len(jumps) == 1 else None
    return Flow(tuple(shape), rf if jump else None, jump)


def split(x: Flow, sizes: Sequence[int], dim: int = 1) -> list[Flow]:
    """``torch.split(x, sizes, dim)`` with explicit sizes (they must add up)."""
    index = normalize_dim(dim, x.rank)
    if sum(sizes) != x.shape[index]:
        raise UserError(f"cannot split {x.shape[index]} into {list(sizes)}")
    return [Flow((*x.shape[:index], n, *x.shape[index + 1 :]), x.rf, x.jump) for n in sizes]


def flatten(x: Flow, start: int = 1, end: int = -1) -> Flow:
    """``torch.flatten(x, start, end)``."""
    first, last = normalize_dim(start, x.rank), normalize_dim(end, x.rank)
    if last < first:
        return x
    merged = math.prod(x.shape[first : last + 1])
    return x.reshaped((*x.shape[:first], merged, *x.shape[last + 1 :]))


def permute(x: Flow, dims: Sequence[int]) -> Flow:
    """``x.permute(dims)``."""
    if sorted(normalize_dim(d, x.rank) for d in dims) != list(range(x.rank)):
        raise UserError(f"permute{tuple(dims)} does not fit a {x.rank}-d tensor")
    return x.reshaped(tuple(x.shape[normalize_dim(d, x.rank)] for d in dims))


def transpose(x: Flow, a: int, b: int) -> Flow:
    order = list(range(x.rank))
    i, j = normalize_dim(a, x.rank), normalize_dim(b, x.rank)
    order[i], order[j] = order[j], order[i]
    return permute(x, order)


def reduce(x: Flow, dims: Sequence[int], keepdim: bool = False) -> Flow:
    """``x.mean(dims, keepdim)`` (or sum/amax): the reduced dimensions go or become 1."""
    indices = {normalize_dim(d, x.rank) for d in dims}
    if keepdim:
        return x.reshaped(tuple(1 if i in indices else n for i, n in enumerate(x.shape)))
    return x.reshaped(tuple(n for i, n in enumerate(x.shape) if i not in indices))


def select(x: Flow, dim: int) -> Flow:
    """``x[:, 0]`` along ``dim`` (a class token): the dimension goes."""
    index = normalize_dim(dim, x.rank)
    return x.reshaped(x.shape[:index] + x.shape[index + 1 :])


def resize(x: Flow, spatial: Sequence[int]) -> Flow:
    """``F.interpolate(x, size=spatial)`` or an adaptive pool to ``spatial``."""
    if x.rank != 2 + len(spatial):
        raise UserError(f"cannot resize {shape_text(x.shape)} to {list(spatial)}")
    return x.reshaped((*x.shape[:2], *spatial))

"""Options several commands share, declared once as dataclasses (the CLI's option bundles).

Each bundle is a frozen dataclass whose fields are Typer options. :func:`bundle` puts
those fields into a command's signature where the command names the bundle, and hands
the command one instance: ``smooth``, ``gradient``, ``sobel`` and ``pool`` declare
``run: ImageRun`` (and the edge commands ``edge: EdgeStyle``) rather than fourteen
parameters each. Like sqlite-utils' shared click decorators, without click.

Building a bundle validates nothing: :meth:`ImageRun.io_options` and
:meth:`ImageRun.batch_options` do, when a command gets to reading files, so that
``pool --values`` never trips over an image option it does not use.
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cnncli.core.enums import EdgeOutput
from cnncli.core.errors import UserError
from cnncli.defaults import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS, DEFAULT_NAME

if TYPE_CHECKING:  # imported when a command runs, not at start-up
    from cnncli.batch import BatchOptions
    from cnncli.pipeline import IOOptions

Command = TypeVar("Command", bound=Callable[..., Any])

BATCH = "Batch"

PathsArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="INPUT OUTPUT ('-' = stdin/stdout), or only OUTPUT with --sample; "
        "with --out-dir, any number of INPUTs.",
        show_default=False,
    ),
]


@dataclasses.dataclass(frozen=True)
class ImageRun:
    """Where an image command's files come from and go, and how: its shared options."""

    sample: Annotated[
        bool, typer.Option("--sample", help="Use the bundled photograph (CC0) as input.")
    ] = False
    bits: Annotated[
        int | None,
        typer.Option("--bits", help="Output bits per sample, 8 or 16; default: as the input."),
    ] = None
    # The old name of --bits, kept working for scripts but hidden: in `summary`, --depth
    # means how deep to show the module tree, and an option name has one meaning.
    old_depth: Annotated[int | None, typer.Option("--depth", hidden=True)] = None
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Output format (png, jpeg, tiff, webp...); default: the extension, PNG on stdout.",
        ),
    ] = None
    compress_level: Annotated[
        int,
        typer.Option(
            "--compress-level", help="PNG compression 0-9 (1: fast, files a little larger)."
        ),
    ] = DEFAULT_COMPRESS_LEVEL
    no_clobber: Annotated[
        bool, typer.Option("--no-clobber", help="Refuse to overwrite an existing output.")
    ] = False
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", help="Refuse larger images (decompression-bomb guard).")
    ] = DEFAULT_MAX_PIXELS
    jobs: Annotated[
        int | None,
        typer.Option(
            "-j",
            "--jobs",
            help="Threads for one image; in batch mode, files at once (worker processes on "
            "Linux); with --scheduler local, Dask worker processes. Default: all cores.",
        ),
    ] = None
    out_dir: Annotated[
        str | None,
        typer.Option(
            "--out-dir",
            help="Batch mode: every PATH is an input, outputs go in this directory "
            "(made if needed).",
            rich_help_panel=BATCH,
        ),
    ] = None
    suffix: Annotated[
        str,
        typer.Option(
            "--suffix",
            help="Batch: added to each output's stem (a.png -> a_edges.png with --suffix _edges).",
            rich_help_panel=BATCH,
        ),
    ] = ""
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="Batch: output file name from {stem} {ext} {name} {suffix}, e.g. '{stem}.tif'.",
            rich_help_panel=BATCH,
        ),
    ] = DEFAULT_NAME
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Batch: leave outputs that already exist (resume an interrupted run).",
            rich_help_panel=BATCH,
        ),
    ] = False
    quiet: Annotated[
        bool,
        typer.Option(
            "-q",
            "--quiet",
            help="Batch: no progress bar, no summary line; errors are still shown.",
            rich_help_panel=BATCH,
        ),
    ] = False
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS|local",
            help="Batch: run the files on a Dask cluster (tcp://HOST:8786), or on -j worker "
            "processes here (local). Needs cnncli\\[dask].",
            rich_help_panel=BATCH,
        ),
    ] = None

    def io_options(self) -> "IOOptions":
        """How to read and write each file (checked: --bits 8/16, --compress-level 0..9...)."""
        if self.bits is not None and self.old_depth is not None and self.bits != self.old_depth:
            raise UserError(
                f"--bits {self.bits} and --depth {self.old_depth} disagree; give only --bits"
            )
        from cnncli.pipeline import IOOptions

        return IOOptions(
            depth=self.bits if self.bits is not None else self.old_depth,
            format=self.fmt,
            compress_level=self.compress_level,
            no_clobber=self.no_clobber,
            max_pixels=self.max_pixels,
        )

    def batch_options(self) -> "BatchOptions":
        """How a batch (``--out-dir``) names its outputs and reports."""
        from cnncli.batch import BatchOptions

        if self.out_dir is not None and self.out_dir.strip() in ("", "-"):
            shown = "-" if self.out_dir.strip() == "-" else "empty"
            raise UserError(
                f"--out-dir is {shown}: it takes a folder",
                hint="--out-dir . for the current folder (a folder named '-': --out-dir ./-)",
            )
        return BatchOptions(
            Path(self.out_dir) if self.out_dir is not None else None,
            self.suffix,
            self.name,
            self.skip_existing,
            self.quiet,
            self.scheduler,
        )


@dataclasses.dataclass(frozen=True)
class EdgeStyle:
    """What gradient and sobel make of the two derivatives: which output, how bright."""

    output: Annotated[
        EdgeOutput,
        typer.Option(
            "--output",
            help="x and y are signed (zero = mid-grey); angle is atan2(y, x) over the range.",
        ),
    ] = EdgeOutput.MAGNITUDE
    normalize: Annotated[
        str,
        typer.Option(
            "--normalize",
            metavar="max|pNN|none",
            help="Which edge is white: max (the strongest: magnitude * 255 / max, the "
            "reference formula), pNN (that percentile, brighter: p99), or none (raw "
            "values, clipped).",
        ),
    ] = "max"
    gamma: Annotated[
        float,
        typer.Option(
            "--gamma",
            help="Brighten (> 1) or darken (< 1) the magnitude: "
            "white * (v / white) ** (1 / gamma).",
        ),
    ] = 1.0
    # The old spelling of --normalize none.
    no_normalize: Annotated[bool, typer.Option("--no-normalize", hidden=True)] = False
    per_channel: Annotated[
        bool,
        typer.Option("--per-channel", help="Filter each colour channel instead of the luminance."),
    ] = False


def bundle(cls: type[Any], into: str) -> Callable[[Command], Command]:
    """Expand the keyword-only parameter ``into`` of a command into ``cls``'s fields.

    Typer reads the command's signature, so it sees every field as an option (in the
    dataclass's order, where ``into`` stood); the command is called with one ``cls``.
    """
    fields = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=field.type,
        )
        for field in dataclasses.fields(cls)
    ]
    names = [field.name for field in fields]

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command)
        if into not in signature.parameters:
            raise TypeError(f"{command.__name__} has no parameter {into!r} to expand")
        clash = set(names) & set(signature.parameters)
        if clash:
            raise TypeError(f"{command.__name__}: {sorted(clash)} clash with {cls.__name__}")
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            parameters += fields if parameter.name == into else [parameter]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return command(**kwargs, **{into: cls(**values)})

        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            p.name: p.annotation for p in parameters if p.annotation is not p.empty
        }
        return wrapper  # type: ignore[return-value]

    return decorate

"""The Typer app: one short function per subcommand (options -> core call -> render).

All error handling lives in :class:`CnncliGroup.main`: a :class:`UserError` from core
or a usage mistake caught by the parser becomes one ``error: ...`` line on stderr
and exit status 2; ``--debug`` (or ``CNNCLI_DEBUG=1``) shows the traceback instead.
"""

import os
import signal
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from cnncli import __version__
from cnncli.core.enums import PoolOp
from cnncli.core.errors import Names, UserError
from cnncli.core.parsing import parse_floats, parse_ints, parse_shape
from cnncli.files import display_name, read_text
from cnncli.options import EdgeStyle, ImageRun, PathsArg, bundle
from cnncli.render import print_warning

if TYPE_CHECKING:
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    from cnncli.batch import BatchOptions
    from cnncli.core.edges import EdgeKernel
    from cnncli.core.model_text import Module
    from cnncli.core.pool import PoolSpec
    from cnncli.core.weights import WeightsJoin
    from cnncli.pipeline import ImageFilter

# cnncli runs its own threads over strips of an image (and over the files of a batch); BLAS
# threads inside each of them would fight over the same cores (OpenBLAS spins while it waits:
# smoothing a 4096x4096 image took 2-4 s instead of 0.2 s), so the matrix products of the
# smoothing run on the thread that calls them. Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer its reader left
DEBUG_ENV = "CNNCLI_DEBUG"


def _debug_requested(args: Sequence[str] | None) -> bool:
    argv = sys.argv[1:] if args is None else list(args)
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    from cnncli.render import print_error

    print_error(message)
    sys.exit(code)


def _click_exceptions() -> "tuple[type[ClickException], type[NoArgsIsHelpError]]":
    """(ClickException, NoArgsIsHelpError): every parser error, and bare ``cnncli``.

    typer <0.29 vendors click as ``typer._click`` and re-exports only ``BadParameter``
    from it; these two have no public path, so the private import is kept here alone.
    """
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    return ClickException, NoArgsIsHelpError


ClickError, NoArgsIsHelp = _click_exceptions()

COMPLETION_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def _named_shell_completion(argv: Sequence[str]) -> bool:
    """``--show-completion zsh`` / ``--install-completion zsh``: for the shell named.

    Typer's two flags take no value: they detect the running shell and ignore a name
    after them, so ``--show-completion zsh`` typed in bash printed the bash script.
    Returns whether the request was handled here.
    """
    if (
        len(argv) != 2
        or argv[0] not in ("--show-completion", "--install-completion")
        or argv[1] not in COMPLETION_SHELLS
    ):
        return False
    # Typer's only home for these two (typer.completion imports them, not exports them).
    from typer._completion_shared import get_completion_script, install

    names = {"prog_name": "cnncli", "complete_var": "_CNNCLI_COMPLETE"}
    if argv[0] == "--show-completion":
        typer.echo(get_completion_script(shell=argv[1], **names))
    else:
        shell, path = install(shell=argv[1], **names)
        typer.echo(f"{shell} completion installed in {path}")
        typer.echo("Completion will take effect once you restart the terminal")
    return True


class CnncliGroup(TyperGroup):
    """Turns every user mistake into ``error: ...`` + exit 2, in one place."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from cnncli.files import ReaderGone, checked_stdout, locked_stderr

        debug = _debug_requested(args)
        try:
            with checked_stdout(), locked_stderr():  # stdout checked; see files.py
                if _named_shell_completion(sys.argv[1:] if args is None else list(args)):
                    sys.exit(0)
                rv = super().main(
                    args=args,
                    prog_name=prog_name,
                    complete_var=complete_var,
                    standalone_mode=False,
                    **extra,
                )
        except UserError as exc:
            if debug:
                raise
            _fail(str(exc))
        except NoArgsIsHelp as exc:
            # Bare ``cnncli``: the help is the answer, not a mistake. Rich help has been
            # printed already (the message is then empty); plain help is in the message.
            if exc.format_message():
                typer.echo(exc.format_message())
            sys.exit(0)
        except ClickError as exc:
            if debug:
                raise
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            _fail(exc.format_message() + hint)
        except typer.Abort:
            _fail("aborted", EXIT_INTERRUPTED)
        except (ReaderGone, BrokenPipeError):
            # The reader went away (``cnncli ... | head``): not an error worth a message.
            sys.stderr = open(os.devnull, "w")  # noqa: SIM115
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            if debug:
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} "
                f"(a bug in cnncli; for the traceback, rerun with --debug before the "
                f"command, cnncli --debug COMMAND ..., or with {DEBUG_ENV}=1)",
                EXIT_INTERNAL_ERROR,
            )
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


# How both apps are built: the whole one, and the single-command one of _app_for.
TYPER_SETTINGS: dict[str, Any] = {
    "cls": CnncliGroup,
    "name": "cnncli",
    "rich_markup_mode": "rich",
    "pretty_exceptions_enable": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}

app = typer.Typer(
    help="Image filters and exact PyTorch-parity CNN calculators, without PyTorch.",
    no_args_is_help=True,
    **TYPER_SETTINGS,
)


# What core calls the quantities it checks, and the flags the commands give them (core
# errors name the quantity; the CLI's name the flag to change).
FLAGS = Names(
    {
        "input size": "--lin",
        "kernel size": "--k",
        "stride": "--s",
        "padding": "--p",
        "dilation": "--d",
        "output padding": "--output-padding",
        "adaptive output size": "--adaptive",
        "pooling": "--pool",
        "transposed": "--transposed",
        "ceil_mode": "--ceil",
        "count_include_pad=False": "--no-count-include-pad",
        "normalize": "--normalize",
        "gamma": "--gamma",
    }
)


def examples(*commands: str) -> str:
    """Help epilog listing runnable examples, one per line."""
    return "[bold]Examples[/bold]\n\n" + "\n\n".join(f"  $ {c}" for c in commands) + "\n"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"cnncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help=f"Show tracebacks instead of one-line errors (or {DEBUG_ENV}=1)."
        ),
    ] = False,
) -> None:
    """Image filters and exact PyTorch-parity CNN calculators, without PyTorch."""


# Subcommands. Each lives in its own section below, in this order, so that work on
# one command never touches the lines of another.

# ---------------------------------------------------------------------- outsize ---

OUTSIZE_EXAMPLES = examples(
    "cnncli outsize --lin 224 --k 11 --s 4 --p 2",
    "cnncli outsize --lin 224,160 --k 3 --p same --explain",
    "cnncli outsize --lin 5 --k 2 --s 2 --pool --ceil --explain",
    "cnncli outsize --lin 16 --k 4 --s 2 --p 1 --transposed",
    "cnncli outsize --lin 10 --adaptive 4 --json",
    'cnncli outsize --lin 224 --chain "conv k11 s4 p2, pool k3 s2, conv k5 p2, pool k3 s2"',
)


@app.command(epilog=OUTSIZE_EXAMPLES)
def outsize(
    lin: Annotated[
        str, typer.Option("--lin", help="Input length; comma-separated for several dims: 224,160.")
    ],
    k: Annotated[
        str | None,
        typer.Option(
            "--k", "--kernel-size", "--kernel", help="Kernel size (one per dim, or one for all)."
        ),
    ] = None,
    s: Annotated[
        str | None,
        typer.Option(
            "--s",
            "--stride",
            help="Stride. Default: 1 for convolutions, the kernel size for --pool.",
        ),
    ] = None,
    p: Annotated[
        str,
        typer.Option(
            "--p", "--padding", help="Padding: an integer, or 'same' / 'valid' for convolutions."
        ),
    ] = "0",
    d: Annotated[str, typer.Option("--d", "--dilation", help="Dilation.")] = "1",
    pool: Annotated[
        bool, typer.Option("--pool", help="Pooling rules: stride defaults to k, padding <= k//2.")
    ] = False,
    ceil: Annotated[
        bool,
        typer.Option(
            "--ceil",
            "--ceil-mode",
            help="ceil_mode (pooling only); drops a window starting in the right padding.",
        ),
    ] = False,
    transposed: Annotated[
        bool,
        typer.Option("--transposed", help="ConvTranspose: out = (lin-1)s - 2p + d(k-1) + op + 1."),
    ] = False,
    output_padding: Annotated[
        str,
        typer.Option(
            "--output-padding", help="ConvTranspose output_padding (< stride or < dilation)."
        ),
    ] = "0",
    adaptive: Annotated[
        str | None,
        typer.Option(
            "--adaptive", help="Adaptive pooling to this size; --explain / --json show the windows."
        ),
    ] = None,
    chain: Annotated[
        str | None,
        typer.Option(
            "--chain",
            help='Layers in turn: "conv k11 s4 p2, pool k3 s2 ceil, tconv k2 s2, adaptive 6".',
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the formula, the numbers and the windows.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Output size of a conv / pool / transposed / adaptive layer, exactly as PyTorch computes it.

    Prints only the number (one per dimension, space-separated) so that
    $(cnncli outsize ...) works in shell scripts.
    """
    from cnncli.core import outsize as core
    from cnncli.render import render_outsize, render_outsize_chain

    if chain is not None:
        if k is not None or adaptive is not None or pool or transposed:
            raise UserError(
                "--chain describes every layer itself; drop --k/--pool/--transposed/--adaptive"
            )
        lins = parse_ints(lin, "--lin")
        specs = core.parse_chain(chain)
        render_outsize_chain(
            lins, specs, core.run_chain(lins, specs), explain=explain, as_json=json_output
        )
        return
    question = core.build_question(
        lin,
        k,
        s,
        p,
        d,
        pool=pool,
        ceil_mode=ceil,
        transposed=transposed,
        output_padding=output_padding,
        adaptive=adaptive,
        names=FLAGS,
    )
    render_outsize(question, core.answer(question), explain=explain, as_json=json_output)


# ----------------------------------------------------------------------- params ---


@app.command(
    epilog=examples(
        'cnncli params "Conv2d(3, 5, 3)"',
        'cnncli params "nn.Conv2d(in_channels=3, out_channels=64, kernel_size=11)" --explain',
        'cnncli params "LSTM(10, 20, num_layers=2, bidirectional=True)" --json',
        'cnncli params "Linear(9216, 4096)" "BatchNorm2d(64)" --total',
        "grep -o '[A-Z][A-Za-z0-9]*(.*)' model.txt | cnncli params -",
        "cnncli params model.safetensors --json",
    )
)
def params(
    layers: Annotated[
        list[str] | None,
        typer.Argument(
            help="Layer reprs or constructor calls, e.g. 'Conv2d(3, 5, 3)'; '-': lines of stdin.",
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show the closed-form count for conv and linear layers."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
    total: Annotated[
        bool, typer.Option("--total", help="Print only the total parameter count.")
    ] = False,
    list_layers: Annotated[
        bool, typer.Option("--list", help="List the layer names it knows, one per line.")
    ] = False,
) -> None:
    """Parameter tensors of PyTorch layers (weights, biases, buffers) and their total.

    Takes printed reprs or constructor calls, with or without nn. / torch.nn., or one
    model file (.safetensors, .pt/.pth/.bin/.ckpt from torch.save, .onnx) whose tensors
    are listed from its header or pickle without loading their data.
    Buffers (BatchNorm running statistics) are listed but not counted as parameters,
    as sum(p.numel() for p in layer.parameters()) does not count them.
    """
    from cnncli.modelfiles import model_file_kind

    if layers and len(layers) > 1 and any(model_file_kind(a) for a in layers):
        raise UserError("give one model file at a time, without layer texts")
    if layers and len(layers) == 1 and model_file_kind(layers[0]) is not None:
        if list_layers:
            raise UserError("--list takes no layers")
        if explain:
            raise UserError("--explain applies to layer texts, not to model files")
        _model_file_params(layers[0], json_output, total)
        return
    from cnncli.core.layers import parse_layer
    from cnncli.core.params import explain_params, layer_params
    from cnncli.render import render_params

    if list_layers:
        from cnncli.core.layers import known_layers
        from cnncli.render import print_result

        if layers:
            raise UserError("--list takes no layers")
        print_result("\n".join(known_layers()))
        return
    texts = read_layer_lines(layers or [])
    items = [layer_params(parse_layer(text)) for text in texts]
    explanations = [explain_params(item) if explain else None for item in items]
    render_params(items, explanations, as_json=json_output, total_only=total)


def _model_file_params(path: str, json_output: bool, total: bool, note: str | None = None) -> None:
    from cnncli.modelfiles import read_model
    from cnncli.render_modelfile import render_model_file

    render_model_file(path, read_model(path), as_json=json_output, total_only=total, note=note)


def read_layer_lines(arguments: list[str]) -> list[str]:
    """Arguments as given; ``-`` stands for the non-blank lines of stdin."""
    texts: list[str] = []
    for argument in arguments:
        if argument == "-":
            text = read_text("-", "layer text")
            texts += [line for line in text.splitlines() if line.strip()]
        else:
            texts.append(argument)
    if not texts:
        raise UserError("no layer given", hint="e.g. cnncli params 'Conv2d(3, 5, 3)'")
    return texts


# ---------------------------------------------------------------------- summary ---


@app.command(
    epilog=examples(
        "cnncli summary alexnet",
        "cnncli summary model.txt --input 3,224,224 --batch 8",
        "python train.py --print-model | cnncli summary - --input 1,28,28 --json",
        "cnncli summary resnet18 --depth 2 --markdown",
        "cnncli summary --list",
        "cnncli summary model.onnx --input 3,224,224",
        "cnncli summary model.txt --input 3,224,224 --weights model.pt",
    )
)
def summary(
    model: Annotated[
        str | None,
        typer.Argument(
            help="A file holding print(model) output, '-' for stdin, a built-in model name, "
            "or a model file (.onnx; .safetensors/.pt/.pth/.bin/.ckpt: parameters only).",
            show_default=False,
        ),
    ] = None,
    input_size: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="Input size per sample, channels first: 3,224,224 or 3x224x224 or "
            '"(3, 224, 224)" (default for built-ins).',
        ),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", help="Batch size.")] = 1,
    depth: Annotated[
        int | None, typer.Option("--depth", help="Fold modules deeper than this into their parent.")
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="For memory: float32, float16, bfloat16, float64, int8.")
    ] = "float32",
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
    csv_output: Annotated[
        bool, typer.Option("--csv", help="Print CSV, one row per layer call.")
    ] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    list_models: Annotated[bool, typer.Option("--list", help="List the built-in models.")] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit 2 when a shape or a parameter count cannot be known exactly."
        ),
    ] = False,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="A .safetensors/.pt file of the model: check every layer against it and "
            "count parameters from it (hidden ones too).",
        ),
    ] = None,
) -> None:
    """Layer-by-layer output shapes, parameters, MACs and receptive fields from print(model).

    Blocks of torchvision and timm (ResNet, DenseNet, Inception, MobileNet, EfficientNet,
    RegNet, ConvNeXt, ViT, Swin, ...) and sequence layers run as their forward does; other
    modules run their children in the printed order, with a warning. Where a shape cannot
    be followed, it shows as ? and every parameter is still counted. MACs count the
    multiply-accumulates of Conv, Linear and attention-projection weights only.
    Memory: parameters and buffers, and every layer's output of one forward pass.
    An .onnx file lists its nodes with ONNX shape inference (needs cnncli[onnx]); a
    checkpoint has no forward, so it shows its tensors (see docs/model-files.md).
    """
    from cnncli import zoo
    from cnncli.core.enums import OutputFormat
    from cnncli.core.summary import parse_model, summarize
    from cnncli.core.summary_display import display_rows
    from cnncli.render import output_format, render_summary, render_zoo

    if list_models:
        render_zoo(zoo.listing())
        return
    if model is None:
        raise UserError(
            "give a model file, '-' for stdin, or a built-in name", hint="cnncli summary --list"
        )
    fmt = output_format(json=json_output, csv=csv_output, markdown=markdown)
    if depth is not None and depth < 1:
        raise UserError(f"--depth must be at least 1, got {depth}")
    from cnncli.modelfiles import model_file_kind

    kind = model_file_kind(model)
    if kind is not None:
        if weights is not None:
            raise UserError("--weights goes with a printed model (the text of print(model))")
        if fmt not in (OutputFormat.TABLE, OutputFormat.JSON):
            raise UserError(
                f"--{fmt.value} is for printed models; a model file has table or --json"
            )
        _model_file_summary(model, kind, input_size, batch, json_output, strict)
        return
    source = zoo.load_source(model)
    tree = parse_model(source.text)
    joined = _join_weights(tree, weights) if weights is not None else None
    shape = source.input_shape(
        parse_shape(input_size, "--input") if input_size is not None else None
    )
    result = summarize(tree, shape, batch=batch, dtype=dtype)
    if joined is not None:
        from cnncli.core.weights import apply_weights

        result = apply_weights(result, joined)
    render_summary(result, display_rows(result, depth), fmt=fmt)
    if strict and not (result.shapes_known and result.params_exact):
        raise UserError(
            "--strict: some shapes or parameter counts are not known exactly (see the warnings)"
        )
    if strict and result.assumed:
        raise UserError(
            "--strict: some shapes or parameter counts rest on a constructor argument the "
            "repr does not print (see the notes)"
        )


def _join_weights(tree: "Module", path: str) -> "WeightsJoin":
    """The printed layers checked against a weights file, before any shape is propagated."""
    from cnncli.core.weights import join_weights
    from cnncli.modelfiles import model_file_kind, read_model

    if model_file_kind(path) not in ("torch", "safetensors"):
        raise UserError(
            f"--weights takes a .safetensors, .pt, .pth, .bin or .ckpt file, not {path}"
        )
    return join_weights(tree, read_model(path), path)


CHECKPOINT_NOTE = (
    "a checkpoint holds tensors, not the forward: this is its parameter view; for shapes, "
    "give the print(model) text with --weights FILE"
)


def _model_file_summary(
    path: str, kind: str, input_size: str | None, batch: int, json_output: bool, strict: bool
) -> None:
    """An ONNX graph's nodes, or a checkpoint's parameters (it has no forward to run)."""
    if kind != "onnx":
        if input_size:
            raise UserError(
                f"--input needs a forward; {path} holds only tensors", hint=CHECKPOINT_NOTE
            )
        _model_file_params(path, json_output, total=False, note=CHECKPOINT_NOTE)
        return
    from cnncli.modelfiles import summarize_onnx_file
    from cnncli.render_modelfile import render_onnx_summary

    shape = parse_ints(input_size, "--input") if input_size else None
    if shape is None and batch != 1:
        raise UserError("--batch goes with --input for an ONNX graph", hint="--input 3,224,224")
    result = summarize_onnx_file(path, shape, batch)
    render_onnx_summary(path, result, as_json=json_output)
    if strict and (result.macs is None or not result.shapes_known):
        raise UserError("--strict: some shapes or MACs are symbolic (give --input)")


# ---------------------------------------------------- smooth / gradient / sobel ---


def _interrupted(label: str, plan: Sequence[Any], batch: "BatchOptions") -> NoReturn:
    """Ctrl-C in a batch: one line with what is done and how to resume, then exit 130."""
    from cnncli.render import batch_interrupted

    # Counted after the executor has stopped: files being written when Ctrl-C came are
    # finished (atomically) by then, and are what --skip-existing will skip.
    done = sum(job.dest.exists() for job in plan)
    assert batch.out_dir is not None  # a batch, not one file
    # Its reader may be gone (`2>&1 | tee log`: the same Ctrl-C ended tee): then the
    # line is lost, and the batch still ends as stopped.
    with suppress(OSError):
        batch_interrupted(label, done, len(plan), batch.out_dir, batch.skip_existing)
    raise typer.Exit(EXIT_INTERRUPTED)


def _run_images(
    label: str,
    paths: list[str] | None,
    apply: "ImageFilter",
    run: ImageRun,
    *,
    luminance: bool = False,
) -> None:
    """One file (``IN OUT``), or with ``--out-dir`` every path as an input, in parallel.

    A batch gives each file a share of the threads, so a few large images still use
    every core and many small ones run side by side.
    """
    from cnncli.libc import keep_freed_memory
    from cnncli.pipeline import run_filter, single_job

    keep_freed_memory()
    paths = paths or []
    options = run.io_options()
    batch = run.batch_options()
    jobs = run.jobs
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    if batch.out_dir is None:
        batch.check_single()
        source, dest = single_job(paths, run.sample, label)
        warning = run_filter(source, dest, apply, options, luminance=luminance, threads=jobs)
        if warning:
            print_warning(warning)
        return

    from functools import partial

    from cnncli.batch import choose_execution, make_out_dir, plan_jobs, run_batch
    from cnncli.pipeline import batch_inputs, check_format_extension, format_name_template
    from cnncli.render import batch_progress, batch_summary

    plan = plan_jobs(
        batch_inputs(paths, run.sample, label, str(batch.out_dir)),
        batch.out_dir,
        template=format_name_template(batch.name, options.format),
        suffix=batch.suffix,
    )
    for job in plan:
        check_format_extension(job.dest, options.format)  # once, before any file is read
    execution = choose_execution(plan, batch.scheduler, jobs)
    plan = execution.jobs
    work = execution.wrap(
        partial(
            run_filter, apply=apply, options=options, luminance=luminance, threads=execution.threads
        )
    )
    started = time.perf_counter()
    try:
        with execution.executor as executor:  # reach a cluster before making anything
            make_out_dir(batch.out_dir)
            with batch_progress(len(plan), label, bar=not batch.quiet) as on_outcome:
                report = run_batch(
                    plan,
                    work,
                    executor,
                    skip_existing=batch.skip_existing,
                    on_outcome=on_outcome,
                    per_task=execution.per_task,
                )
    except KeyboardInterrupt:  # before run_batch took over (cluster start-up, say)
        _interrupted(label, plan, batch)
    if report.interrupted:
        _interrupted(label, plan, batch)
    # The whole command's time: with --scheduler, the cluster's start-up (or the
    # connection) and shut-down too, which run_batch's own clock does not see.
    report.seconds = time.perf_counter() - started
    if not batch.quiet:
        overhead = {None: "", "local": "cluster start-up included"}
        batch_summary(report, label, note=overhead.get(batch.scheduler, "connection included"))
    if report.failed:
        internal = any(outcome.internal for outcome in report.failures)
        raise typer.Exit(EXIT_INTERNAL_ERROR if internal else EXIT_USER_ERROR)


@app.command(
    epilog=examples(
        "cnncli smooth --sample --sigma 2 smooth.png",
        "cnncli smooth photo.jpg soft.jpg --sigma 3,1 --mode nearest",
        "cat a.png | cnncli smooth --sigma 2 - - | cnncli sobel - edges.png",
        "cnncli smooth photos/*.png --out-dir soft/ --sigma 2 --skip-existing",
    )
)
@bundle(ImageRun, into="run")
def smooth(
    paths: PathsArg = None,
    sigma: Annotated[
        str, typer.Option("--sigma", help="Standard deviation in pixels: one value, or y,x.")
    ] = "1",
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="Border handling, as scipy.ndimage: reflect, nearest, mirror, constant, wrap...",
        ),
    ] = "reflect",
    truncate: Annotated[
        float, typer.Option("--truncate", help="Kernel radius in sigmas (scipy's truncate).")
    ] = 4.0,
    *,
    run: ImageRun,
) -> None:
    """Gaussian smoothing (scipy.ndimage.gaussian_filter) of every channel, alpha included.

    The image keeps its mode (gray, gray+alpha, RGB, RGBA) and bit depth (16-bit colour is
    read as 8-bit, with a warning: Pillow keeps 16 bits for gray only).
    """
    from cnncli.pipeline import smoothing_filter

    apply = smoothing_filter(parse_floats(sigma, "--sigma"), mode=mode, truncate=truncate)
    _run_images("smooth", paths, apply, run)


def _run_edges(
    label: str, kernel: "EdgeKernel", paths: list[str] | None, edge: EdgeStyle, run: ImageRun
) -> None:
    """gradient and sobel: the same options and steps around a different core kernel."""
    from cnncli.core.tone import parse_tone
    from cnncli.pipeline import edge_filter_for

    tone = parse_tone("none" if edge.no_normalize else edge.normalize, edge.gamma, FLAGS)
    apply = edge_filter_for(kernel, output=edge.output, tone=tone, per_channel=edge.per_channel)
    _run_images(label, paths, apply, run, luminance=not edge.per_channel)


@app.command(
    epilog=examples(
        "cnncli gradient --sample gradient.png",
        "cnncli gradient photo.png gx.png --output x",
        "cnncli gradient scan.tif edges.tif --bits 16",
        "cnncli gradient photos/*.png --out-dir edges/ --suffix _grad",
    ),
)
@bundle(ImageRun, into="run")
@bundle(EdgeStyle, into="edge")
def gradient(paths: PathsArg = None, *, edge: EdgeStyle, run: ImageRun) -> None:
    """Gradient magnitude with the [-1, 0, 1] kernel, sqrt(h^2 + v^2) scaled to white.

    Colour input is converted to luminance (ITU-R 601-2, as Pillow's "L") unless --per-channel.
    """
    from cnncli.core.edges import CENTRAL_DIFFERENCE

    _run_edges("gradient", CENTRAL_DIFFERENCE, paths, edge, run)


@app.command(
    epilog=examples(
        "cnncli sobel --sample edges.png",
        "cnncli sobel in.png out.png",
        "cnncli sobel photo.jpg - --format png > edges.png",
        "cnncli sobel photo.png angle.png --output angle",
        "cnncli sobel photos/*.png --out-dir edges/",
    ),
)
@bundle(ImageRun, into="run")
@bundle(EdgeStyle, into="edge")
def sobel(paths: PathsArg = None, *, edge: EdgeStyle, run: ImageRun) -> None:
    """Sobel edge magnitude (scipy.ndimage.sobel on both axes), scaled to white.

    Colour input is converted to luminance (ITU-R 601-2, as Pillow's "L") unless --per-channel.
    """
    from cnncli.core.edges import SOBEL

    _run_edges("sobel", SOBEL, paths, edge, run)


# ------------------------------------------------------------------------- pool ---


@app.command(
    epilog=examples(
        'cnncli pool --values "1,2,3" --adaptive 8 --op avg',
        'cnncli pool --values "[[1, 2, 3, 4], [5, 6, 7, 8]]" --k 2 --explain',
        "cnncli pool --file matrix.csv --k 3 --s 2 --p 1 --ceil --op avg --json",
        "cnncli pool photo.png small.png --k 2 --op max",
        "cnncli pool --sample thumb.png --adaptive 64,64 --op avg",
        "cnncli pool photos/*.png --out-dir small/ --k 4 --op avg",
    )
)
@bundle(ImageRun, into="run")
def pool(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Image form: INPUT OUTPUT ('-' = stdin/stdout), or OUTPUT with --sample.",
            show_default=False,
        ),
    ] = None,
    values: Annotated[
        str | None,
        typer.Option("--values", help='Numbers: "1,2,3" (1-D) or "[[1,2],[3,4]]" (2-D).'),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", help="Numbers from a CSV / whitespace file, one row per line; '-' = stdin."
        ),
    ] = None,
    op: Annotated[PoolOp, typer.Option("--op", help="Each window's maximum or mean.")] = PoolOp.MAX,
    k: Annotated[
        str | None,
        typer.Option(
            "--k", "--kernel-size", "--kernel", help="Kernel size: 2, or 2,3 per dimension."
        ),
    ] = None,
    s: Annotated[
        str | None, typer.Option("--s", "--stride", help="Stride; default: the kernel size.")
    ] = None,
    p: Annotated[
        str, typer.Option("--p", "--padding", help="Padding (at most half the kernel).")
    ] = "0",
    d: Annotated[str, typer.Option("--d", "--dilation", help="Dilation (max pooling only).")] = "1",
    ceil: Annotated[bool, typer.Option("--ceil", "--ceil-mode", help="ceil_mode.")] = False,
    count_include_pad: Annotated[
        bool,
        typer.Option(
            "--count-include-pad/--no-count-include-pad",
            help="avg: divide by the padded window (PyTorch's default) or by the real elements.",
        ),
    ] = True,
    adaptive: Annotated[
        str | None, typer.Option("--adaptive", help="Adaptive pooling to this size: 8, or 64,64.")
    ] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show each output's window.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
    *,
    run: ImageRun,
) -> None:
    """Max / average / adaptive pooling with PyTorch's semantics, on numbers or on an image.

    With --values or --file the numbers are pooled and printed (one row per line);
    otherwise INPUT OUTPUT name image files and every channel is pooled (downsampled).
    """
    from cnncli.core.pool import PoolSpec

    spec = PoolSpec(
        op,
        parse_ints(k, "--k") if k else (),
        parse_ints(s, "--s") if s else None,
        parse_ints(p, "--p"),
        parse_ints(d, "--d"),
        ceil,
        count_include_pad,
        parse_ints(adaptive, "--adaptive") if adaptive else None,
        FLAGS,
    )
    if values is not None or file is not None:
        if paths or run.sample:
            raise UserError("give numbers (--values / --file) or image files, not both")
        _pool_numbers(spec, values, file, explain=explain, as_json=json_output)
    else:
        _pool_images(spec, paths, run, explain=explain, as_json=json_output)


def _pool_numbers(
    spec: "PoolSpec", values: str | None, file: str | None, *, explain: bool, as_json: bool
) -> None:
    """``--values`` or ``--file``: pool the numbers and print them."""
    from cnncli.core.pool import check_dims, ndim_of, parse_values, pool_values
    from cnncli.render import render_pool

    if values is not None and file is not None:
        raise UserError("give --values or --file, not both")
    if values is not None:
        data = parse_values(values, "--values")
    else:
        assert file is not None
        data = parse_values(read_text(file, "a text file of numbers"), display_name(file))
    check_dims(spec, ndim_of(data))
    render_pool(pool_values(data, spec), ndim_of(data) == 1, explain=explain, as_json=as_json)


def _pool_images(
    spec: "PoolSpec", paths: list[str] | None, run: ImageRun, *, explain: bool, as_json: bool
) -> None:
    """INPUT OUTPUT (or a batch): pool every channel of each image."""
    from cnncli.pipeline import pooling_filter

    if explain or as_json:
        raise UserError("--explain and --json apply to numbers (--values / --file), not images")
    _run_images("pool", paths, pooling_filter(spec, max_pixels=run.max_pixels), run)


# ------------------------------------------------------------------ entry point ---


def main() -> None:
    """Run the command in ``sys.argv``; ends in ``SystemExit``, as a Typer app does.

    Ctrl-C, SIGTERM and SIGHUP unwind it, so no temporary file stays behind
    (:mod:`cnncli.interrupts`)."""
    from cnncli.interrupts import unwinding_on_signals

    with unwinding_on_signals():
        _app_for(sys.argv[1:])()


def console_main() -> None:
    """The ``cnncli`` executable: :func:`main`, then the process ends at once
    (:func:`cnncli.files.end_process`), by the signal that stopped it if one did.
    ``python -m cnncli`` and callers of :func:`main` (profilers, debuggers, tests) keep
    Python's ordinary ending, and an exit status (130 for Ctrl-C)."""
    from cnncli.files import end_process

    try:
        main()
    except SystemExit as done:
        end_process(done.code)
    except KeyboardInterrupt:  # outside Typer's own handling (while it builds the command)
        end_process(EXIT_INTERRUPTED, stopped_by=signal.SIGINT)
    end_process(0)


def _app_for(args: Sequence[str]) -> typer.Typer:
    """The app with only the subcommand being run registered.

    Typer inspects every command's signature when it starts, which costs the
    calculators about a fifth of their start-up time; help, completion and
    unknown commands get the whole app.
    """
    commands = {(c.name or c.callback.__name__): c for c in app.registered_commands if c.callback}
    if not args or args[0] not in commands or any(k.endswith("_COMPLETE") for k in os.environ):
        return app
    single = typer.Typer(**TYPER_SETTINGS)
    single.registered_callback = app.registered_callback
    single.registered_commands = [commands[args[0]]]
    return single

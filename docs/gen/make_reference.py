"""Write docs/reference.md from the Typer app itself, so the page can never drift from --help.

Run by ``make docs``; the page is generated at build time and not committed.
Typer's own ``typer ... utils docs`` would paste the rich markup of our epilogs verbatim,
so this walks the same command objects and renders help, usage, options and examples as Markdown.
Typer 0.29 carries its own copy of click, so commands are handled by duck typing, never
``import click`` (which is not a dependency).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

PROG = "cnncli"
OUTPUT = Path(__file__).resolve().parents[1] / "reference.md"


def _plain(markup: str) -> str:
    """Rich console markup (``[bold]...[/bold]``) to plain text."""
    return Text.from_markup(markup).plain.strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _epilog(epilog: str) -> str:
    """The examples epilog (``$ cnncli ...`` lines) as a console block; other lines as text."""
    prose: list[str] = []
    commands: list[str] = []
    for line in _plain(epilog).splitlines():
        stripped = line.strip()
        if stripped.startswith("$ "):
            commands.append(stripped)
        elif stripped and stripped != "Examples":
            prose.append(stripped)
    parts = []
    if prose:
        parts.append("\n".join(prose))
    if commands:
        parts.append("**Examples**\n\n```console\n" + "\n".join(commands) + "\n```")
    return "\n\n".join(parts)


def _params_table(command: Any, ctx: Any) -> str:
    rows = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        if record is None:
            names = param.human_readable_name.upper()
            help_text = getattr(param, "help", None) or ""
            kind = "argument"
        else:
            names, help_text = record
            kind = "argument" if param.param_type_name == "argument" else "option"
        help_text = _plain(help_text)
        default = getattr(param, "default", None)
        shows_default = getattr(param, "show_default", True) is not False
        is_flag = getattr(param, "is_flag", False)
        if shows_default and default not in (None, False) and not is_flag:
            help_text += f" [default: {default}]"
        if param.required and "[required]" not in help_text:
            help_text += " [required]"
        rows.append(f"| `{_cell(names)}` | {kind} | {_cell(help_text.strip())} |")
    if not rows:
        return ""
    return "| Name | Kind | Meaning |\n| --- | --- | --- |\n" + "\n".join(rows)


def _section(command: Any, ctx: Any, path: str, level: int) -> list[str]:
    out = [f"{'#' * level} `{path}`", ""]
    if command.help:
        out += [_plain(command.help), ""]
    usage = " ".join(command.collect_usage_pieces(ctx))
    out += ["```text", f"{path} {usage}".rstrip(), "```", ""]
    table = _params_table(command, ctx)
    if table:
        out += [table, ""]
    if command.epilog:
        out += [_epilog(command.epilog), ""]
    for name in subcommand_names(command, ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            sub_ctx = sub.context_class(sub, info_name=name, parent=ctx, **sub.context_settings)
            out += _section(sub, sub_ctx, f"{path} {name}", level + 1)
    return out


def root_context(command: Any, prog: str = PROG) -> Any:
    return command.context_class(command, info_name=prog, **command.context_settings)


def subcommand_names(command: Any, ctx: Any) -> list[str]:
    """The subcommands of a group (none for a plain command)."""
    return list(command.list_commands(ctx)) if hasattr(command, "list_commands") else []


def render_reference(app: typer.Typer, prog: str = PROG) -> str:
    """The whole reference page for ``app`` as Markdown."""
    command = typer.main.get_command(app)
    ctx = root_context(command, prog)
    lines = [
        "# Command reference",
        "",
        "Generated from the app by `docs/gen/make_reference.py` on every `make docs`: "
        f"the same text as `{prog} --help` and `{prog} COMMAND --help`.",
        "",
    ]
    lines += _section(command, ctx, prog, 2)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    from cnncli.cli import app

    OUTPUT.write_text(render_reference(app), encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT}\n")


if __name__ == "__main__":
    main()

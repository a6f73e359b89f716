"""The generated command reference covers every command and option the app really has."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import click
import typer

from cnncli.cli import app

GENERATOR = Path(__file__).resolve().parents[1] / "docs" / "gen" / "make_reference.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands() -> list[tuple[str, click.Command]]:
    root = typer.main.get_command(app)
    found = [("cnncli", root)]
    if isinstance(root, click.Group):
        ctx = click.Context(root, info_name="cnncli")
        for name in root.list_commands(ctx):
            command = root.get_command(ctx, name)
            if command is not None and not command.hidden:
                found.append((f"cnncli {name}", command))
    return found


def test_every_command_and_option_is_in_the_reference() -> None:
    page = _generator().render_reference(app)
    for path, command in _commands():
        assert f"`{path}`" in page
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    assert opt in page, f"{opt} of {path} missing"


def test_help_examples_become_console_blocks() -> None:
    module = _generator()
    text = module._epilog("[bold]Examples[/bold]\n\n  $ cnncli outsize 224 -k 3\n")
    assert text == "**Examples**\n\n```console\n$ cnncli outsize 224 -k 3\n```"


def test_the_reference_is_not_checked_in_so_it_cannot_go_stale() -> None:
    ignored = (GENERATOR.parents[2] / ".gitignore").read_text().splitlines()
    assert "/docs/reference.md" in ignored

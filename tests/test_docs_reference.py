"""The generated command reference covers every command and option the app really has."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import typer

from cnncli.cli import app

GENERATOR = Path(__file__).resolve().parents[1] / "docs" / "gen" / "make_reference.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    ctx = root.make_context("cnncli", [], resilient_parsing=True)
    found: list[tuple[str, Any]] = [("cnncli", root)]
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        if not command.hidden:
            found.append((f"cnncli {name}", command))
    return found


def test_every_command_and_option_is_in_the_reference() -> None:
    page = _generator().render_reference(app)
    for path, command in _commands():
        assert f"`{path}`" in page
        for param in command.params:
            if param.param_type_name == "option" and not getattr(param, "hidden", False):
                for opt in param.opts:
                    assert opt in page, f"{opt} of {path} missing"


def test_every_subcommand_is_found() -> None:
    # Guards the walk above: a reference with only the root would pass the test before.
    names = {path for path, _ in _commands()}
    assert "cnncli outsize" in names


def test_help_examples_become_console_blocks() -> None:
    module = _generator()
    text = module._epilog("[bold]Examples[/bold]\n\n  $ cnncli outsize 224 -k 3\n")
    assert text == "**Examples**\n\n```console\n$ cnncli outsize 224 -k 3\n```"


def test_the_reference_is_not_checked_in_so_it_cannot_go_stale() -> None:
    ignored = (GENERATOR.parents[2] / ".gitignore").read_text().splitlines()
    assert "/docs/reference.md" in ignored

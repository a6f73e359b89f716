"""Help speaks the user's words: no project-internal names, one meaning per option name."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from PIL import Image

from cnncli.cli import app

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.list_commands(None))  # type: ignore[attr-defined]


def _visible_options(name: str) -> set[str]:
    command = GROUP.get_command(None, name)  # type: ignore[attr-defined]
    return {
        opt for param in command.params if not getattr(param, "hidden", False) for opt in param.opts
    }


@pytest.mark.parametrize("args", [["--help"], *([c, "--help"] for c in COMMANDS)], ids=str)
def test_help_has_no_internal_words(run_cli, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.exit_code == 0
    assert "seed" not in result.stdout.lower()


def test_builtin_model_descriptions_have_no_internal_words(run_cli) -> None:
    assert "seed" not in run_cli("summary", "--list").stdout.lower()


def test_depth_means_only_the_summary_tree_depth() -> None:
    with_depth = [name for name in COMMANDS if "--depth" in _visible_options(name)]
    assert with_depth == ["summary"]
    for name in ("smooth", "gradient", "sobel", "pool"):
        assert "--bits" in _visible_options(name)


def test_old_depth_still_sets_the_bits_of_image_commands(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "e.png"
    assert run_cli("sobel", "--sample", str(out), "--depth", "16").exit_code == 0
    with Image.open(out) as image:
        assert image.mode == "I;16"


def test_bits_and_old_depth_must_agree(run_cli, tmp_path: Path) -> None:
    result = run_cli("sobel", "--sample", str(tmp_path / "e.png"), "--bits", "16", "--depth", "8")
    assert result.exit_code == 2
    assert result.stderr == "error: --bits 16 and --depth 8 disagree; give only --bits\n"
